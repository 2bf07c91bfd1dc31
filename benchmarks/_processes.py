"""Child processes for the benchmarks: start, wait for, stop, and read their CPU time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes

from tests.fakes import FakeOpenAIServer  # noqa: E402

START_TIMEOUT = 120.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def child_process(
    argv: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process logging to ``log``; SIGTERM (then SIGKILL) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(ready: object, what: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():  # type: ignore[operator]
        if any(p.poll() is not None for p in processes):
            raise SystemExit(f"a process exited before {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"not {what} after {START_TIMEOUT} s")
        time.sleep(0.1)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def serve_fake(latency: float) -> None:
    """Child process: the fake server until stdin closes (its own process: its work of
    answering is not counted as a worker's, nor slowed by this driver's)."""
    with FakeOpenAIServer(latency=latency) as server:
        print(server.base_url, flush=True)
        for _ in sys.stdin:
            pass
