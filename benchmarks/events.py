"""Run events over Server-Sent Events: how soon a run's end reaches its stream, and what
idle streams cost the server.

    python benchmarks/events.py                     # 200 runs, 1,000 idle streams
    python benchmarks/events.py --runs 50 --idle 200 --window 10
    python benchmarks/events.py --postgresql        # delivery on PostgreSQL too

Two `persona serve` processes on SQLite (the embedded default), each on its own data
directory, and the loopback fake OpenAI-compatible server from tests/fakes in child
processes:

- **Delivery**: ``--runs`` runs started at once (``PERSONA_MAX_CONCURRENT_RUNS`` as many, a
  provider answering after ``--latency`` s), each watched by its own SSE stream opened right
  after the start. For every run, the delay from its terminal event's ``created_at`` (set in
  the transaction that ends the run, just before its commit) to the moment the stream
  received that event (target p99 ≤ 100 ms). Every stream must receive exactly one terminal
  event.
- With ``--postgresql``, the delivery again on a throw-away PostgreSQL cluster (as the
  tests start one), the runs executed by a separate `persona worker` process.
- **Idle streams**: ``--idle`` runs that cannot finish (one slot, held by a provider that
  never answers within the window; the others queued), each watched by one SSE stream. The
  server's CPU (user + system, /proc) over ``--window`` s with the streams open, next to the
  same window before they were opened (target: no more than 5 % of one core).

Figures are printed, never asserted. Measured on a 2-core machine with nothing else running
(load 0.4), defaults (200 runs, 1.0 s provider, 1,000 idle streams, 20 s windows):

| | figure | target |
|---|---|---|
| terminal commit -> stream, p50 / p99 / max | 18.2 / 32.8 / 33.4 ms | p99 <= 100 ms |
| terminal events per stream | exactly 1 (200 of 200 succeeded) | |
| server CPU, 1,000 idle streams | 1.0 % of one core (0.7 % without them) | <= 5 % |

A second run with ``--postgresql`` (load 0.6): SQLite p50 / p99 18.8 / 36.3 ms; PostgreSQL,
runs executed by a `persona worker` process and the stream served by the API process (the
events reach it by NOTIFY), 9.8 / 20.8 ms; 1,000 idle streams 1.7 % of one core (0.8 %
without them).

The streams' reads are batched: streams opening together read their runs' state and backlog
in one transaction, and the hub reads new events for every watched run at once, so a burst
of opens costs a few reads rather than one thread hop each. With httpx's own connection pool
in the driver, opening 200 streams at once took 3-4 s on the client's side (the server
answered all of them within 0.12 s to a raw socket client); the driver uses aiohttp's pool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import httpx
from httpx_aiohttp import HttpxAiohttpClient
from httpx_sse import aconnect_sse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._processes import (
    ROOT,
    child_process,
    cpu_seconds,
    free_port,
    healthy,
    serve_fake,
    wait_for,
)
from tests.databases import PostgresCluster

EXAMPLE = ROOT / "examples" / "interviews.csv"
TERMINAL = {"run.succeeded", "run.failed", "run.cancelled"}
BODY = {
    "name": "events",
    "data_sources": ["interviews.csv"],
    "config": {"provider": "openai", "persona_count": 2},
}
STREAM_TIMEOUT = httpx.Timeout(120.0, read=None)


@contextmanager
def fake_provider(latency: float) -> Iterator[str]:
    """The fake provider in a child process; yields its base URL."""
    fake = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None and fake.stdin is not None
    try:
        yield fake.stdout.readline().strip()
    finally:
        fake.stdin.close()
        fake.wait(30)


@contextmanager
def server(
    folder: Path, fake_url: str, slots: int, database_url: str | None = None
) -> Iterator[tuple[str, int]]:
    """`persona serve` on a fresh data directory (SQLite, or ``database_url`` with a
    `persona worker` executing the runs); yields the API's URL and process id."""
    data_dir = folder / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "interviews.csv").write_bytes(EXAMPLE.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONA_", "OPENAI_"))}
    env |= {
        "OPENAI_BASE_URL": fake_url,
        "OPENAI_API_KEY": "sk-bench",
        "PERSONA_MAX_CONCURRENT_RUNS": str(slots),
    }
    if database_url is not None:
        env["PERSONA_DATABASE_URL"] = database_url
    port = free_port()
    cli = [sys.executable, "-m", "persona.cli"]
    argv = [*cli, "serve", "--port", str(port), "--data-dir", str(data_dir)]
    argv += ["--log-level", "warning"]
    with ExitStack() as stack:
        process = stack.enter_context(child_process(argv, env, folder / "server.log"))
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: healthy(url), "healthy", [process])
        if database_url is not None:
            worker = [*cli, "worker", "--concurrency", str(slots), "--data-dir", str(data_dir)]
            log = folder / "worker.log"
            stack.enter_context(child_process(worker, env, log))
            ready = "persona worker executing up to"
            wait_for(lambda: ready in log.read_text(errors="replace"), "worker ready", [process])
        yield url, process.pid


def _driver(url: str) -> httpx.AsyncClient:
    """httpx over aiohttp's connection pool (as Persona's providers use it): httpx's own
    pool took seconds to open a few hundred streams at once, which would be measured here as
    the server's delay. A limit of 0 is none for aiohttp."""
    return HttpxAiohttpClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=0))


async def _start_runs(client: httpx.AsyncClient, runs: int) -> tuple[str, list[str]]:
    experiment = (await client.post("/experiments", json=BODY)).json()["id"]
    started = await asyncio.gather(
        *(client.post(f"/experiments/{experiment}/generate") for _ in range(runs))
    )
    return experiment, [response.json()["id"] for response in started]


async def _watch(
    client: httpx.AsyncClient, experiment: str, run_id: str, opened: asyncio.Event | None = None
) -> list[tuple[dict[str, object], float]]:
    """The run's events with the wall-clock time each was received."""
    received: list[tuple[dict[str, object], float]] = []
    url = f"/experiments/{experiment}/runs/{run_id}/events"
    async with aconnect_sse(client, "GET", url, timeout=STREAM_TIMEOUT) as source:
        if opened is not None:
            opened.set()
        async for sse in source.aiter_sse():
            if sse.data:
                event = json.loads(sse.data)
                received.append((event, time.time()))
                if event["type"] in TERMINAL:
                    break
    return received


def _ms(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1] * 1000


async def delivery(url: str, runs: int) -> list[str]:
    async with _driver(url) as client:
        experiment, run_ids = await _start_runs(client, runs)
        streams = await asyncio.gather(*(_watch(client, experiment, r) for r in run_ids))
    delays, terminal_counts = [], []
    for events in streams:
        terminal = [(e, at) for e, at in events if e["type"] in TERMINAL]
        terminal_counts.append(len(terminal))
        event, at = terminal[-1]
        created = datetime.fromisoformat(str(event["created_at"])).timestamp()
        delays.append(at - created)
    succeeded = sum(events[-1][0]["type"] == "run.succeeded" for events in streams)
    return [
        f"delivery: {runs} runs at once, each watched by one SSE stream",
        f"    terminal events received: {sum(terminal_counts)} (exactly one per stream: "
        f"{all(count == 1 for count in terminal_counts)}), succeeded: {succeeded}",
        f"    terminal commit -> stream: p50 {_ms(delays, 50):.1f} ms, p99 {_ms(delays, 99):.1f}"
        f" ms, max {max(delays) * 1000:.1f} ms (target p99 <= 100 ms)",
    ]


async def idle_cost(url: str, pid: int, streams: int, window: float) -> list[str]:
    async with _driver(url) as client:
        experiment, run_ids = await _start_runs(client, streams)
        await asyncio.sleep(2)  # the start's writes settle
        before = cpu_seconds([pid])
        await asyncio.sleep(window)
        baseline = cpu_seconds([pid]) - before
        opened = [asyncio.Event() for _ in run_ids]
        watching = [
            asyncio.create_task(_watch(client, experiment, run_id, event))
            for run_id, event in zip(run_ids, opened, strict=True)
        ]
        await asyncio.gather(*(event.wait() for event in opened))
        await asyncio.sleep(2)  # backlogs sent
        before = cpu_seconds([pid])
        await asyncio.sleep(window)
        with_streams = cpu_seconds([pid]) - before
        for task in watching:
            task.cancel()
        await asyncio.gather(*watching, return_exceptions=True)
    return [
        f"idle streams: {streams} open on unfinished runs, server CPU over {window:.0f} s",
        f"    without streams: {baseline:.2f} s ({baseline / window * 100:.1f} % of one core)",
        f"    with streams:    {with_streams:.2f} s ({with_streams / window * 100:.1f} % of one "
        "core; target <= 5 %)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="Also measure delivery on PostgreSQL, runs executed by a separate worker.",
    )
    parser.add_argument("--serve-fake", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        serve_fake(args.serve_fake)
        return
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="events-")))
        fast = stack.enter_context(fake_provider(args.latency))
        never = stack.enter_context(fake_provider(3600.0))
        with server(folder / "delivery", fast, slots=args.runs) as (url, _pid):
            for line in asyncio.run(delivery(url, args.runs)):
                print(line, flush=True)
        if args.postgresql:
            cluster = stack.enter_context(PostgresCluster.started())
            database = cluster.empty_database()
            with server(folder / "pg", fast, slots=args.runs, database_url=database) as (url, _):
                print("on PostgreSQL (API and worker processes, NOTIFY):", flush=True)
                for line in asyncio.run(delivery(url, args.runs)):
                    print(line, flush=True)
        with server(folder / "idle", never, slots=1) as (url, pid):
            for line in asyncio.run(idle_cost(url, pid, args.idle, args.window)):
                print(line, flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
