"""GET /experiments/{id}: Persona's server vs a bare FastAPI route serving the same JSON.

Both run as one uvicorn worker on 127.0.0.1, measured by the same load generator in the
same run: wrk when it is installed (`apt-get install wrk`), else an httpx async generator.
The two are measured in turns (``--rounds``, the order swapped every round) and the ratio of
each round is printed, then their median: on a shared machine one long measurement of each
would compare two different moments.
Prints requests/s, p50 and p99 for each, the throughput ratio (target >= 0.6) and Persona's
p99/p50 (target <= 3). The database does not change while it runs, so Persona answers the
experiment from its response cache, right after routing and the token check
(``persona.api.cache.CachedReadRoute``), as it does for clients polling an experiment between
commits; after any commit (by any process) the next read goes through the endpoint again. A
third line, GET /providers on the Persona server, goes through the same middleware, routing
and auth to a route that builds and serialises its body on every request: about what an
uncached read costs. Measures only; asserts nothing.

Why the cache stays (wrk, 64 connections, 3 rounds of 5 s, load average 0.7-1.0 on 2 shared
cores, 2026-12-04): answered by the cached route, 11,300 requests/s, ratio 0.80; the same
route with the cache bypassed, 5,800 requests/s, ratio 0.41, under the target; answered
before routing by a middleware of its own (the earlier design, auth checked a second time
there), 20,300 requests/s, ratio 1.41. The route meets the target with the token checked in
one place; the middleware's extra speed was not worth a second way in. Each ratio was
measured side by side with bare FastAPI in one run; the three runs followed each other.

Figures behind the server's settings, at 64 connections on one uvicorn worker: freezing the
start-up heap (``persona.api.main.freeze_startup_heap``) halved Persona's p99; under uvloop
the p99 was 10-20x the p50 (some connections waited hundreds of ms while the loop kept serving
others), under the standard asyncio loop near 2x at about the same throughput, hence
``persona.api.launch.EVENT_LOOP = "asyncio"``.

    python benchmarks/api_throughput.py [--duration 5] [--rounds 3] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

NOTES = "\n\n".join(
    f"P{i}: I compare prices before I buy and hate surprise shipping fees at checkout."
    for i in range(1, 13)
)
START_TIMEOUT = 60.0


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up in {START_TIMEOUT}s")


def start(argv: list[str], health_url: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    wait_until_up(health_url, process)
    return process


def serve_bare(port: int, body_file: Path) -> None:
    """The baseline: a FastAPI route that returns the experiment's JSON bytes from memory."""
    import uvicorn
    from fastapi import FastAPI, Response

    body = body_file.read_bytes()
    app = FastAPI()

    @app.get("/experiments/{experiment_id}")
    async def get_experiment(experiment_id: str) -> Response:
        return Response(body, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# ------------------------------------------------------------------------ load generators


WRK_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _wrk_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if match is None:
        raise ValueError(f"unexpected wrk latency {value!r}")
    return float(match.group(1)) * WRK_UNITS_MS[match.group(2)]


def run_wrk(name: str, url: str, duration: int, connections: int) -> Result:
    threads = str(min(2, os.cpu_count() or 1))
    subprocess.run(["wrk", "-t", threads, "-c", str(connections), "-d", "2s", url],
                   check=True, capture_output=True)  # fmt: skip
    out = subprocess.run(
        ["wrk", "-t", threads, "-c", str(connections), "-d", f"{duration}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        p99 = _wrk_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    except (AttributeError, ValueError) as exc:
        raise SystemExit(f"could not read wrk's output ({exc}):\n{out}") from exc
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        print(f"  {name}: socket errors: {socket_errors.group(1)}")
    return Result(name, rps, p50, p99, int(errors.group(1)) if errors else 0)


async def _httpx_load(
    url: str, duration: float, connections: int, headers: dict[str, str] | None = None
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def worker(deadline: float) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - began)
                errors += response.status_code != 200

        warmup = time.perf_counter() + 2
        await asyncio.gather(*(worker(warmup) for _ in range(connections)))
        latencies.clear()
        errors = 0
        deadline = time.perf_counter() + duration
        await asyncio.gather(*(worker(deadline) for _ in range(connections)))
    return latencies, errors


def run_httpx(
    name: str, url: str, duration: int, connections: int, headers: dict[str, str] | None = None
) -> Result:
    latencies, errors = asyncio.run(_httpx_load(url, duration, connections, headers))
    cuts = statistics.quantiles(latencies, n=100)
    return Result(name, len(latencies) / duration, cuts[49] * 1000, cuts[98] * 1000, errors)


# ------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=int, default=5, help="Seconds measured per server and round."
    )
    parser.add_argument("--rounds", type=int, default=3, help="Turns of both servers.")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--generator", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument(
        "--serve-bare", nargs=2, metavar=("PORT", "BODY_FILE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), Path(args.serve_bare[1]))
        return

    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "httpx"
    load = run_wrk if generator == "wrk" else run_httpx

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        persona_port, bare_port = free_port(), free_port()
        persona = start(
            [sys.executable, "-m", "persona.cli", "serve", "--host", "127.0.0.1",
             "--port", str(persona_port), "--data-dir", str(root), "--log-level", "warning"],
            f"http://127.0.0.1:{persona_port}/health",
            root,
        )  # fmt: skip
        bare = None
        try:
            base = f"http://127.0.0.1:{persona_port}"
            created = httpx.post(
                f"{base}/experiments",
                json={
                    "name": "Benchmark",
                    "data_sources": [{"name": "notes.md", "content": NOTES}],
                },
            ).json()
            body = httpx.get(f"{base}/experiments/{created['id']}").content
            (root / "body.json").write_bytes(body)
            bare = start(
                [sys.executable, __file__, "--serve-bare", str(bare_port), str(root / "body.json")],
                f"http://127.0.0.1:{bare_port}/experiments/x",
                root,
            )
            path = f"/experiments/{created['id']}"
            bare_url, persona_url = f"http://127.0.0.1:{bare_port}{path}", f"{base}{path}"
            assert json.loads(httpx.get(bare_url).content) == json.loads(body)
            print(f"GET {path}: {len(body)} bytes, {args.connections} connections, "
                  f"{args.rounds} rounds of {args.duration}s each, generator {generator}, "
                  f"1 uvicorn worker, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
            rounds = []
            for turn in range(args.rounds):
                pair = [("bare FastAPI", bare_url), ("Persona", persona_url)]
                measured = {
                    name: load(name, url, args.duration, args.connections)
                    for name, url in (pair if turn % 2 == 0 else reversed(pair))
                }
                rounds.append((measured["bare FastAPI"], measured["Persona"]))
            # Same middleware and auth, a body built and serialised on every request.
            uncached = load("(/providers)", f"{base}/providers", args.duration, args.connections)
        finally:
            for process in (persona, bare):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)
    report(rounds, uncached)


def report(rounds: list[tuple[Result, Result]], uncached: Result) -> None:
    print(f"{'round':<7}{'server':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
          f"{'ratio':>8}")  # fmt: skip
    ratios, tails = [], []
    for turn, (bare, persona) in enumerate(rounds, start=1):
        ratio = persona.requests_per_second / bare.requests_per_second
        ratios.append(ratio)
        tails.append(persona.p99_ms / persona.p50_ms)
        for r, shown in ((bare, ""), (persona, f"{ratio:.2f}")):
            print(f"{turn:<7}{r.name:<14}{r.requests_per_second:>10.0f}{r.p50_ms:>10.2f}"
                  f"{r.p99_ms:>10.2f}{r.errors:>8}{shown:>8}")  # fmt: skip
    r = uncached
    print(f"{'':<7}{r.name:<14}{r.requests_per_second:>10.0f}{r.p50_ms:>10.2f}"
          f"{r.p99_ms:>10.2f}{r.errors:>8}")  # fmt: skip
    print(f"throughput ratio Persona/bare, median of {len(ratios)} rounds: "
          f"{statistics.median(ratios):.2f} (target >= 0.6)")  # fmt: skip
    print(
        f"Persona p99/p50, median of {len(tails)} rounds: {statistics.median(tails):.2f} "
        "(target <= 3)"
    )


if __name__ == "__main__":
    main()
