"""Starting and stopping the server for real: auth off, refusals, uvicorn from the environment,
graceful shutdown with a run in flight."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import (
    RUN_TIMEOUT,
    StalledProvider,
    clean_env,
    free_port,
    running_server,
    wait_for,
)

from .test_server_http import LOCAL_BODY, TOKEN

pytestmark = pytest.mark.e2e


def test_auth_off_on_loopback_and_the_banner_says_so(data_dir: Path) -> None:
    with running_server(data_dir, clean_env()) as server:
        response = httpx.get(f"{server.base_url}/experiments", timeout=30)
        banner = server.output()
        second = serve_once(data_dir, "--port", str(free_port()))

    assert response.status_code == 200
    assert f"URL:              {server.base_url}" in banner
    assert f"Docs:             {server.base_url}/docs" in banner
    assert "Auth:             OFF" in banner
    assert f"sqlite:///{data_dir}/.persona/persona.db" in banner
    assert "Default provider: local" in banner
    # A second server in the same directory would share the first one's database: it refuses.
    assert second.returncode == 1
    assert second.stdout == ""
    assert f"another persona serve (pid {server.process.pid}, {server.base_url})" in second.stderr
    assert "--data-dir" in second.stderr


def test_non_loopback_without_token_refuses_to_start(data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "persona.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=data_dir,
        timeout=60,
    )

    assert result.returncode == 1
    assert "--auth-token" in result.stderr
    assert "--no-auth" in result.stderr


def serve_once(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`persona serve` expected to fail at start: its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "persona.cli", "serve", "--host", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=data_dir,
        timeout=120,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_line_before_any_banner(data_dir: Path, workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])

        result = serve_once(data_dir, "--port", port, "--workers", workers)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port" in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_server_that_fails_to_start_exits_non_zero(data_dir: Path, workers: str) -> None:
    blocker = data_dir / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    url = f"sqlite:///{blocker}/persona.db"

    result = serve_once(
        data_dir, "--port", str(free_port()), "--workers", workers, "--database-url", url
    )

    assert result.returncode != 0, result.stdout + result.stderr
    assert "persona serve: the server failed to start" in result.stderr


def test_a_missing_data_dir_is_refused_and_not_created(data_dir: Path) -> None:
    result = serve_once(data_dir, "--port", str(free_port()), "--data-dir", "reserch")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "reserch does not exist" in result.stderr
    assert "--create-data-dir" in result.stderr
    assert not (data_dir / "reserch").exists()


def test_uvicorn_import_string_with_settings_from_the_environment(data_dir: Path) -> None:
    command = [
        sys.executable, "-m", "uvicorn", "persona.api:app",
        "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
    ]  # fmt: skip
    env = clean_env(PERSONA_DATA_DIR=str(data_dir), PERSONA_API_TOKEN=f"other,{TOKEN}")

    with running_server(data_dir, env, command=command) as server:
        anonymous = httpx.get(f"{server.base_url}/experiments", timeout=30)
        created = httpx.post(
            f"{server.base_url}/experiments",
            json=LOCAL_BODY,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )

    assert anonymous.status_code == 401
    assert created.status_code == 201, created.text
    assert (data_dir / ".persona" / "persona.db").exists()


def test_graceful_shutdown_leaves_the_run_requeued_for_the_next_start(data_dir: Path) -> None:
    provider = StalledProvider()
    env = clean_env(OPENAI_BASE_URL=provider.url)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with running_server(data_dir, env, "--auth-token", TOKEN, "--log-level", "info") as server:
            api = httpx.Client(base_url=server.base_url, headers=headers, timeout=30)
            experiment = api.post(
                "/experiments", json={**LOCAL_BODY, "config": {"provider": "openai"}}
            ).json()
            location = api.post(f"/experiments/{experiment['id']}/generate").headers["location"]
            assert provider.called.wait(RUN_TIMEOUT)
            api.close()
            exit_code = server.stop()
        # uvicorn re-raises the signal once it has shut down gracefully.
        assert exit_code in (0, -signal.SIGTERM), server.output()
        assert "Application shutdown complete" in server.output()
        assert "Traceback" not in server.output()

        provider.called.clear()
        with running_server(data_dir, env, "--auth-token", TOKEN) as restarted:
            api = httpx.Client(base_url=restarted.base_url, headers=headers, timeout=30)
            assert provider.called.wait(RUN_TIMEOUT), "the interrupted run was not re-queued"
            run = wait_for(api, location, {"running"})
            assert run["attempts"] == 2
            assert api.get(f"/experiments/{experiment['id']}").status_code == 200
            assert api.post(f"{location}/cancel").status_code == 202
            api.close()
    finally:
        provider.close()
