"""`persona serve` on PostgreSQL queues runs; `persona worker` processes execute them."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import (
    RUN_TIMEOUT,
    STOP_TIMEOUT,
    StalledProvider,
    clean_env,
    running_server,
    wait_for,
)

from .test_server_http import LOCAL_BODY, TOKEN

pytestmark = pytest.mark.postgresql_only  # the run queue is PostgreSQL's


@pytest.fixture
def env(server_database: dict[str, str]) -> dict[str, str]:
    return clean_env(**server_database)


def _serve_only(data_dir: Path) -> list[str]:
    """`persona serve` without --with-worker: on PostgreSQL it only queues runs."""
    return [
        sys.executable, "-m", "persona.cli", "serve",
        "--host", "127.0.0.1", "--port", "{port}", "--data-dir", str(data_dir),
        "--log-level", "warning", "--auth-token", TOKEN,
    ]  # fmt: skip


def _worker(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "persona.cli", "worker", "--data-dir", str(data_dir), *args]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.fixture
def api(data_dir: Path, env: dict[str, str]) -> Iterator[httpx.Client]:
    with running_server(data_dir, env, command=_serve_only(data_dir)) as server:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            yield client


def test_serve_queues_runs_and_a_worker_process_executes_them(
    api: httpx.Client, data_dir: Path, env: dict[str, str]
) -> None:
    experiment = api.post("/experiments", json=LOCAL_BODY).json()
    location = api.post(f"/experiments/{experiment['id']}/generate").headers["location"]
    time.sleep(1.0)
    waiting = api.get(location).json()

    worker = _worker(data_dir, env, "--concurrency", "2")
    try:
        done = wait_for(api, location, {"succeeded", "failed"})
    finally:
        worker.terminate()
        output = worker.communicate(timeout=STOP_TIMEOUT)[0].decode(errors="replace")

    assert waiting["status"] == "queued"
    assert (done["status"], done["attempts"], len(done["persona_ids"])) == ("succeeded", 1, 3)
    assert worker.returncode == 0, output
    assert "Traceback" not in output


def test_a_worker_needs_postgresql(data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "persona.cli", "worker", "--data-dir", str(data_dir)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "persona worker needs PostgreSQL" in result.stderr


@pytest.mark.stress
def test_a_run_whose_worker_is_killed_is_executed_again_by_a_live_worker(
    data_dir: Path, env: dict[str, str]
) -> None:
    provider = StalledProvider()
    # Leases far longer than the test: only the killed worker's missing heartbeats tell.
    env = {**env, "OPENAI_BASE_URL": provider.url, "PERSONA_RUN_LEASE_SECONDS": "600"}
    try:
        with running_server(data_dir, env, command=_serve_only(data_dir)) as server:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            api = httpx.Client(base_url=server.base_url, headers=headers, timeout=30)
            body = {**LOCAL_BODY, "config": {"provider": "openai"}}
            experiment = api.post("/experiments", json=body).json()
            location = api.post(f"/experiments/{experiment['id']}/generate").headers["location"]
            doomed = _worker(data_dir, env)
            assert provider.called.wait(RUN_TIMEOUT), "no worker executed the run"
            doomed.kill()
            doomed.wait(STOP_TIMEOUT)
            provider.called.clear()
            killed_at = time.monotonic()

            survivor = _worker(data_dir, env)
            try:
                assert provider.called.wait(RUN_TIMEOUT), "the run was not executed again"
                recovered_after = time.monotonic() - killed_at
                run = api.get(location).json()
            finally:
                survivor.terminate()
                survivor.communicate(timeout=STOP_TIMEOUT)
            api.close()
    finally:
        provider.close()

    assert (run["status"], run["attempts"]) == ("running", 2)
    assert recovered_after < 30
