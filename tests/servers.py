"""`persona serve` as a subprocess on a free loopback port, for the end-to-end and hardening tests.

The server runs with a clean environment (no PERSONA_* or provider settings from the shell)
plus what a test passes, writes its output to a log file next to its data directory, and can
be stopped gracefully or killed outright (SIGKILL) to test what survives a crash.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.paths import EXAMPLE_INTERVIEWS, REPO_ROOT
from tests.ports import free_port

SEED_BODY: dict[str, Any] = {
    "name": "Checkout research Q3",
    "data_sources": ["./interviews.csv"],
    "config": {"provider": "anthropic", "model": "claude-sonnet-4-5-20250929", "persona_count": 3},
}
"""The create-experiment body of the API's seed example."""
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
START_ATTEMPTS = 3
HEALTH_POLL = 0.1
SMALL_CSV = """participant,response
P1,I copy order numbers from the inbox into a tracker every morning and it wastes an hour.
P2,Too many notifications: forty alerts by ten o'clock and only three of them matter.
P3,I build spreadsheet macros nobody else can maintain when I am away on holiday.
P4,Our warehouse and customer service forward the same email three times per delay.
P5,I want one dashboard that shows which shipments are late before customers call us.
P6,Onboarding a new teammate takes two weeks because every process lives in my head.
"""
"""Six short answers: enough for the local provider, quick to generate from."""
PROVIDER_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OLLAMA_HOST",
)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Persona or provider settings, plus ``extra``."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if key not in PROVIDER_ENV and not key.startswith("PERSONA_")
    }
    return kept | _coverage_env() | extra


def _coverage_env() -> dict[str, str]:
    """Under ``hatch test --cover`` a server subprocess measures its coverage too: it writes
    its data beside the test run's, where the run combines it, not in the server's own
    working directory (a temporary data directory)."""
    if "COVERAGE_PROCESS_START" in os.environ and "COVERAGE_FILE" not in os.environ:
        return {"COVERAGE_FILE": str(REPO_ROOT / ".coverage")}
    return {}


def make_data_dir(root: Path, interviews: Path = EXAMPLE_INTERVIEWS) -> Path:
    """A data directory with ``interviews`` (by default the example interviews) as
    ``interviews.csv``, and ``small.csv``."""
    data_dir = root / "data"
    data_dir.mkdir()
    shutil.copy(interviews, data_dir / "interviews.csv")
    (data_dir / "small.csv").write_text(SMALL_CSV, encoding="utf-8")
    return data_dir


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or an OOM kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)

    def stop(self) -> int:
        """SIGTERM and wait (SIGKILL if it hangs); the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class PortTaken(Exception):
    """The server exited at start because something else took its port in the meantime
    (another test session: this one's workers never share a port, see tests/ports.py)."""


def wait_healthy(server: ServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            if "already in use" in server.output():
                raise PortTaken(server.output())
            pytest.fail(f"server exited with {server.process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"server not healthy after {START_TIMEOUT}s:\n{server.output()}")


def start_server(
    data_dir: Path, env: dict[str, str], *args: str, command: list[str] | None = None
) -> ServerProcess:
    """`persona serve` (or ``command``, where "{port}" stands for the port) on a free
    loopback port over ``data_dir``, once it answers /health."""
    for attempt in range(1, START_ATTEMPTS + 1):
        server = spawn_server(data_dir, env, *args, command=command)
        try:
            wait_healthy(server)
        except PortTaken:
            if attempt == START_ATTEMPTS:
                raise
        except BaseException:
            server.kill()
            raise
        else:
            return server
    raise AssertionError("unreachable")


def spawn_server(
    data_dir: Path, env: dict[str, str], *args: str, command: list[str] | None = None
) -> ServerProcess:
    """``start_server`` without waiting for /health: several servers can start at once."""
    port = free_port()
    log = data_dir.parent / f"server-{port}.log"
    argv = command or [
        sys.executable, "-m", "persona.cli", "serve",
        "--host", "127.0.0.1", "--port", "{port}",
        "--data-dir", str(data_dir), "--log-level", "warning",
        # On PostgreSQL the server then executes the runs it queues; a no-op on SQLite.
        "--with-worker", *args,
    ]  # fmt: skip
    argv = [arg.replace("{port}", str(port)) for arg in argv]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=data_dir
        )
    return ServerProcess(process, f"http://127.0.0.1:{port}", data_dir, log)


@contextmanager
def running_server(
    data_dir: Path, env: dict[str, str], *args: str, command: list[str] | None = None
) -> Iterator[ServerProcess]:
    """``start_server``, stopped (or killed if it hangs) on exit."""
    server = start_server(data_dir, env, *args, command=command)
    try:
        yield server
    finally:
        server.stop()


async def poll_health(base_url: str, stop: asyncio.Event) -> list[int | str]:
    """GET /health until ``stop``; every answer's status, or the transport error's name."""
    answers: list[int | str] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while not stop.is_set():
            try:
                answers.append((await http.get("/health")).status_code)
            except httpx.TransportError as exc:
                answers.append(type(exc).__name__)
            await asyncio.sleep(HEALTH_POLL)
    return answers


def worker_pids(server: ServerProcess) -> list[int]:
    """The uvicorn worker processes of a server started with ``--workers`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # the process ended while we looked
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server.process.pid and "spawn_main" in command:
            pids.append(int(entry.name))
    return sorted(pids)


WORKER_READY = "persona worker executing up to"
"""What `persona worker` logs once its migrations are applied and it takes jobs."""


def spawn_worker(data_dir: Path, env: dict[str, str], *args: str) -> ServerProcess:
    """`persona worker` over ``data_dir`` (no port: ``base_url`` is empty), not waited for."""
    log = data_dir.parent / f"worker-{time.monotonic_ns()}.log"
    argv = [sys.executable, "-m", "persona.cli", "worker", "--data-dir", str(data_dir), *args]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=data_dir
        )
    return ServerProcess(process, "", data_dir, log)


def wait_worker_ready(worker: ServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while WORKER_READY not in worker.output():
        if worker.process.poll() is not None:
            pytest.fail(f"worker exited with {worker.process.returncode}:\n{worker.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"worker not ready after {START_TIMEOUT}s:\n{worker.output()}")
        time.sleep(0.1)


RUN_TIMEOUT = 60.0
"""Seconds a test waits for a run to reach a status."""


class StalledProvider:
    """A loopback stand-in for an OpenAI-compatible API that accepts requests and never answers."""

    def __init__(self) -> None:
        self.called = threading.Event()
        self.release = threading.Event()
        stalled = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stalled.called.set()
                stalled.release.wait(RUN_TIMEOUT)
                self.send_response(503)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def wait_for(api: httpx.Client, location: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = api.get(location).json()
        if run["status"] in statuses:
            return run
        time.sleep(0.1)
    pytest.fail(f"{location} never reached {statuses}")
