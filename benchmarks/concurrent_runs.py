"""Wall time of many generation runs at once against a provider that takes 1 s to answer.

    python benchmarks/concurrent_runs.py                  # 200 runs, 1.0 s latency
    python benchmarks/concurrent_runs.py --runs 500 --latency 0.5

One process: a PersonaService (max_concurrent_runs = runs) starts every run with provider
"openai", pointed by OPENAI_BASE_URL at the loopback fake OpenAI-compatible server from
tests/fakes, which holds each request for ``--latency`` seconds. The clock covers starting
every run through to every run having succeeded, personas stored. Runs that overlap fully
take about one latency; the ratio wall time / latency says how close they come (target
<= 1.5). For comparison it also times the same number of generations through the provider
directly, without the service. Beside the wall time it prints the process CPU time and when
the requests reached the provider, which splits the wall time into the work before the
requests (starting runs, loading sources, writing prompts), the latency, and the work after
(parsing, grounding, storing). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes

from persona.providers.openai import OpenAIProvider  # noqa: E402
from persona.schemas import ExperimentCreate, GenerationConfig  # noqa: E402
from persona.service import PersonaService  # noqa: E402
from persona.settings import Settings  # noqa: E402
from persona.sources import load_evidence  # noqa: E402

from tests.fakes import FakeOpenAIServer  # noqa: E402

EXAMPLE = ROOT / "examples" / "interviews.csv"
CONFIG = GenerationConfig(provider="openai", persona_count=3)


@dataclass
class Measured:
    wall: float
    cpu: float
    """CPU seconds of the whole process (both event loops), less sensitive to other load."""
    first_request: float
    last_request: float
    """Seconds from the start until the first and the last request reached the provider."""
    outcome: dict[str, int]


async def through_service(data_dir: Path, runs: int) -> tuple[float, float, float, dict[str, int]]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, max_concurrent_runs=runs, provider_max_retries=0
    )
    async with PersonaService(settings) as service:
        experiment = await service.create_experiment(
            ExperimentCreate(name="bench", data_sources=["interviews.csv"], config=CONFIG)
        )
        cpu, start = time.process_time(), time.perf_counter()
        started = await asyncio.gather(*(service.start_run(experiment.id) for _ in range(runs)))
        finished = await asyncio.gather(
            *(service.wait_for_run(experiment.id, s.run.id, timeout=600) for s in started)
        )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        personas = (await service.get_experiment(experiment.id)).persona_count
    outcome: dict[str, int] = {}
    for run in finished:
        outcome[run.status] = outcome.get(run.status, 0) + 1
    outcome["personas stored"] = personas
    return start, elapsed, cpu, outcome


async def through_provider(
    data_dir: Path, runs: int, base_url: str
) -> tuple[float, float, float, dict[str, int]]:
    evidence = load_evidence(["interviews.csv"], data_dir=data_dir)
    provider = OpenAIProvider(Settings(_env_file=None), api_key=None, base_url=base_url)  # type: ignore[call-arg]
    cpu, start = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(provider.generate(evidence, CONFIG) for _ in range(runs)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await provider.aclose()
    personas = sum(len(r.personas) for r in results)
    return start, elapsed, cpu, {"succeeded": len(results), "personas": personas}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="persona-bench-"))
    shutil.copy(EXAMPLE, data_dir / "interviews.csv")
    results: dict[str, Measured] = {}
    try:
        with FakeOpenAIServer(latency=args.latency) as server:
            os.environ["OPENAI_BASE_URL"] = server.base_url
            os.environ.pop("OPENAI_API_KEY", None)  # a loopback server needs no key
            for label, job in (
                ("through PersonaService", lambda: through_service(data_dir, args.runs)),
                (
                    "through the provider directly",
                    lambda: through_provider(data_dir, args.runs, server.base_url),
                ),
            ):
                seen = len(server.requests)
                start, wall, cpu, outcome = asyncio.run(job())
                arrivals = [r.received_at - start for r in server.requests[seen:]]
                results[label] = Measured(wall, cpu, min(arrivals), max(arrivals), outcome)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"{args.runs} runs at once, provider latency {args.latency:.2f} s, one process")
    for label, m in results.items():
        print(
            f"  {label}: wall {m.wall:.2f} s, ratio to latency {m.wall / args.latency:.2f} "
            f"(target <= 1.5); process CPU {m.cpu:.2f} s; requests reached the provider "
            f"{m.first_request:.2f}-{m.last_request:.2f} s after the start; {m.outcome}"
        )


if __name__ == "__main__":
    main()
