"""3 API processes and 2 workers on one fresh PostgreSQL database, as deployed.

All five processes start at once on an empty database (their migrations race), 300
generations go round-robin through the 3 APIs while one worker is SIGKILLed and restarted,
and every run succeeds exactly once; a run cancelled while queued and one cancelled while
running end cancelled without personas.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.databases import PostgresCluster
from tests.fakes.openai_server import FakeOpenAIServer
from tests.servers import (
    ServerProcess,
    StalledProvider,
    clean_env,
    make_data_dir,
    spawn_server,
    spawn_worker,
    wait_for,
    wait_healthy,
    wait_worker_ready,
)

from .test_server_http import TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql_only, pytest.mark.stress]

GENERATIONS = 300
PERSONA_COUNT = 2
WORKER_CONCURRENCY = "25"
PROVIDER_LATENCY = 0.5
KILL_AFTER = 90
"""Succeeded runs before one worker is killed: a third of the way, with a backlog left."""
FINISH_TIMEOUT = 150.0


@pytest.fixture
def fresh_database(database_backend: str, postgres: PostgresCluster) -> str:
    """A new PostgreSQL database without tables: the processes migrate it themselves."""
    return postgres.empty_database()


@pytest.fixture
def fake_provider() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency=PROVIDER_LATENCY) as server:
        yield server


def _serve_only(data_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "persona.cli", "serve",
        "--host", "127.0.0.1", "--port", "{port}", "--data-dir", str(data_dir),
        "--log-level", "warning", "--auth-token", TOKEN,
    ]  # fmt: skip


def _client(server: ServerProcess) -> httpx.Client:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=60)


def _run_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT status, count(*) FROM runs GROUP BY status"))
        return {status: count for status, count in rows}


def _finished(engine: sa.Engine) -> int:
    """Runs that succeeded or failed: all the generations once they are done (the cancelled
    one excepted)."""
    counts = _run_counts(engine)
    return counts.get("succeeded", 0) + counts.get("failed", 0)


def _is_error(log_line: str) -> bool:
    """A line of Persona's own error reports in a worker's log."""
    return any(
        message in log_line
        for message in ("failed unexpectedly", "could not be executed", "could not renew")
    )


def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s")
        time.sleep(0.2)


def test_three_apis_and_two_workers_execute_every_run_once_through_a_worker_kill(
    tmp_path: Path,
    fresh_database: str,
    fake_provider: FakeOpenAIServer,
) -> None:
    data_dir = make_data_dir(tmp_path)
    stalled = StalledProvider()
    env = clean_env(
        PERSONA_DATABASE_URL=fresh_database,
        OPENAI_BASE_URL=fake_provider.base_url,
        OLLAMA_HOST=stalled.url.removesuffix("/v1"),
    )
    command = _serve_only(data_dir)
    engine = sa.create_engine(fresh_database)
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        stack.callback(stalled.close)
        # All five at the same moment, on a database without tables.
        apis = [spawn_server(data_dir, env, command=command) for _ in range(3)]
        workers = [spawn_worker(data_dir, env, "--concurrency", WORKER_CONCURRENCY) for _ in "ab"]
        for process in [*apis, *workers]:
            stack.callback(process.stop)
        for api in apis:
            wait_healthy(api)
        for worker in workers:
            wait_worker_ready(worker)
        clients = [stack.enter_context(_client(api)) for api in apis]

        body = {
            "name": "Scale-out research",
            "data_sources": ["small.csv"],
            "config": {"provider": "openai", "persona_count": PERSONA_COUNT},
        }
        experiments = [client.post("/experiments", json=body).json()["id"] for client in clients]

        def generate(index: int) -> str:
            client = clients[index % 3]
            response = client.post(f"/experiments/{experiments[index % 3]}/generate")
            assert response.status_code == 202, response.text
            return str(response.headers["location"])

        with ThreadPoolExecutor(6) as pool:
            locations = list(pool.map(generate, range(GENERATIONS)))

        # With the backlog at its longest: one more run, cancelled before any worker took it.
        queued_location = generate(0)
        cancelled = clients[1].post(f"{queued_location}/cancel")
        assert cancelled.status_code == 202, cancelled.text

        _wait_until(
            lambda: _run_counts(engine).get("succeeded", 0) >= KILL_AFTER,
            FINISH_TIMEOUT,
            f"{KILL_AFTER} runs did not succeed",
        )
        in_flight_at_kill = _run_counts(engine).get("running", 0)
        workers[0].kill()
        workers[0] = spawn_worker(data_dir, env, "--concurrency", WORKER_CONCURRENCY)
        stack.callback(workers[0].stop)

        _wait_until(
            lambda: _finished(engine) >= GENERATIONS,
            FINISH_TIMEOUT,
            f"{GENERATIONS} runs did not finish",
        )

        # A run cancelled while a worker executes it (its provider never answers).
        stalled_body = {**body, "config": {"provider": "ollama", "persona_count": 1}}
        stalled_experiment = clients[2].post("/experiments", json=stalled_body).json()["id"]
        running_location = (
            clients[2].post(f"/experiments/{stalled_experiment}/generate").headers["location"]
        )
        assert stalled.called.wait(60), "no worker executed the run whose provider stalls"
        assert clients[2].get(running_location).json()["status"] == "running"
        assert clients[0].post(f"{running_location}/cancel").status_code == 202

        queued_run = wait_for(clients[2], queued_location, {"cancelled", "succeeded", "failed"})
        running_run = wait_for(clients[1], running_location, {"cancelled", "succeeded", "failed"})
        runs = [clients[i % 3].get(location).json() for i, location in enumerate(locations)]
        with engine.connect() as connection:
            counted = connection.execute(
                sa.text("SELECT run_id, count(*) FROM personas GROUP BY run_id")
            ).all()
            personas_per_run: dict[str, int] = {run_id: count for run_id, count in counted}
        worker_exits = [worker.stop() for worker in workers]
        api_exits = [api.stop() for api in apis]
        worker_logs = [worker.output() for worker in workers]

    assert in_flight_at_kill > 0
    assert {run["status"] for run in runs} == {"succeeded"}
    assert len({run["id"] for run in runs}) == GENERATIONS
    # Exactly once: every run's personas stored once, none for any other run.
    assert {run["id"]: PERSONA_COUNT for run in runs} == personas_per_run
    assert sum(personas_per_run.values()) == GENERATIONS * PERSONA_COUNT
    assert all(len(run["persona_ids"]) == PERSONA_COUNT for run in runs)
    # The killed worker's runs were executed again by a live one.
    assert max(run["attempts"] for run in runs) == 2
    assert (queued_run["status"], queued_run["attempts"], queued_run["persona_ids"]) == (
        "cancelled", 0, []
    )  # fmt: skip
    assert (running_run["status"], running_run["attempts"], running_run["persona_ids"]) == (
        "cancelled", 1, []
    )  # fmt: skip
    assert worker_exits == [0, 0], worker_logs
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert set(api_exits) <= {0, -signal.SIGTERM}
    # (The aborted job's traceback is procrastinate's report of the cancel, not an error.)
    assert not [line for line in "".join(worker_logs).splitlines() if _is_error(line)]
