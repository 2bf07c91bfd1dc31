"""Large sources: a server's peak memory over a 40 MB CSV run, and /health while four run.

    python benchmarks/large_sources.py                   # 40 MB files; one run, then four
    python benchmarks/large_sources.py --mb 10 --runs 2
    python benchmarks/large_sources.py --scenario one

Each scenario gets its own `persona serve` subprocess on 127.0.0.1 (SQLite in a temporary
data directory, `local` provider, bearer token on), so its peak belongs to it alone. The data
directory holds ``--runs`` generated CSV files of about ``--mb`` MB each: interview answers
(one to four sentences from the templates of benchmarks/local_provider.py), 10 rows per
participant, a role, a plan and an age, from a fixed seed per file, so the same bytes every
time, and no two files alike (runs over one file would share one read and hide the cost).

A warm-up run over the example interviews loads the local provider's libraries first, as any
server has by the time a large file comes; then the server's resident memory is taken as the
baseline and its peak (VmHWM) is reset through /proc/<pid>/clear_refs. Then:

- one: one run over one file, to the end;
- four: ``--runs`` runs at once, one per file.

Meanwhile a sampler requests /health every ``--health-interval`` seconds (one at a time) and
records its latency: a request answered late means the event loop was stalled (parsing,
clustering or storing on it, or a worker thread holding the GIL). Files this large are read
and synthesised in child processes of the server (``persona.runs.offload``), at most one per
CPU at once: each child's peak, as the server logs it, is printed, and the resident memory of
the server and its children together, sampled every 0.1 s. Printed per scenario: the source
bytes, the server's baseline, peak and end RSS, the peak's growth over the baseline, the
children, the target for one run (peak <= 2.5 x the source bytes + 250 MB), the runs' wall time
and outcome, and /health p50, p99 and max (target p99 <= 50 ms while four run). Figures are
printed, never asserted; the machine is shared, so compare runs made side by side.

Side by side on a quiet 2-core machine, 38.1 MiB files (204,500 rows), the in-process
synthesis (before) and the child processes (after):

| scenario | | server peak | children | server + children | wall | /health p50 / p99 / max |
|---|---|---|---|---|---|---|
| one | before | 688 MiB | - | 688 MiB | 12.0 s | 7.1 / 63.3 / 1,453 ms |
| one | after | 278 MiB | 487 MiB | 722 MiB | 11.7 s | 1.5 / 11.0 / 50 ms |
| four | before | 1,541 MiB | - | 1,541 MiB | 43.1 s | 10.4 / 270 / 1,541 ms |
| four | after | 313 MiB | 2 at a time, 470-500 MiB each | 1,243 MiB | 32.0 s | 1.7 / 21.8 / 85 ms |

The server's memory after the runs (end RSS) went from 394 and 605 MiB to 266 and 309 MiB: a
child returns all of its memory when it exits. A child's baseline is ~150 MiB of libraries
(scikit-learn, SciPy); its work ~9 x the source's size.

Figures behind ``persona.sources.working_set``: before a large read paused the cyclic
collector, a 10 MB CSV gave two full passes of 120 and 510 ms during its parse, and while four
40 MB runs read and clustered at once ``/health`` answered with a p99 of 200 to 340 ms; the
passes begin to take tens of milliseconds from about a 4 MB CSV (20,000 records,
``LARGE_WORKING_SET``).

A figure behind the readers: the set of field names a validated Evidence keeps is about 700
bytes, over 40% of a CSV row's record, so records are built without validation around one
shared set (``persona.sources.records.make_evidence``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_provider import ROLES, ROWS_PER_PARTICIPANT, _answer
from soak import INTERVIEWS, TOKEN, percentile, start_server

MB = 1_000_000
MIB = 1024 * 1024
CHILD_PEAK = re.compile(r"synthesised in a child process in .* \(its peak memory (\d+) MiB\)")
TREE_INTERVAL = 0.1
RUN_TIMEOUT = 900.0
POLL_INTERVAL = 0.5


# --------------------------------------------------------------------------------- data


def write_csv(path: Path, size: int, seed: int) -> int:
    """A CSV of about ``size`` bytes of interview answers, the same for the same seed."""
    rng = random.Random(seed)
    roles = sorted(ROLES)
    plans = ("free", "team", "enterprise")
    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["participant", "role", "plan", "age", "answer"])
        participant = 0
        while out.tell() < size:
            role = roles[participant % len(roles)]
            plan, age = rng.choice(plans), rng.randint(21, 64)
            for _ in range(ROWS_PER_PARTICIPANT):
                answer = " ".join(_answer(rng, ROLES[role]) for _ in range(rng.randint(1, 2)))
                writer.writerow([f"S{seed}-P{participant:06d}", role, plan, age, answer])
                written += 1
            participant += 1
    return written


# ------------------------------------------------------------------------------- memory


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux 4.0+); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------------- server


@dataclass
class Scenario:
    name: str
    files: list[str]
    source_bytes: int
    baseline_kib: int = 0
    peak_kib: int = 0
    end_kib: int = 0
    peak_reset: bool = False
    wall: float = 0.0
    outcomes: list[str] | None = None
    health: list[float] | None = None
    health_errors: int = 0
    child_peaks_mib: list[int] | None = None
    tree_peak_kib: int = 0
    """The largest sum of the server's and its children's resident memory, sampled."""


async def run_to_end(client: httpx.AsyncClient, source: str) -> str:
    """Create an experiment over ``source``, generate, and poll until the run ends."""
    body = {
        "name": f"Large {source}",
        "data_sources": [source],
        "config": {"provider": "local", "persona_count": 3, "seed": 1},
    }
    created = await client.post("/experiments", json=body)
    created.raise_for_status()
    started = await client.post(f"/experiments/{created.json()['id']}/generate")
    started.raise_for_status()
    location = started.headers["location"]
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = (await client.get(location)).json()
        if run["status"] not in ("queued", "running"):
            error = run.get("error") or {}
            return run["status"] + (f" ({error.get('code')})" if error else "")
        await asyncio.sleep(POLL_INTERVAL)
    return f"still running after {RUN_TIMEOUT:g} s"


async def sample_health(
    base_url: str, interval: float, stop: asyncio.Event, scenario: Scenario
) -> None:
    """Latency of /health, one request at a time, every ``interval`` seconds until ``stop``."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = await client.get("/health")
                if response.status_code != 200:
                    scenario.health_errors += 1
            except httpx.HTTPError:
                scenario.health_errors += 1
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(interval)
    scenario.health = latencies


async def sample_tree(pid: int, stop: asyncio.Event, scenario: Scenario) -> None:
    """The server's and its children's resident memory together, every TREE_INTERVAL s."""
    server = psutil.Process(pid)
    while not stop.is_set():
        total = 0
        for process in [server, *server.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue  # ended meanwhile
        scenario.tree_peak_kib = max(scenario.tree_peak_kib, total // 1024)
        await asyncio.sleep(TREE_INTERVAL)


async def measure(base_url: str, pid: int, scenario: Scenario, interval: float) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        warm = await run_to_end(client, INTERVIEWS.name)
        if not warm.startswith("succeeded"):
            raise SystemExit(f"warm-up run {warm}")
        scenario.baseline_kib = status_kib(pid, "VmRSS")
        scenario.peak_reset = reset_peak(pid)
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_health(base_url, interval, stop, scenario))
        tree = asyncio.create_task(sample_tree(pid, stop, scenario))
        started = time.perf_counter()
        scenario.outcomes = list(
            await asyncio.gather(*(run_to_end(client, name) for name in scenario.files))
        )
        scenario.wall = time.perf_counter() - started
        stop.set()
        await sampler
        await tree
    scenario.peak_kib = status_kib(pid, "VmHWM")
    scenario.end_kib = status_kib(pid, "VmRSS")


def run_scenario(root: Path, scenario: Scenario, interval: float) -> None:
    log = root / f"server-{scenario.name}.log"
    process, base_url = start_server(root / "data", log, log_level="info")
    try:
        asyncio.run(measure(base_url, process.pid, scenario, interval))
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = log.read_text(errors="replace")
    scenario.child_peaks_mib = [int(peak) for peak in CHILD_PEAK.findall(text)]
    if "Traceback" in text:
        print(f"server log has tracebacks:\n{text[-4000:]}")


# --------------------------------------------------------------------------------- main


def report(scenario: Scenario) -> None:
    source_mib = scenario.source_bytes / MIB
    peak, base = scenario.peak_kib / 1024, scenario.baseline_kib / 1024
    print(f"{scenario.name}: {len(scenario.files)} run(s) over {source_mib:.1f} MiB of CSV")
    print(f"  runs:        {', '.join(scenario.outcomes or [])} in {scenario.wall:.1f} s")
    note = "" if scenario.peak_reset else " (peak since start: clear_refs not allowed)"
    print(
        f"  server RSS:  baseline {base:.0f} MiB, peak {peak:.0f} MiB{note} "
        f"(+{peak - base:.0f} MiB, {(peak - base) / source_mib:.1f} x the sources), "
        f"end {scenario.end_kib / 1024:.0f} MiB"
    )
    children = scenario.child_peaks_mib or []
    if children:
        print(
            f"  children:    {len(children)} synthesis process(es), peak "
            f"{', '.join(str(peak) for peak in children)} MiB; server and children together "
            f"(sampled every {TREE_INTERVAL:g} s): peak {scenario.tree_peak_kib / 1024:.0f} MiB"
        )
    if len(scenario.files) == 1:
        target = 2.5 * source_mib + 250
        print(f"  target:      peak <= 2.5 x sources + 250 MiB = {target:.0f} MiB")
    health = sorted(scenario.health or [])
    if health:
        print(
            f"  /health:     {len(health)} requests, p50 {percentile(health, 0.5) * 1000:.1f} ms,"
            f" p99 {percentile(health, 0.99) * 1000:.1f} ms, max {health[-1] * 1000:.1f} ms, "
            f"mean {statistics.fmean(health) * 1000:.1f} ms, errors {scenario.health_errors}"
            + ("  (target p99 <= 50 ms)" if len(scenario.files) > 1 else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=40.0, help="size of each CSV, in MB")
    parser.add_argument("--runs", type=int, default=4, help="concurrent runs (and files)")
    parser.add_argument("--scenario", choices=("one", "four", "both"), default="both")
    parser.add_argument("--health-interval", type=float, default=0.02, help="seconds")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="persona-large-"))
    data = root / "data"
    data.mkdir()
    shutil.copy(INTERVIEWS, data / INTERVIEWS.name)
    try:
        files = []
        for seed in range(args.runs):
            path = data / f"large-{seed}.csv"
            rows = write_csv(path, int(args.mb * MB), seed)
            files.append(path.name)
            print(f"wrote {path.name}: {path.stat().st_size / MIB:.1f} MiB, {rows} rows")
        scenarios = []
        if args.scenario in ("one", "both"):
            size = (data / files[0]).stat().st_size
            scenarios.append(Scenario("one", files[:1], size))
        if args.scenario in ("four", "both"):
            size = sum((data / name).stat().st_size for name in files)
            scenarios.append(Scenario("four", files, size))
        for scenario in scenarios:
            run_scenario(root, scenario, args.health_interval)
            report(scenario)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
