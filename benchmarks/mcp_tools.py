"""What a tool call costs through the MCP server, next to the REST API for the same read.

    python benchmarks/mcp_tools.py                  # 300 calls per surface
    python benchmarks/mcp_tools.py --calls 1000

Starts `persona serve` (one worker, a token) and `persona mcp` (stdio, its own data
directory), both over a copy of examples/, with the SDK's own client for MCP and httpx for
REST. On each it creates an experiment from the example interviews, starts a run and waits
for it with wait_for_run (counting progress notifications), then times ``get_run`` calls one
after another: over stdio, over Streamable HTTP (/mcp: stateless, each call one POST), and
as ``GET /experiments/{id}/runs/{id}`` on the same server. Figures are printed, never
asserted.

Measured on the development machine (2 cores shared with other engineers' test runs, load
average about 6; 300 calls; SQLite):

    stdio: run ended 3.36 s after start_run, 6 progress notifications
    get_run over stdio           median   2.46 ms   p95   6.59 ms
    http:  run ended 2.10 s after start_run, 6 progress notifications
    get_run over /mcp            median   3.87 ms   p95   8.57 ms
    GET run (REST)               median   1.78 ms   p95   5.20 ms

A call to /mcp costs about 2 ms more than the REST read: the server keeps no session, so
each POST sets up a server session and answers as an event stream (what lets any worker
process take it, and wait_for_run stream its progress). An earlier run, on a busier
machine, measured 15.2 ms (p95 23.6) against 2.1 ms for REST: the extra work is CPU that
waits longest when the cores are taken. Next to a model's turn either is small.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
from _processes import ROOT, child_process, free_port, healthy, wait_for
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

TOKEN = "benchmark-token"
CONFIG = {"provider": "local", "persona_count": 3, "seed": 7}


async def walk_to_a_run(client: Client) -> tuple[dict[str, str], float, int]:
    """A run of the example interviews: its ids, seconds from start to end, notifications."""
    created = await client.call_tool(
        "create_experiment",
        {"name": "Benchmark", "data_sources": ["interviews.csv"], "config": CONFIG},
    )
    experiment_id = created.structured_content["id"]  # type: ignore[index]
    started = time.perf_counter()
    run = await client.call_tool(
        "start_run", {"experiment_id": experiment_id, "idempotency_key": "benchmark"}
    )
    ids = {"experiment_id": experiment_id, "run_id": run.structured_content["id"]}  # type: ignore[index]
    notified = 0

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        nonlocal notified
        notified += 1

    waited = await client.call_tool("wait_for_run", ids, progress_callback=on_progress)
    assert waited.structured_content["status"] == "succeeded", waited  # type: ignore[index]
    return ids, time.perf_counter() - started, notified


async def timed(call: Callable[[], Awaitable[Any]], calls: int) -> list[float]:
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return seconds


def report(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"{name:<28} median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms")


async def over_stdio(data_dir: Path, calls: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    command = StdioServerParameters(
        command=sys.executable,
        args=["-m", "persona.cli", "mcp", "--data-dir", str(data_dir)],
        env=env,
    )
    async with Client(command) as client:
        ids, ran, notified = await walk_to_a_run(client)
        print(f"stdio: run ended {ran:.2f} s after start_run, {notified} progress notifications")
        report("get_run over stdio", await timed(lambda: client.call_tool("get_run", ids), calls))


async def over_http(base_url: str, calls: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"{base_url}/mcp", http_client=http)) as client,
        httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as rest,
    ):
        ids, ran, notified = await walk_to_a_run(client)
        print(f"http:  run ended {ran:.2f} s after start_run, {notified} progress notifications")
        path = f"/experiments/{ids['experiment_id']}/runs/{ids['run_id']}"
        report("get_run over /mcp", await timed(lambda: client.call_tool("get_run", ids), calls))
        report("GET run (REST)", await timed(lambda: rest.get(path), calls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory(prefix="persona-mcp-bench-") as scratch:
        stdio_dir, http_dir = Path(scratch) / "stdio", Path(scratch) / "http"
        for folder in (stdio_dir, http_dir):
            shutil.copytree(ROOT / "examples", folder)
        asyncio.run(over_stdio(stdio_dir, calls))
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
        argv = [
            sys.executable, "-m", "persona.cli", "serve", "--port", str(port),
            "--data-dir", str(http_dir), "--auth-token", TOKEN, "--log-level", "warning",
        ]  # fmt: skip
        with child_process(argv, env, Path(scratch) / "serve.log") as server:
            wait_for(lambda: healthy(base_url), "healthy", [server])
            asyncio.run(over_http(base_url, calls))


if __name__ == "__main__":
    main()
