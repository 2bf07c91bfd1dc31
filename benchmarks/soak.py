"""Soak: a mixed workload against one `persona serve` for a minute, and what it left behind.

    python benchmarks/soak.py                       # 60 s, 16 workers, after a 20 s warm-up
    python benchmarks/soak.py --seconds 300 --workers 32

The server is a real `persona serve` subprocess on 127.0.0.1 (SQLite in a temporary data
directory holding the example interviews, `local` provider, bearer token on). Each of
``--workers`` httpx.AsyncClient workers loops over a weighted mix: create experiments (a file
source or an inline one), list and paginate experiments, get experiments, runs and personas,
start a generation and poll it to the end, delete an experiment now and then, and send bad
requests whose 4xx answers are expected and counted apart. A worker reads and deletes only the
experiments it created, so every other 4xx, every 5xx and every connection error is an error.

Prints throughput (requests/s), p50 and p99 latency overall and per operation, errors (target
0) and the server's resident memory (VmRSS) after the warm-up and at the end, with its growth
(target <= 10%), and every few seconds from the start. The warm-up covers the one-off costs of
a fresh server: the first generation alone loads the local provider's libraries (about 90 MiB),
and the worker threads' allocator arenas fill over the first runs. Measures only; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
INTERVIEWS = ROOT / "examples" / "interviews.csv"
TOKEN = "soak-token-0123456789"
START_TIMEOUT = 60.0
RUN_TIMEOUT = 60.0
POLL_INTERVAL = 0.25
REQUEST_TIMEOUT = 30.0
RSS_SAMPLE_SECONDS = 5.0
INLINE_ROWS = 25
"""Lines of the example interviews sent inline, header included: a few participants."""


# ------------------------------------------------------------------------------ figures


@dataclass
class Tally:
    """Every request's latency by operation, expected 4xx answers and errors by kind."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    expected_4xx: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    recording: bool = True

    def record(self, operation: str, seconds: float) -> None:
        if self.recording:
            self.latencies[operation].append(seconds)

    def error(self, what: str) -> None:
        if self.recording:
            self.errors[what] += 1

    def expected(self, what: str) -> None:
        if self.recording:
            self.expected_4xx[what] += 1

    def reset(self) -> None:
        self.latencies.clear()
        self.expected_4xx.clear()
        self.errors.clear()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# ------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    data_dir: Path,
    log: Path,
    extra_env: dict[str, str] | None = None,
    *,
    log_level: str = "warning",
) -> tuple[subprocess.Popen[bytes], str]:
    """`persona serve` on a free loopback port, once /health answers 200."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PERSONA_") and not key.endswith(("_API_KEY", "_BASE_URL"))
    }
    env.update(extra_env or {})
    argv = [
        sys.executable, "-m", "persona.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(data_dir), "--auth-token", TOKEN, "--log-level", log_level,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server not healthy after {START_TIMEOUT}s:\n{log.read_text()}")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from /proc/<pid>/task/<tid>/children."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return tree


def rss_kib(pid: int) -> int:
    """Resident memory (VmRSS) of the server process and any children it started, in KiB."""
    total = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


# ----------------------------------------------------------------------------- workload


class Worker:
    """One concurrent client looping over the mix; owns the experiments it creates."""

    def __init__(
        self, client: httpx.AsyncClient, tally: Tally, rng: random.Random, inline_csv: str
    ) -> None:
        self.client = client
        self.inline_csv = inline_csv
        self.tally = tally
        self.rng = rng
        self.experiments: list[str] = []
        self.runs: list[tuple[str, str]] = []
        self.personas: list[tuple[str, str]] = []

    async def call(
        self, operation: str, method: str, url: str, ok: set[int], **kwargs: Any
    ) -> httpx.Response | None:
        """One timed request; an answer outside ``ok`` counts as an error."""
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.tally.error(f"{operation}: {type(exc).__name__}")
            return None
        self.tally.record(operation, time.perf_counter() - started)
        if response.status_code not in ok:
            self.tally.error(f"{operation}: HTTP {response.status_code}")
            return None
        return response

    # -- operations -------------------------------------------------------------------

    async def create_experiment(self) -> None:
        source: str | dict[str, str] = "interviews.csv"
        if self.rng.random() < 0.5:
            source = {"name": "extract.csv", "content": self.inline_csv}
        body = {
            "name": f"Soak {self.rng.randrange(10**6)}",
            "data_sources": [source],
            "config": {"provider": "local", "persona_count": 2, "seed": 1},
        }
        response = await self.call("createExperiment", "POST", "/experiments", {201}, json=body)
        if response is not None:
            self.experiments.append(response.json()["id"])

    async def list_experiments(self) -> None:
        """Up to three pages, following next_cursor."""
        params: dict[str, Any] = {"limit": 20}
        for _ in range(3):
            response = await self.call(
                "listExperiments", "GET", "/experiments", {200}, params=params
            )
            if response is None or not response.json()["next_cursor"]:
                return
            params["cursor"] = response.json()["next_cursor"]

    async def get_experiment(self) -> None:
        if self.experiments:
            experiment_id = self.rng.choice(self.experiments)
            await self.call("getExperiment", "GET", f"/experiments/{experiment_id}", {200})

    async def list_runs(self) -> None:
        if self.experiments:
            experiment_id = self.rng.choice(self.experiments)
            await self.call("listRuns", "GET", f"/experiments/{experiment_id}/runs", {200})

    async def get_run(self) -> None:
        if self.runs:
            experiment_id, run_id = self.rng.choice(self.runs)
            await self.call("getRun", "GET", f"/experiments/{experiment_id}/runs/{run_id}", {200})

    async def get_persona(self) -> None:
        if self.personas:
            _, persona_id = self.rng.choice(self.personas)
            await self.call("getPersona", "GET", f"/personas/{persona_id}", {200})

    async def list_personas(self) -> None:
        if self.experiments:
            experiment_id = self.rng.choice(self.experiments)
            await self.call("listPersonas", "GET", f"/experiments/{experiment_id}/personas", {200})

    async def generate(self) -> None:
        """Start a run and poll it until it ends; it must succeed with its personas."""
        if not self.experiments:
            return
        experiment_id = self.rng.choice(self.experiments)
        started = await self.call(
            "startRun", "POST", f"/experiments/{experiment_id}/generate", {202}
        )
        if started is None:
            return
        location = started.headers["location"]
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            polled = await self.call("getRun (poll)", "GET", location, {200})
            if polled is None:
                return
            run = polled.json()
            if run["status"] == "succeeded":
                self.runs.append((experiment_id, run["id"]))
                self.personas.extend((experiment_id, p) for p in run["persona_ids"])
                return
            if run["status"] in ("failed", "cancelled"):
                self.tally.error(f"generation ended {run['status']}: {run.get('error')}")
                return
            await asyncio.sleep(POLL_INTERVAL)
        self.tally.error(f"generation still running after {RUN_TIMEOUT}s")

    async def delete_experiment(self) -> None:
        """Delete one of this worker's experiments (keeping a few to read)."""
        if len(self.experiments) < 4:
            return
        experiment_id = self.experiments.pop(self.rng.randrange(len(self.experiments)))
        # Its runs and personas go with it: they are no longer this worker's to read.
        self.runs = [(e, r) for e, r in self.runs if e != experiment_id]
        self.personas = [(e, p) for e, p in self.personas if e != experiment_id]
        deleted = await self.call(
            "deleteExperiment", "DELETE", f"/experiments/{experiment_id}", {204}
        )
        if deleted is not None:
            url = f"/experiments/{experiment_id}"
            await self.bad_request("getExperiment (deleted)", "GET", url, {404})

    async def bad_request(
        self, operation: str, method: str, url: str, expected: set[int], **kwargs: Any
    ) -> None:
        """A request that must be refused with one of ``expected``: counted apart."""
        response = await self.call(operation, method, url, expected, **kwargs)
        if response is not None:
            self.tally.expected(f"{operation}: {response.status_code}")

    async def send_bad_request(self) -> None:
        kind = self.rng.randrange(6)
        if kind == 0:
            await self.bad_request("getExperiment (unknown)", "GET", "/experiments/exp-nope", {404})
        elif kind == 1:
            await self.bad_request(
                "createExperiment (empty name)", "POST", "/experiments", {422},
                json={"name": "", "data_sources": ["interviews.csv"]},
            )  # fmt: skip
        elif kind == 2:
            await self.bad_request(
                "createExperiment (outside data dir)", "POST", "/experiments", {400, 422},
                json={"name": "Escape", "data_sources": ["../../etc/passwd"]},
            )  # fmt: skip
        elif kind == 3:
            await self.bad_request(
                "createExperiment (malformed JSON)", "POST", "/experiments", {400},
                content=b'{"name": ', headers={"Content-Type": "application/json"},
            )  # fmt: skip
        elif kind == 4:
            await self.bad_request(
                "listExperiments (bad limit)", "GET", "/experiments", {422}, params={"limit": 0}
            )
        else:
            await self.bad_request("getPersona (unknown)", "GET", "/personas/persona-nope", {404})

    # -- the mix ----------------------------------------------------------------------

    def mix(self) -> list[tuple[Callable[[], Awaitable[None]], int]]:
        return [
            (self.create_experiment, 10),
            (self.list_experiments, 15),
            (self.get_experiment, 20),
            (self.list_runs, 10),
            (self.get_run, 10),
            (self.list_personas, 8),
            (self.get_persona, 10),
            (self.generate, 8),
            (self.delete_experiment, 3),
            (self.send_bad_request, 6),
        ]

    async def loop(self, stop_at: list[float]) -> None:
        """Run the mix until ``stop_at[0]`` (a monotonic time the caller may move)."""
        operations, weights = zip(*self.mix(), strict=True)
        while time.monotonic() < stop_at[0]:
            operation = self.rng.choices(operations, weights)[0]
            await operation()


# --------------------------------------------------------------------------------- main


async def soak(base_url: str, pid: int, args: argparse.Namespace) -> None:
    tally = Tally()
    limits = httpx.Limits(max_connections=args.workers)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT
    ) as client:
        inline_csv = "".join(INTERVIEWS.read_text().splitlines(keepends=True)[:INLINE_ROWS])
        workers = [
            Worker(client, tally, random.Random(seed), inline_csv) for seed in range(args.workers)
        ]
        stop_at = [math.inf]
        tasks = [asyncio.create_task(worker.loop(stop_at)) for worker in workers]
        warmup = await sample_rss(pid, time.monotonic() + args.warmup)

        tally.reset()
        started = time.monotonic()
        stop_at[0] = started + args.seconds
        measured = await sample_rss(pid, stop_at[0])
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        tally.recording = False
    measured.append(rss_kib(pid))
    report(tally, elapsed, warmup, measured, args)


async def sample_rss(pid: int, until: float) -> list[int]:
    """The server's RSS now and every RSS_SAMPLE_SECONDS until ``until`` (monotonic)."""
    samples = [rss_kib(pid)]
    while (left := until - time.monotonic()) > 0:
        await asyncio.sleep(min(RSS_SAMPLE_SECONDS, left))
        samples.append(rss_kib(pid))
    return samples


def mib(samples: list[int]) -> str:
    return " ".join(f"{kib / 1024:.0f}" for kib in samples)


def report(
    tally: Tally, elapsed: float, warmup: list[int], rss_samples: list[int], args: Any
) -> None:
    rss_start, rss_end = rss_samples[0], rss_samples[-1]
    every = sorted(value for values in tally.latencies.values() for value in values)
    expected = sum(tally.expected_4xx.values())
    errors = sum(tally.errors.values())
    growth = 100.0 * (rss_end - rss_start) / rss_start
    print(f"soak: {args.seconds:g} s after {args.warmup:g} s warm-up, {args.workers} workers")
    print(f"  requests:     {len(every)}  ({len(every) / elapsed:.1f} req/s)")
    print(
        f"  latency:      p50 {percentile(every, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(every, 0.99) * 1000:.1f} ms, max {every[-1] * 1000:.1f} ms"
        if every
        else "  latency:      no requests"
    )
    print(f"  expected 4xx: {expected}")
    print(f"  errors:       {errors}  (target 0)")
    for what, count in tally.errors.most_common():
        print(f"    {count:6d}  {what}")
    print(
        f"  server RSS:   {rss_start / 1024:.1f} MiB after warm-up, {rss_end / 1024:.1f} MiB "
        f"at the end (peak {max(rss_samples) / 1024:.1f} MiB): growth {growth:+.1f}% "
        "(target <= 10%)"
    )
    print(f"  RSS every {RSS_SAMPLE_SECONDS:g} s, MiB: warm-up {mib(warmup)} | {mib(rss_samples)}")
    print(f"  {'operation':38} {'count':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for operation, values in sorted(tally.latencies.items()):
        ordered = sorted(values)
        print(
            f"  {operation:38} {len(ordered):7d} {percentile(ordered, 0.5) * 1000:8.1f} "
            f"{percentile(ordered, 0.99) * 1000:8.1f}"
        )
    if tally.expected_4xx:
        print("  expected 4xx by request: " + ", ".join(
            f"{what} x{count}" for what, count in sorted(tally.expected_4xx.items())
        ))  # fmt: skip
    if every:
        print(f"  mean latency: {statistics.fmean(every) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before measuring")
    parser.add_argument("--workers", type=int, default=16, help="concurrent clients")
    parser.add_argument(
        "--tracemalloc",
        metavar="DIR",
        type=Path,
        help="have the server dump tracemalloc snapshots into DIR every --trace-seconds "
        "(slows it down: for finding what holds memory, not for its figures)",
    )
    parser.add_argument("--trace-seconds", type=float, default=60.0)
    args = parser.parse_args()
    extra_env = {}
    if args.tracemalloc is not None:
        extra_env = {
            "PERSONA_DEBUG_TRACEMALLOC_DIR": str(args.tracemalloc.resolve()),
            "PERSONA_DEBUG_TRACEMALLOC_SECONDS": str(args.trace_seconds),
        }

    root = Path(tempfile.mkdtemp(prefix="persona-soak-"))
    data_dir = root / "data"
    data_dir.mkdir()
    shutil.copy(INTERVIEWS, data_dir / "interviews.csv")
    process, base_url = start_server(data_dir, root / "server.log", extra_env)
    try:
        asyncio.run(soak(base_url, process.pid, args))
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log = (root / "server.log").read_text(errors="replace")
        if "Traceback" in log:
            print(f"server log has tracebacks:\n{log[-4000:]}")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
