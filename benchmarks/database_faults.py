"""How fast the scale-out topology is back after a PostgreSQL restart.

One API (``persona serve``) and one worker (``persona worker --concurrency 10``) on a
throw-away PostgreSQL cluster, a loopback provider answering after 0.2 s. Each round starts
10 runs, restarts the cluster (``pg_ctl restart -m fast``) while they are in flight, and then
measures, from the moment the cluster accepts connections again:

- **first enqueue**: the first ``POST /experiments/{id}/generate`` sent then, until its 202
  (the API's job queue pool connects anew: the target is at most 500 ms);
- **first read**: the first ``GET`` of a run (the engine's pool, checked before use);
- **all done**: until every run of the round has succeeded (the worker's job loop started
  again, the in-flight runs' writes retried).

Usage: ``python benchmarks/database_faults.py [--rounds 5]``. Prints min / median / max.

Measured on this 2-core machine, under the load of a test run beside it (5 rounds): first
enqueue 109 / 136 / 168 ms, first read 11 / 19 / 43 ms, all done 0.46 / 1.23 / 2.33 s. With
the job queue pool as procrastinate sets it up (a check before every use), the first
enqueue took 1.06 / 1.16 / 1.28 s: a connection failing that check makes the pool wait a
second before it takes the next one.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes and tests.databases

from benchmarks._processes import child_process, free_port, healthy, wait_for  # noqa: E402
from tests.databases import PostgresCluster  # noqa: E402
from tests.fakes import FakeOpenAIServer  # noqa: E402

RUNS_PER_ROUND = 10
WORKER_READY = "persona worker executing up to"
BODY = {
    "name": "Database faults benchmark",
    "data_sources": ["interviews.csv"],
    "config": {"provider": "openai", "persona_count": 2},
}


def _until_answered(call: object) -> float:
    """Seconds until ``call()`` answers other than 503 (or a refused connection)."""
    started = time.monotonic()
    while True:
        try:
            response = call()  # type: ignore[operator]
            if response.status_code != 503:
                response.raise_for_status()
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.005)


def _round(cluster: PostgresCluster, api: httpx.Client, experiment: str) -> tuple[float, ...]:
    runs = [api.post(f"/experiments/{experiment}/generate").headers["location"]]
    runs += [
        api.post(f"/experiments/{experiment}/generate").headers["location"]
        for _ in range(RUNS_PER_ROUND - 1)
    ]
    cluster.restart()
    back = time.monotonic()
    enqueue = _until_answered(lambda: api.post(f"/experiments/{experiment}/generate"))
    read = _until_answered(lambda: api.get(runs[0]))
    while any(api.get(run).json()["status"] != "succeeded" for run in runs):
        time.sleep(0.05)
    return enqueue, read, time.monotonic() - back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    folder = Path(tempfile.mkdtemp(prefix="persona-faults-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        cluster = stack.enter_context(PostgresCluster.own())
        url = cluster.empty_database()
        provider = stack.enter_context(FakeOpenAIServer(latency=0.2))
        shutil.copy(ROOT / "examples" / "interviews.csv", folder / "interviews.csv")
        env = {
            "PATH": "/usr/bin:/bin",
            "PERSONA_DATABASE_URL": url,
            "OPENAI_BASE_URL": provider.base_url,
            "OPENAI_API_KEY": "benchmark",
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        cli = [sys.executable, "-m", "persona.cli"]
        server = stack.enter_context(
            child_process(
                [*cli, "serve", "--port", str(port), "--data-dir", str(folder)],
                env,
                folder / "api.log",
            )
        )
        worker = stack.enter_context(
            child_process(
                [*cli, "worker", "--concurrency", "10", "--data-dir", str(folder)],
                env,
                folder / "worker.log",
            )
        )
        wait_for(lambda: healthy(base), "healthy", [server])
        wait_for(lambda: WORKER_READY in (folder / "worker.log").read_text(), "ready", [worker])
        api = stack.enter_context(httpx.Client(base_url=base, timeout=60))
        experiment = api.post("/experiments", json=BODY).json()["id"]
        figures = [_round(cluster, api, experiment) for _ in range(rounds)]
        if server.poll() is not None or worker.poll() is not None:
            raise SystemExit("a process exited: " + subprocess.list2cmdline(cli))
    for name, values in zip(
        ("first enqueue", "first read", "all done"), zip(*figures, strict=True), strict=True
    ):
        ms = sorted(value * 1000 for value in values)
        print(
            f"{name:>14}: min {ms[0]:8.0f} ms  median {statistics.median(ms):8.0f} ms  "
            f"max {ms[-1]:8.0f} ms"
        )


if __name__ == "__main__":
    main()
