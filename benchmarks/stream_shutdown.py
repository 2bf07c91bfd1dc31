"""Stopping `persona serve` with event streams open: how long the process takes to exit after
SIGTERM, next to the same stop with no stream open.

    python benchmarks/stream_shutdown.py                 # 0, 50 and 300 open streams
    python benchmarks/stream_shutdown.py --streams 0 50 --repeat 5

Each round starts `persona serve` (SQLite, a token, a run held `running` by a loopback
provider that never answers), opens ``--streams`` SSE streams of that run and waits until
every one has its first bytes, then sends SIGTERM and times the exit. It also counts the
streams that ended cleanly (the chunked body complete, ending with the server's closing
comment) and the server's ERROR lines (target: a stop with 50 streams open takes no longer
than 3 s and than a stop with none, all streams end cleanly, no ERROR).

Figures are printed, never asserted. Measured on a 2-core machine shared with other work
(load 4.6 to 6.1), 3 rounds each:

| open streams | exit after SIGTERM (median, max) | streams ended cleanly | ERROR lines |
|---|---|---|---|
| 0 | 0.29 s, 0.32 s | - | 0 |
| 50 | 0.22 s, 0.23 s | 50 of 50 | 0 |
| 300 | 0.68 s, 1.19 s | 300 of 300 | 0 |

A stop with 50 streams open takes as long as one with none (target: at most 3 s). For
comparison, the same 50 streams on ``uvicorn persona.api:app`` with uvicorn's own HTTP
protocol, which does not end streams at a stop: exit after 10.3 s (the whole graceful-shutdown
period), 0 of 50 streams ended cleanly (each was cut), 51 ERROR lines.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.servers

from tests.servers import (  # noqa: E402
    StalledProvider,
    clean_env,
    make_data_dir,
    running_server,
)

TOKEN = "benchmark-token-0123456789"
CLOSING = ": server stopping: reconnect with Last-Event-ID\nretry: 2000\n\n"
RUN_BODY = {"name": "shutdown", "data_sources": ["small.csv"], "config": {"provider": "openai"}}


async def follow(http: httpx.AsyncClient, url: str, opened: asyncio.Queue[None]) -> bool:
    """Read one stream to its end: whether it ended cleanly with the closing comment."""
    try:
        async with http.stream("GET", url, headers={"Accept": "text/event-stream"}) as answer:
            text = ""
            async for chunk in answer.aiter_text():
                if not text:
                    opened.put_nowait(None)
                text += chunk
            return text.endswith(CLOSING)
    except httpx.HTTPError:
        return False


async def stop_with_streams(url: str, streams: int, stop: asyncio.Future[float]) -> int:
    opened: asyncio.Queue[None] = asyncio.Queue()
    limits = httpx.Limits(max_connections=streams + 10)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    timeout = httpx.Timeout(30, read=120)
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=timeout) as http:
        tasks = [asyncio.create_task(follow(http, url, opened)) for _ in range(streams)]
        for _ in range(streams):
            await opened.get()
        if not stop.done():
            stop.set_result(time.monotonic())
        return sum(await asyncio.gather(*tasks))


def one_round(streams: int) -> tuple[float, int, int]:
    """(seconds from SIGTERM to exit, streams ended cleanly, ERROR lines)."""
    provider = StalledProvider()
    try:
        with tempfile.TemporaryDirectory() as root:
            data_dir = make_data_dir(Path(root))
            env = clean_env(OPENAI_BASE_URL=provider.url)
            with running_server(
                data_dir, env, "--auth-token", TOKEN, "--log-level", "info"
            ) as server:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api:
                    experiment = api.post("/experiments", json=RUN_BODY).json()
                    generate = f"/experiments/{experiment['id']}/generate"
                    location = api.post(generate).headers["location"]
                if not provider.called.wait(60):
                    raise SystemExit("the run never called the provider")

                async def scenario() -> tuple[float, int]:
                    stop: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                    if streams == 0:
                        stop.set_result(time.monotonic())
                    reading = asyncio.create_task(
                        stop_with_streams(f"{server.base_url}{location}/events", streams, stop)
                    )
                    await stop
                    started = time.monotonic()
                    server.process.send_signal(signal.SIGTERM)
                    await asyncio.to_thread(server.process.wait, 60)
                    return time.monotonic() - started, await reading

                seconds, clean = asyncio.run(scenario())
                errors = sum("ERROR" in line for line in server.output().splitlines())
    finally:
        provider.close()
    return seconds, clean, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[0, 50, 300])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| open streams | exit (median, max) | streams ended cleanly | ERROR lines |")
    print("|---|---|---|---|")
    for streams in args.streams:
        rounds = [one_round(streams) for _ in range(args.repeat)]
        exits = [seconds for seconds, _, _ in rounds]
        clean = min(count for _, count, _ in rounds)
        errors = max(count for _, _, count in rounds)
        ended = f"{clean} of {streams}" if streams else "-"
        print(
            f"| {streams} | {statistics.median(exits):.2f} s, {max(exits):.2f} s "
            f"| {ended} | {errors} |"
        )


if __name__ == "__main__":
    main()
