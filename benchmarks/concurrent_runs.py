"""Wall time of many generation runs at once against a provider that takes 1 s to answer.

    python benchmarks/concurrent_runs.py                  # 200 runs, 1.0 s latency
    python benchmarks/concurrent_runs.py --runs 500 --latency 0.5

One process: a PersonaService (max_concurrent_runs = runs) starts every run with provider
"openai", pointed by OPENAI_BASE_URL at the loopback fake OpenAI-compatible server from
tests/fakes, which holds each request for ``--latency`` seconds. The clock covers starting
every run through to every run having succeeded, personas stored. Runs that overlap fully
take about one latency; the ratio wall time / latency says how close they come (target
<= 1.5). For comparison it also times the same number of generations through the provider
directly, without the service. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
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


async def through_service(data_dir: Path, runs: int) -> tuple[float, dict[str, int]]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=data_dir, max_concurrent_runs=runs, provider_max_retries=0
    )
    async with PersonaService(settings) as service:
        experiment = await service.create_experiment(
            ExperimentCreate(name="bench", data_sources=["interviews.csv"], config=CONFIG)
        )
        start = time.perf_counter()
        started = await asyncio.gather(*(service.start_run(experiment.id) for _ in range(runs)))
        finished = await asyncio.gather(
            *(service.wait_for_run(experiment.id, s.run.id, timeout=600) for s in started)
        )
        elapsed = time.perf_counter() - start
        personas = (await service.get_experiment(experiment.id)).persona_count
    statuses: dict[str, int] = {}
    for run in finished:
        statuses[run.status] = statuses.get(run.status, 0) + 1
    statuses["personas stored"] = personas
    return elapsed, statuses


async def through_provider(data_dir: Path, runs: int, base_url: str) -> float:
    evidence = load_evidence(["interviews.csv"], data_dir=data_dir)
    provider = OpenAIProvider(Settings(_env_file=None), api_key=None, base_url=base_url)  # type: ignore[call-arg]
    start = time.perf_counter()
    results = await asyncio.gather(*(provider.generate(evidence, CONFIG) for _ in range(runs)))
    elapsed = time.perf_counter() - start
    await provider.aclose()
    assert all(len(r.personas) == CONFIG.persona_count for r in results)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="persona-bench-"))
    shutil.copy(EXAMPLE, data_dir / "interviews.csv")
    try:
        with FakeOpenAIServer(latency=args.latency) as server:
            os.environ["OPENAI_BASE_URL"] = server.base_url
            os.environ.pop("OPENAI_API_KEY", None)  # a loopback server needs no key
            elapsed, statuses = asyncio.run(through_service(data_dir, args.runs))
            service_requests = len(server.chat_requests)
            direct = asyncio.run(through_provider(data_dir, args.runs, server.base_url))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"{args.runs} concurrent runs, provider latency {args.latency:.2f} s, one process")
    print(
        f"  through PersonaService: wall {elapsed:.2f} s, ratio to latency "
        f"{elapsed / args.latency:.2f} (target <= 1.5); {statuses}; "
        f"{service_requests} provider requests"
    )
    print(
        f"  through the provider directly: wall {direct:.2f} s, ratio to latency "
        f"{direct / args.latency:.2f}"
    )


if __name__ == "__main__":
    main()
