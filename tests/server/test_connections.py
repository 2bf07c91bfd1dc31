"""The connections a process holds on PostgreSQL, and what it says when there are none left."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from persona.connections import ConnectionBudget, check_headroom
from persona.settings import Settings
from persona.storage import Database

from tests.servers import clean_env, free_port

pytestmark = pytest.mark.postgresql_only

BUDGET_TABLE = {"api": 14, "worker at 10": 16, "worker at 100": 25}
"""The totals docs/deploy.md gives ("Database faults", connection budget)."""


def _budget(**values: object) -> int:
    settings = Settings(database_url="postgresql+psycopg://db/persona", **values)  # type: ignore[arg-type]
    return ConnectionBudget.of(settings, 9).total


def test_the_budget_is_the_one_the_deploy_guide_gives(database_url: str) -> None:
    api = _budget(run_dispatch="queue", execute_runs=False)
    worker_10 = _budget(run_dispatch="queue", max_concurrent_runs=10)
    worker_100 = _budget(run_dispatch="queue", max_concurrent_runs=100)

    assert {"api": api, "worker at 10": worker_10, "worker at 100": worker_100} == BUDGET_TABLE
    guide = (Path(__file__).parents[2] / "docs" / "deploy.md").read_text()
    assert "| **14** |" in guide and "| **15 + ⌈N/10⌉** |" in guide


def test_a_server_with_fewer_free_slots_than_the_budget_is_named_at_start(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(database_url)
    headroom = database.connection_headroom()
    assert headroom is not None and headroom.max_connections > 0
    try:
        check_headroom(
            database, ConnectionBudget(engine=headroom.free + 1, queue_pool=0, listeners=0)
        )
        check_headroom(database, ConnectionBudget(engine=1, queue_pool=0, listeners=0))
    finally:
        database.dispose()

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert f"max_connections={headroom.max_connections}" in warnings[0]
    assert f"up to {headroom.free + 1} connections" in warnings[0]


def test_a_worker_without_a_connection_left_says_so_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    """A role allowed one connection: the worker gets its first, and none for its job queue."""
    role = f"limited_{uuid.uuid4().hex[:8]}"
    url = sa.make_url(database_url)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        # Not a superuser: a superuser's connections are never limited.
        connection.execute(sa.text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1"))
        for grant in (
            f"GRANT USAGE, CREATE ON SCHEMA public TO {role}",
            f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ):
            connection.execute(sa.text(grant))
    try:
        limited = url.set(username=role).render_as_string(hide_password=False)
        finished = subprocess.run(
            [sys.executable, "-m", "persona.cli", "worker", "--data-dir", str(tmp_path)],
            env=clean_env(PERSONA_DATABASE_URL=limited, PERSONA_DATABASE_POOL_TIMEOUT="2"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP OWNED BY {role}"))
            connection.execute(sa.text(f"DROP ROLE {role}"))
        admin.dispose()

    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    errors = [line for line in finished.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, finished.stderr
    assert "has no connection left for this process" in errors[0]
    assert "Raise max_connections" in errors[0]
    assert (
        "up to 16 connections (11 for the engine, 3 for the job queue, 2 for listeners)"
        in (errors[0])
    ), errors[0]


def test_a_server_that_cannot_reach_its_database_says_so_before_it_serves(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{closed}/persona"

    serve = [sys.executable, "-m", "persona.cli", "serve", "--port", str(free_port())]
    finished = subprocess.run(
        [*serve, "--data-dir", str(tmp_path)],
        env=clean_env(PERSONA_DATABASE_URL=nowhere),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    assert finished.stderr.startswith(
        f"persona serve: the database at 127.0.0.1:{closed}/persona cannot be used: "
    ), finished.stderr
    assert len(finished.stderr.strip().splitlines()) == 1
