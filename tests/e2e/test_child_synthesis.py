"""A `persona serve` process synthesising local runs over large sources in child processes."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.servers import RUN_TIMEOUT, clean_env, running_server, wait_for

from .test_server_http import LOCAL_BODY, TOKEN

pytestmark = pytest.mark.e2e

CHILD_MODULE = "persona.runs.child"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _children(pid: int) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if CHILD_MODULE in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _wait_for_child(pid: int) -> list[psutil.Process]:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        if children := _children(pid):
            return children
        time.sleep(0.02)
    pytest.fail("no synthesis process started")


def test_the_server_synthesises_a_large_run_in_a_child_and_leaves_none_behind(
    data_dir: Path,
) -> None:
    env = clean_env(PERSONA_LOCAL_SUBPROCESS_MIN_BYTES="1")
    args = ("--auth-token", TOKEN, "--log-level", "info")
    with running_server(data_dir, env, *args) as server:
        api = httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=30)
        experiment = api.post("/experiments", json=LOCAL_BODY).json()
        location = api.post(f"/experiments/{experiment['id']}/generate").headers["location"]
        run = wait_for(api, location, {"succeeded", "failed"})
        evidence = api.get(f"{location}/evidence", params={"limit": 200}).json()
        api.close()
        leftover = _children(server.process.pid)

    assert run["status"] == "succeeded", run
    assert len(run["persona_ids"]) == 3
    assert len(evidence["items"]) == 45
    assert "synthesised in a child process" in server.output()
    assert "Traceback" not in server.output()
    assert leftover == []


@pytest.mark.stress
def test_stopping_the_server_mid_synthesis_stops_the_child_and_requeues_the_run(
    data_dir: Path,
) -> None:
    env = clean_env(PERSONA_LOCAL_SUBPROCESS_MIN_BYTES="1")
    with running_server(data_dir, env, "--auth-token", TOKEN) as server:
        api = httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=30)
        experiment = api.post("/experiments", json=LOCAL_BODY).json()
        location = api.post(f"/experiments/{experiment['id']}/generate").headers["location"]
        children = _wait_for_child(server.process.pid)
        api.close()
        exit_code = server.stop()

    assert exit_code in (0, -signal.SIGTERM), server.output()
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [] and len(gone) == len(children)
    with running_server(data_dir, env, "--auth-token", TOKEN) as restarted:
        api = httpx.Client(base_url=restarted.base_url, headers=HEADERS, timeout=30)
        run = wait_for(api, location, {"succeeded", "failed"})
        api.close()
    assert run["status"] == "succeeded", run
    assert run["attempts"] == 2
