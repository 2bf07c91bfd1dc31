"""Database faults against the scale-out topology, as deployed: 2 APIs and 2 workers on a
PostgreSQL cluster of this module's own, a loopback provider that takes a while to answer,
and 40 runs in flight at each fault.

The faults: a restart (``pg_ctl restart -m fast``), a 30 s stop, every connection killed
again and again, and a table lock held for longer than the lock timeout. After each, with
no process restarted:

- every run started (before or during the fault) succeeds with exactly one set of personas;
- no client saw a 500, and requests during the lock answered within the lock timeout's
  bound (503 with Retry-After, or 2xx);
- every process logged a handful of lines at most (WARNING and above, tracebacks), and one
  saying the database is back for every component that said it was gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.databases import REQUIRE_VARIABLE, PostgresCluster
from tests.fakes.openai_server import FakeOpenAIServer
from tests.servers import (
    ServerProcess,
    clean_env,
    make_data_dir,
    spawn_server,
    spawn_worker,
    wait_healthy,
    wait_worker_ready,
)

from .test_server_http import TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.stress]

PROVIDER_LATENCY = 3.0
RUNS_PER_FAULT = 40
PERSONA_COUNT = 2
WORKER_CONCURRENCY = "10"
LOCK_TIMEOUT = 2.0
"""The processes' PERSONA_DATABASE_LOCK_TIMEOUT, in seconds."""
LOCK_HELD = 15.0
"""Seconds the table lock is held: well over the lock timeout."""
OUTAGE = 30.0
KILLS, KILL_PAUSE = 24, 0.5
FINISH_TIMEOUT = 240.0
AFTER_FAULT = 8.0
"""Seconds the clients go on calling after a fault: the processes see the database back."""
MAX_LINES_PER_OUTAGE = 8
"""WARNING-or-worse lines (and tracebacks) one process may log for one fault."""
NOTABLE = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback")
COMPONENTS = ("database", "run-event listener", "job queue worker")
"""What logs a database outage in a process, each once when it goes and once when it is back."""


@dataclass
class Answer:
    what: str
    status: int | str
    at: float
    """``time.monotonic()`` when the call was made."""
    seconds: float


@dataclass
class Topology:
    cluster: PostgresCluster
    database_url: str
    apis: list[ServerProcess]
    workers: list[ServerProcess]
    experiments: list[str]
    clients: list[httpx.Client]
    engine: sa.Engine
    health_files: list[Path]
    """Touched by the workers while their loops are alive (``--health-file``)."""
    started: list[tuple[int, str]] = field(default_factory=list)
    """(API index, run location) of every run started, from the first fault on."""

    @property
    def processes(self) -> list[ServerProcess]:
        return [*self.apis, *self.workers]

    def generate(self, index: int) -> httpx.Response:
        api = index % len(self.apis)
        response = self.clients[api].post(f"/experiments/{self.experiments[api]}/generate")
        if response.status_code == 202:
            self.started.append((api, response.headers["location"]))
        return response

    def start_runs(self, count: int) -> list[tuple[int, str]]:
        before = len(self.started)
        for index in range(count):
            response = self.generate(index)
            assert response.status_code == 202, response.text
        return self.started[before:]

    def wait_running(self, at_least: int) -> None:
        _wait_until(lambda: self._count("running") >= at_least, 60, "runs did not start")

    def _count(self, status: str) -> int:
        with self.engine.connect() as connection:
            query = sa.text("SELECT count(*) FROM runs WHERE status = :status")
            return int(connection.execute(query, {"status": status}).scalar_one())

    def log_offsets(self) -> list[int]:
        return [len(process.output()) for process in self.processes]

    def new_lines(self, offsets: list[int]) -> list[list[str]]:
        return [
            process.output()[offset:].splitlines()
            for process, offset in zip(self.processes, offsets, strict=True)
        ]


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    """A cluster of this module's own: the faults stop and restart it."""
    try:
        with PostgresCluster.own() as own:
            yield own
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        if os.environ.get(REQUIRE_VARIABLE):
            pytest.fail(f"PostgreSQL is required ({REQUIRE_VARIABLE} is set): {exc}")
        pytest.skip(f"database fault tests skipped: {exc}")


@pytest.fixture(scope="module")
def topology(
    cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    database_url = cluster.empty_database()
    data_dir = make_data_dir(tmp_path_factory.mktemp("faults"))
    with contextlib.ExitStack() as stack:
        provider = stack.enter_context(FakeOpenAIServer(latency=PROVIDER_LATENCY))
        env = clean_env(
            PERSONA_DATABASE_URL=database_url,
            PERSONA_DATABASE_LOCK_TIMEOUT=str(LOCK_TIMEOUT),
            OPENAI_BASE_URL=provider.base_url,
        )
        serve = [
            sys.executable, "-m", "persona.cli", "serve", "--host", "127.0.0.1",
            "--port", "{port}", "--data-dir", str(data_dir), "--log-level", "warning",
            "--auth-token", TOKEN,
        ]  # fmt: skip
        apis = [spawn_server(data_dir, env, command=serve) for _ in range(2)]
        health_files = [data_dir.parent / f"worker-{name}.alive" for name in "ab"]
        workers = [
            spawn_worker(
                data_dir, env, "--concurrency", WORKER_CONCURRENCY, "--health-file", str(path)
            )
            for path in health_files
        ]
        for process in [*apis, *workers]:
            stack.callback(process.stop)
        for api in apis:
            wait_healthy(api)
        for worker in workers:
            wait_worker_ready(worker)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        clients = [
            stack.enter_context(httpx.Client(base_url=api.base_url, headers=headers, timeout=60))
            for api in apis
        ]
        body = {
            "name": "Database faults",
            "data_sources": ["small.csv"],
            "config": {"provider": "openai", "persona_count": PERSONA_COUNT},
        }
        experiments = [client.post("/experiments", json=body).json()["id"] for client in clients]
        engine = sa.create_engine(database_url, pool_pre_ping=True)
        stack.callback(engine.dispose)
        yield Topology(
            cluster, database_url, apis, workers, experiments, clients, engine, health_files
        )
    assert not any(path.exists() for path in health_files)  # removed by the stopped workers


class Watcher:
    """Clients that keep calling both APIs while a fault lasts: reading a run, /health, and
    starting runs; every answer's status (or transport error) and time."""

    def __init__(self, topology: Topology, run: str) -> None:
        self.topology = topology
        self.run = run
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._keep_calling, args=(what,), daemon=True)
            for what in ("read", "health", "generate")
        ]

    def __enter__(self) -> Watcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _keep_calling(self, what: str) -> None:
        calls = 0
        while not self._stop.is_set():
            calls += 1
            started = time.monotonic()
            try:
                status: int | str = self._call(what, calls).status_code
            except httpx.TransportError as exc:
                status = type(exc).__name__
            self.answers.append(Answer(what, status, started, time.monotonic() - started))
            self._stop.wait(0.25 if what != "generate" else 1.0)

    def _call(self, what: str, calls: int) -> httpx.Response:
        topology = self.topology
        client = topology.clients[calls % len(topology.clients)]
        if what == "read":
            return client.get(self.run)
        if what == "health":
            return client.get("/health")
        return topology.generate(calls)

    def statuses(self, what: str | None = None) -> set[int | str]:
        return {a.status for a in self.answers if what is None or a.what == what}


def _wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s")
        time.sleep(0.25)


def _fault_then_check(topology: Topology, fault: object) -> Watcher:
    """40 runs in flight, the fault with clients calling throughout, then the checks every
    fault shares; returns the watcher for the fault's own checks."""
    runs = topology.start_runs(RUNS_PER_FAULT)
    topology.wait_running(at_least=10)
    offsets = topology.log_offsets()
    with Watcher(topology, runs[0][1]) as watcher:
        fault()  # type: ignore[operator]
        time.sleep(AFTER_FAULT)  # calls go on for a while after: processes say it is back
    _wait_until(lambda: _all_finished(topology), FINISH_TIMEOUT, "every run did not finish")
    _check_every_run_succeeded_once(topology)
    assert 500 not in watcher.statuses(), watcher.answers
    assert all(p.process.poll() is None for p in topology.processes), "a process exited"
    # A liveness probe reading the workers' health files finds them alive.
    assert all(time.time() - path.stat().st_mtime < 15 for path in topology.health_files)
    _check_logs(topology.new_lines(offsets))
    return watcher


def _all_finished(topology: Topology) -> bool:
    with topology.engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
        return connection.execute(query).scalar_one() == 0


def _check_every_run_succeeded_once(topology: Topology) -> None:
    with topology.engine.connect() as connection:
        statuses = dict(
            connection.execute(sa.text("SELECT status, count(*) FROM runs GROUP BY status")).all()
        )
        personas = dict(
            connection.execute(
                sa.text("SELECT run_id, count(*) FROM personas GROUP BY run_id")
            ).all()
        )
        errors = connection.execute(
            sa.text("SELECT error_code, error_message FROM runs WHERE status <> 'succeeded'")
        ).all()
    assert statuses == {"succeeded": len(topology.started)}, errors
    run_ids = {location.rsplit("/", 1)[1] for _, location in topology.started}
    assert personas == dict.fromkeys(run_ids, PERSONA_COUNT)


def _check_logs(lines_per_process: list[list[str]]) -> None:
    for lines in lines_per_process:
        notable = [line for line in lines if NOTABLE.search(line)]
        assert len(notable) <= MAX_LINES_PER_OUTAGE, "\n".join(notable)
        gone = {
            component
            for component in COMPONENTS
            for kind in ("unreachable", "busy")
            if any(f" {component}: the database is {kind}" in line for line in notable)
        }
        back = {
            component
            for component in gone
            if any(f" {component}: the database is back" in line for line in notable)
        }
        assert back == gone, "\n".join(notable)


def test_a_restart_loses_no_run(topology: Topology) -> None:
    restarted_at: list[float] = []

    def restart() -> None:
        topology.cluster.restart()
        restarted_at.append(time.monotonic())

    watcher = _fault_then_check(topology, restart)

    after = [a for a in watcher.answers if a.what == "generate" and a.at >= restarted_at[0]]
    assert after and after[0].status == 202, watcher.answers
    # The figure for docs/deploy.md (pytest -s shows it).
    print(f"first enqueue after the restart: {after[0].seconds * 1000:.0f} ms")


def test_a_30_second_outage_loses_no_run(topology: Topology) -> None:
    def outage() -> None:
        topology.cluster.stop()
        time.sleep(OUTAGE)
        topology.cluster.start()

    watcher = _fault_then_check(topology, outage)

    assert 503 in watcher.statuses("read")  # the APIs said so while it lasted
    assert watcher.statuses("health") <= {200, 503}


def test_connections_killed_again_and_again_lose_no_run(topology: Topology) -> None:
    def kill_everything() -> None:
        admin = sa.create_engine(topology.cluster.admin_url, isolation_level="AUTOCOMMIT")
        name = sa.make_url(topology.database_url).database
        try:
            with admin.connect() as connection:
                for _ in range(KILLS):
                    connection.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": name},
                    )
                    time.sleep(KILL_PAUSE)
        finally:
            admin.dispose()

    _fault_then_check(topology, kill_everything)


def test_a_held_table_lock_is_answered_within_the_lock_timeout(topology: Topology) -> None:
    def hold_the_runs_table() -> None:
        locker = sa.create_engine(topology.database_url)
        try:
            with locker.begin() as connection:
                connection.execute(sa.text("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"))
                time.sleep(LOCK_HELD)
        finally:
            locker.dispose()

    watcher = _fault_then_check(topology, hold_the_runs_table)

    # A request waits for the lock at most the lock timeout per statement it runs, never for
    # the whole time the lock is held; /health never calls a locked database down.
    assert max(a.seconds for a in watcher.answers) < 3 * LOCK_TIMEOUT + 3, watcher.answers
    assert 503 not in watcher.statuses("health")
    assert watcher.statuses() <= {200, 202, 503}
