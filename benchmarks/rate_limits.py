"""What a key costs a request: GET /experiments/{id} with the bootstrap token, with a key
whose requests are not limited, and with a key whose requests are, side by side.

Two `persona serve` processes, each on its own SQLite file (or both on ``--database-url``,
PostgreSQL): one counts each key's requests (a limit too high to trip), the other has
PERSONA_RATE_LIMIT_REQUESTS=0. The three cases are measured in turns
(``--rounds``, their order rotating every round) by one httpx load generator, and the median
of each is printed. The bootstrap token is checked in memory; a key costs a lookup of its
row (every request: a revocation holds at once, on every replica); a limited key also an
UPSERT of its window's counter, group-committed with the other writes. Measures only;
asserts nothing.

Figures (httpx generator, 16 connections, 3 rounds of 4 s, 2 cores shared with other work,
load average 2-2.5, 2026-12-07; requests/s, p50):

                 bootstrap token     key, unlimited      key, limited
    SQLite       655, 13.8 ms        486, 20.2 ms        510, 19.4 ms
    PostgreSQL   547, 19.6 ms        372, 39.9 ms        381, 42.6 ms

A limited request costs no more than an unlimited one: each process reserves a fiftieth of a
limit at a time (``persona.access.limits.CounterLeases``). Counting with one write per
request instead gave 0.56-0.66 of the bootstrap token's rate on SQLite (load average 5).
What a key costs is the read of its row on every request (0.7-0.75 of the token's rate): the
price of a revocation holding at once on every replica, which a cache would delay.

    python benchmarks/rate_limits.py [--duration 5] [--rounds 3] [--connections 16]
        [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from api_throughput import Result, free_port, run_httpx, wait_until_up

BOOTSTRAP = "benchmark-bootstrap-token"
NEVER_TRIPS = "1000000000"


def start(
    data_dir: Path, database_url: str | None, limit: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_")}
    env |= {"PERSONA_API_TOKEN": BOOTSTRAP, "PERSONA_RATE_LIMIT_REQUESTS": limit}
    if database_url:
        env["PERSONA_DATABASE_URL"] = database_url
    argv = [sys.executable, "-m", "persona.cli", "serve", "--host", "127.0.0.1",
            "--port", str(port), "--data-dir", str(data_dir), "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(argv, cwd=data_dir, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base}/health", process)
    return process, base


def measure(url: str, token: str, duration: int, connections: int) -> Result:
    headers = {"Authorization": f"Bearer {token}"}
    return run_httpx(token[:4], url, duration, connections, headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="Seconds per case and round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="Default: SQLite in a temp dir.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        limited_dir, unlimited_dir = Path(tmp, "limited"), Path(tmp, "unlimited")
        limited_dir.mkdir()
        unlimited_dir.mkdir()
        limited, limited_url = start(limited_dir, args.database_url, NEVER_TRIPS)
        unlimited, unlimited_url = start(unlimited_dir, args.database_url, "0")
        try:
            path, limited_key = prepare(limited_url)
            unlimited_path, unlimited_key = prepare(unlimited_url)
            cases = {
                "bootstrap token": (f"{limited_url}{path}", BOOTSTRAP),
                "key, unlimited": (f"{unlimited_url}{unlimited_path}", unlimited_key),
                "key, limited": (f"{limited_url}{path}", limited_key),
            }
            results: dict[str, list[Result]] = {name: [] for name in cases}
            print(f"GET /experiments/{{id}}, {args.connections} connections, {args.rounds} "
                  f"rounds of {args.duration}s, database {args.database_url or 'SQLite'}, "
                  f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
            names = list(cases)
            for turn in range(args.rounds):
                for name in names[turn % 3 :] + names[: turn % 3]:
                    url, token = cases[name]
                    results[name].append(measure(url, token, args.duration, args.connections))
        finally:
            for process in (limited, unlimited):
                process.terminate()
                process.wait(timeout=30)
    report(results)


def prepare(base: str) -> tuple[str, str]:
    """An experiment to read and a read key, on the server at ``base``."""
    admin = {"Authorization": f"Bearer {BOOTSTRAP}"}
    body = {"name": "Benchmark", "data_sources": [{"name": "n.md", "content": "P1: hello."}]}
    created = httpx.post(f"{base}/experiments", headers=admin, json=body).json()
    key = httpx.post(f"{base}/keys", headers=admin, json={"name": "bench", "scope": "read"})
    return f"/experiments/{created['id']}", key.json()["secret"]


def report(results: dict[str, list[Result]]) -> None:
    print(f"{'case':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    base = statistics.median(r.requests_per_second for r in results["bootstrap token"])
    for name, rounds in results.items():
        rps = statistics.median(r.requests_per_second for r in rounds)
        p50 = statistics.median(r.p50_ms for r in rounds)
        p99 = statistics.median(r.p99_ms for r in rounds)
        errors = sum(r.errors for r in rounds)
        print(f"{name:<18}{rps:>10.0f}{p50:>10.2f}{p99:>10.2f}{errors:>8}   "
              f"{rps / base:.2f} of the bootstrap token's rate")  # fmt: skip


if __name__ == "__main__":
    main()
