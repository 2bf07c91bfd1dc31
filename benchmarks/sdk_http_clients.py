"""Wall and CPU time of many chat requests at once: Persona's provider HTTP layer against the
official openai SDK's client.

    hatch run hatch-test.py3.11:python benchmarks/sdk_http_clients.py
    hatch run hatch-test.py3.11:python benchmarks/sdk_http_clients.py --requests 500 --rounds 7

The openai SDK is a test dependency (hatch.toml), so this runs in the test environment. Both
clients send the same small Chat Completions request ``--requests`` times at once to the
loopback fake OpenAI server from tests/fakes. The server runs in a child process and holds each
request for ``--latency`` seconds. ``JsonApi`` (httpx over aiohttp's pool, as every Persona
provider uses) and ``openai.AsyncOpenAI`` (httpx2 with its own pool, parsing each reply into
its pydantic models) take turns, the order swapped every round, after one warm-up burst each.
Printed per client: the median wall time, its ratio to the latency, and this process's CPU time
per request. Figures are printed, never asserted.

Figures behind docs/decisions/llm-providers.md (200 requests, 1.0 s latency, 5 rounds, 2 shared
cores at load average 2.9): ``JsonApi`` had a wall median of 1.105 s (ratio 1.11) at 0.30 ms
of CPU per request. ``AsyncOpenAI`` 3.63 had 1.603 s (ratio 1.60) at 1.98 ms per request, 6.6
times the CPU. The SDKs take only an httpx2 client for ``http_client``, so they cannot share
the providers' aiohttp pool.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for benchmarks.concurrent_runs and tests.fakes

import openai  # noqa: E402
from persona.providers._http import JsonApi, RetryPolicy  # noqa: E402

from benchmarks.concurrent_runs import FakeServerProcess  # noqa: E402

MODEL = "gpt-5.4-mini"
MESSAGES = [{"role": "system", "content": "Reply in JSON."}, {"role": "user", "content": "Hi"}]


async def burst(send: Callable[[], Awaitable[object]], count: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``count`` sends at once."""
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(send() for _ in range(count)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def measure(
    base_url: str, requests: int, rounds: int
) -> dict[str, list[tuple[float, float]]]:
    api = JsonApi("openai", f"{base_url}/v1", timeout=120, retry=RetryPolicy(max_retries=0))
    client = openai.AsyncOpenAI(api_key="unused", base_url=f"{base_url}/v1", max_retries=0)
    body = {"model": MODEL, "messages": MESSAGES}
    clients: dict[str, Callable[[], Awaitable[object]]] = {
        "persona JsonApi": lambda: api.post("/chat/completions", body),
        "openai.AsyncOpenAI": lambda: client.chat.completions.create(
            model=MODEL,
            messages=MESSAGES,  # type: ignore[arg-type]
        ),
    }
    try:
        for send in clients.values():
            await burst(send, requests)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        for round_number in range(rounds):
            order = list(clients) if round_number % 2 == 0 else list(reversed(clients))
            for name in order:
                results[name].append(await burst(clients[name], requests))
        return results
    finally:
        await api.aclose()
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = FakeServerProcess(args.latency)
    try:
        results = asyncio.run(measure(server.base_url, args.requests, args.rounds))
    finally:
        server.close()
    print(f"{args.requests} requests at once, latency {args.latency:.2f} s, {args.rounds} rounds")
    for name, measured in results.items():
        walls = [wall for wall, _ in measured]
        cpu = statistics.median(cpu for _, cpu in measured)
        wall = statistics.median(walls)
        print(
            f"  {name}: wall median {wall:.3f} s, ratio {wall / args.latency:.2f} "
            f"({' '.join(f'{w:.2f}' for w in walls)}); "
            f"CPU {1000 * cpu / args.requests:.2f} ms per request"
        )


if __name__ == "__main__":
    main()
