"""Wall time of many generation runs at once against a provider that takes 1 s to answer.

    python benchmarks/concurrent_runs.py                  # 200 runs, 1.0 s latency, 3 rounds
    python benchmarks/concurrent_runs.py --runs 500 --latency 0.5 --rounds 5
    python benchmarks/concurrent_runs.py --no-freeze      # as a script using the SDK runs

One process: a PersonaService (max_concurrent_runs = runs) starts every run with provider
"openai", pointed by OPENAI_BASE_URL at the loopback fake OpenAI-compatible server from
tests/fakes, which holds each request for ``--latency`` seconds. The fake server runs in a
child process (``--fake-in-process`` puts it back in this one): sharing this process's GIL,
the fake's own work of answering 200 requests would be counted as Persona's. The clock
covers starting every run through to every run having succeeded, personas stored. Runs that
overlap fully take about one latency; the ratio wall time / latency says how close they come
(target <= 1.5). For comparison it also times the same number of generations through the
provider directly, without the service.

One service and one provider live through the whole measurement, as in a server. They are
warmed up first, as a server is by the time a burst of runs arrives: a few runs through each
path fill SQLAlchemy's statement cache and the source cache, build the TLS context and open
the database. Then the heap is collected and frozen, as ``persona serve`` does once started
(``freeze_startup_heap``), so that full collections during a burst do not rescan every
module's objects; ``--no-freeze`` measures a process that does not, such as a script. Then
the two paths are measured in turns (``--rounds``, the order swapped every round) and the
median of each is printed: on a shared machine one measurement of each would compare two
different moments. Beside the wall time each round prints the process CPU time and when the
requests reached the provider, which splits the wall time into the work before the requests
(starting runs, loading sources, writing prompts), the latency, and the work after (parsing,
grounding, storing). Figures are printed, never asserted.

Figures behind the runner's settings: with 200 runs starting at once, a group commit of 8
to 16 writes (``persona.storage.write_queue.MAX_WRITES_PER_COMMIT``) gave the shortest wall
time; 4 cost more CPU, 32 and more held the requests back. With hundreds of requests in
flight, httpcore's connection pool cost over a millisecond of CPU per request, several times
aiohttp's, hence the providers' aiohttp transport (``persona.providers._http``). Reading each
run's experiment on the event loop with plain sqlite3, instead of in a worker thread, saved
about 0.05 of the ratio (medians 1.23-1.26 with it, 1.30-1.31 without, side by side at load
0.3): the target does not need it, so the service reads it in a thread like everything else.
Storing run events with every transition costs 0.01-0.04 (1.29-1.36 without, 1.33-1.37 with).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes

from persona.api.main import freeze_startup_heap  # noqa: E402
from persona.providers.openai import OpenAIProvider  # noqa: E402
from persona.schemas import ExperimentCreate, GenerationConfig  # noqa: E402
from persona.service import PersonaService  # noqa: E402
from persona.settings import Settings  # noqa: E402
from persona.sources import load_evidence  # noqa: E402

from tests.fakes import FakeOpenAIServer  # noqa: E402

EXAMPLE = ROOT / "examples" / "interviews.csv"
CONFIG = GenerationConfig(provider="openai", persona_count=3)
WARM_UP_RUNS = 10
SERVICE = "through PersonaService"
DIRECT = "through the provider directly"


@dataclass
class Measured:
    wall: float
    cpu: float
    """CPU seconds of this process (and of the fake server too when it runs in-process)."""
    first_request: float
    last_request: float
    """Seconds from the start until the first and the last request reached the provider."""
    outcome: dict[str, int]


Outcome = tuple[float, float, float, dict[str, int]]
"""When the clock started, the wall and CPU seconds, and what the runs gave."""


async def through_service(service: PersonaService, runs: int) -> Outcome:
    experiment = await service.create_experiment(
        ExperimentCreate(name="bench", data_sources=["interviews.csv"], config=CONFIG)
    )
    cpu, start = time.process_time(), time.perf_counter()
    started = await asyncio.gather(*(service.start_run(experiment.id) for _ in range(runs)))
    finished = await asyncio.gather(
        *(service.wait_for_run(experiment.id, s.run.id, timeout=600) for s in started)
    )
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    outcome: dict[str, int] = {}
    for run in finished:
        outcome[run.status] = outcome.get(run.status, 0) + 1
    outcome["personas stored"] = (await service.get_experiment(experiment.id)).personas_stored
    return start, elapsed, cpu, outcome


async def through_provider(provider: OpenAIProvider, data_dir: Path, runs: int) -> Outcome:
    evidence = load_evidence(["interviews.csv"], data_dir=data_dir)
    cpu, start = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(provider.generate(evidence, CONFIG) for _ in range(runs)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    personas = sum(len(r.personas) for r in results)
    return start, elapsed, cpu, {"succeeded": len(results), "personas": personas}


async def measure_all(
    args: argparse.Namespace, server: FakeServerProcess | InProcessFake, data_dir: Path
) -> dict[str, list[Measured]]:
    """Both paths in turns, in one process that lives through them all, as a server does."""
    settings = Settings(
        _env_file=None, data_dir=data_dir, max_concurrent_runs=args.runs, provider_max_retries=0
    )
    provider = OpenAIProvider(settings, api_key=None, base_url=server.base_url)
    async with PersonaService(settings) as service:
        jobs: dict[str, Callable[[int], Awaitable[Outcome]]] = {
            SERVICE: lambda runs: through_service(service, runs),
            DIRECT: lambda runs: through_provider(provider, data_dir, runs),
        }
        for job in jobs.values():
            await job(WARM_UP_RUNS)
        if not args.no_freeze:
            freeze_startup_heap()
        results: dict[str, list[Measured]] = {label: [] for label in jobs}
        for turn in range(args.rounds):
            for label in sorted(jobs, reverse=bool(turn % 2)):
                results[label].append(await measure(server, jobs[label], args.runs))
    await provider.aclose()
    return results


async def measure(
    server: FakeServerProcess | InProcessFake,
    job: Callable[[int], Awaitable[Outcome]],
    runs: int,
) -> Measured:
    seen = len(server.arrivals())
    start, wall, cpu, outcome = await job(runs)
    arrivals = [t - start for t in server.arrivals()[seen:]]
    return Measured(wall, cpu, min(arrivals), max(arrivals), outcome)


class FakeServerProcess:
    """The fake server in a child process; arrival times come back through its stdout.

    ``time.perf_counter`` is the system-wide monotonic clock on Linux and macOS, so the
    child's arrival times compare with this process's start times.
    """

    def __init__(self, latency: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-fake", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin, self._stdout = self.process.stdin, self.process.stdout
        self.base_url = self._stdout.readline().strip()
        if not self.base_url:
            raise SystemExit("the fake server did not start")

    def arrivals(self) -> list[float]:
        """When each request so far reached the server (``time.perf_counter()``)."""
        self._stdin.write("arrivals\n")
        self._stdin.flush()
        return [float(t) for t in json.loads(self._stdout.readline())]

    def close(self) -> None:
        self._stdin.close()
        self.process.wait(timeout=30)


def serve_fake(latency: float) -> None:
    """Child process: serve until stdin closes, answering each "arrivals" line."""
    with FakeOpenAIServer(latency=latency) as server:
        print(server.base_url, flush=True)
        for _ in sys.stdin:
            print(json.dumps([r.received_at for r in server.requests]), flush=True)


class InProcessFake:
    def __init__(self, latency: float) -> None:
        self.server = FakeOpenAIServer(latency=latency).start()
        self.base_url = self.server.base_url

    def arrivals(self) -> list[float]:
        return [r.received_at for r in self.server.requests]

    def close(self) -> None:
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3, help="Turns of both paths.")
    parser.add_argument(
        "--fake-in-process", action="store_true", help="Run the fake server in this process."
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="Leave the heap unfrozen, as a script using the SDK does.",
    )
    parser.add_argument("--serve-fake", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        serve_fake(args.serve_fake)
        return

    data_dir = Path(tempfile.mkdtemp(prefix="persona-bench-"))
    shutil.copy(EXAMPLE, data_dir / "interviews.csv")
    fake = InProcessFake if args.fake_in_process else FakeServerProcess
    server = fake(args.latency)
    try:
        os.environ["OPENAI_BASE_URL"] = server.base_url
        os.environ.pop("OPENAI_API_KEY", None)  # a loopback server needs no key
        results = asyncio.run(measure_all(args, server, data_dir))
    finally:
        server.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    report(args, results)


def report(args: argparse.Namespace, results: dict[str, list[Measured]]) -> None:
    where = "in this process" if args.fake_in_process else "in a child process"
    print(
        f"{args.runs} runs at once, provider latency {args.latency:.2f} s, one process "
        f"(fake server {where}), {args.rounds} rounds after {WARM_UP_RUNS} warm-up runs, "
        f"heap {'not frozen' if args.no_freeze else 'frozen'}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    for label, rounds in results.items():
        print(f"  {label}:")
        for turn, m in enumerate(rounds, start=1):
            print(
                f"    round {turn}: wall {m.wall:.2f} s, ratio {m.wall / args.latency:.2f}; "
                f"process CPU {m.cpu:.2f} s; requests reached the provider "
                f"{m.first_request:.2f}-{m.last_request:.2f} s after the start; {m.outcome}"
            )
        wall = statistics.median(m.wall for m in rounds)
        print(
            f"    median wall {wall:.2f} s, ratio to latency {wall / args.latency:.2f} "
            "(target <= 1.5)"
        )


if __name__ == "__main__":
    main()
