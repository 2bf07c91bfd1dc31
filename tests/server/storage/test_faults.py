"""Transient database failures: told apart from bugs, waited out by run writes, logged once.

The failures are real ones: a lock held by another connection past ``lock_timeout``, a
statement past ``statement_timeout``, a port nothing listens on, SQLite's busy lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from persona.errors import DatabaseUnavailableError
from persona.ids import utcnow
from persona.schemas import RunError
from persona.storage import Database, Repository
from persona.storage.engines import Timeouts
from persona.storage.faults import OutageLog, RetryPolicy, failure_kind
from persona.storage.write_queue import WriteQueue

from .test_run_leases import _queued_run

LOCKED = sa.exc.OperationalError("UPDATE runs", {}, sqlite3.OperationalError("database is locked"))
"""What SQLAlchemy raises when SQLite's busy timeout runs out."""
SHORT = Timeouts(connect=2, statement=0.3, lock=0.2, pool=2)
postgresql_only = pytest.mark.postgresql_only


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def short_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, timeouts=SHORT)
    database.migrate()
    yield database
    database.dispose()


@contextlib.contextmanager
def runs_table_locked(url: str, seconds: float) -> Iterator[threading.Event]:
    """Another connection holds ``runs`` in ACCESS EXCLUSIVE mode for ``seconds`` (from when
    the event is set)."""
    locked = threading.Event()
    engine = sa.create_engine(url)

    def hold() -> None:
        with engine.begin() as connection:
            connection.execute(sa.text("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            threading.Event().wait(seconds)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        yield locked
    finally:
        holder.join()
        engine.dispose()


# ------------------------------------------------------------------ which failures


@postgresql_only
def test_a_lock_held_past_the_lock_timeout_is_busy(short_db: Database, database_url: str) -> None:
    with (
        runs_table_locked(database_url, 2.0),
        pytest.raises(sa.exc.OperationalError) as raised,
        short_db.read_connection() as connection,
    ):
        connection.execute(sa.text("SELECT count(*) FROM runs"))

    assert failure_kind(raised.value) == "busy"
    assert "lock timeout" in str(raised.value)


@postgresql_only
def test_a_statement_past_the_statement_timeout_is_busy(short_db: Database) -> None:
    with pytest.raises(sa.exc.OperationalError) as raised, short_db.read_connection() as connection:
        connection.execute(sa.text("SELECT pg_sleep(2)"))

    assert failure_kind(raised.value) == "busy"


@postgresql_only
def test_a_server_that_is_not_there_is_unreachable() -> None:
    database = Database(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/persona", timeouts=SHORT
    )
    try:
        with pytest.raises(sa.exc.OperationalError) as raised:
            database.ping()
    finally:
        database.dispose()

    assert failure_kind(raised.value) == "unreachable"


def test_mistakes_are_never_transient(db: Database) -> None:
    with pytest.raises(sa.exc.DBAPIError) as missing, db.read_connection() as connection:
        connection.execute(sa.text("SELECT * FROM no_such_table"))
    with pytest.raises(sa.exc.DBAPIError) as syntax, db.read_connection() as connection:
        connection.execute(sa.text("SELEC 1"))

    assert failure_kind(missing.value) is None
    assert failure_kind(syntax.value) is None
    assert failure_kind(ValueError("no")) is None


def test_sqlites_busy_lock_is_busy_and_its_missing_file_unreachable() -> None:
    assert failure_kind(sqlite3.OperationalError("database is locked")) == "busy"
    assert failure_kind(sqlite3.OperationalError("unable to open database file")) == ("unreachable")
    assert failure_kind(sqlite3.OperationalError("no such column: x")) is None


# ------------------------------------------------------------------ waiting it out


@postgresql_only
async def test_a_run_write_waits_out_a_lock_and_a_request_write_does_not(
    short_db: Database, database_url: str
) -> None:
    repo = Repository(short_db)
    run_id = _queued_run(repo)
    requests = WriteQueue(short_db)
    runs = requests.with_retries(RetryPolicy(seconds=10))
    try:
        with runs_table_locked(database_url, 1.0):
            with pytest.raises(sa.exc.OperationalError):
                await requests.write(repo.claim_run, run_id, owner="runner-a", lease_seconds=30)
            claimed = await runs.write(repo.claim_run, run_id, owner="runner-a", lease_seconds=30)
            claimed_alone = await runs.run(repo.renew_leases, "runner-a", [run_id], 30)
    finally:
        await requests.close()

    assert claimed is not None and claimed.attempt == 1
    assert claimed_alone == 1


async def test_a_write_whose_policy_gives_up_says_the_database_is_unavailable(
    db: Database,
) -> None:
    writes = WriteQueue(db).with_retries(RetryPolicy(seconds=0.3, first_delay=0.05))
    tries = 0

    def always_locked() -> None:
        nonlocal tries
        tries += 1
        raise sa.exc.OperationalError(
            "UPDATE runs", {}, sqlite3.OperationalError("database is locked")
        )

    try:
        with pytest.raises(DatabaseUnavailableError) as queued:
            await writes.write(always_locked)
        with pytest.raises(DatabaseUnavailableError) as alone:
            await writes.run(always_locked)
    finally:
        await writes.close()

    assert queued.value.kind == alone.value.kind == "busy"
    assert queued.value.code == "database_unavailable"
    assert "too busy" in queued.value.message
    assert tries > 4


async def test_a_stopping_process_stops_waiting(db: Database) -> None:
    writes = WriteQueue(db).with_retries(RetryPolicy(seconds=60))

    def always_locked() -> None:
        raise sa.exc.OperationalError(
            "UPDATE runs", {}, sqlite3.OperationalError("database is locked")
        )

    pending = asyncio.ensure_future(writes.write(always_locked))
    await asyncio.sleep(0.2)
    writes.stop_retrying()

    with pytest.raises(DatabaseUnavailableError):
        await asyncio.wait_for(pending, 5)
    await writes.close()


async def test_a_mistake_is_not_retried(db: Database) -> None:
    writes = WriteQueue(db).with_retries(RetryPolicy(seconds=60))
    tries = 0

    def mistaken() -> None:
        nonlocal tries
        tries += 1
        raise ValueError("a bug")

    try:
        with pytest.raises(ValueError, match="a bug"):
            await asyncio.wait_for(writes.write(mistaken), 5)
        with pytest.raises(ValueError, match="a bug"):
            await asyncio.wait_for(writes.run(mistaken), 5)
    finally:
        await writes.close()

    # Once in a group commit, once more on its own when the group failed; never again.
    assert tries == 3


# ------------------------------------------------------------------ runs and leases


def test_an_interrupted_attempt_is_queued_again_then_fails_with_its_code(repo: Repository) -> None:
    run_id = _queued_run(repo)
    error = RunError(code="database_unavailable", message="the database could not be reached")
    first = repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    assert first is not None

    assert repo.interrupt_attempt(run_id, first.attempt, 2, error) is True
    assert repo.interrupt_attempt(run_id, first.attempt, 2, error) is False  # not running
    second = repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    assert second is not None and second.attempt == 2
    assert repo.interrupt_attempt(run_id, 1, 2, error) is False  # a stale attempt
    assert repo.interrupt_attempt(run_id, second.attempt, 2, error) is False  # out of attempts

    run = repo.get_run("exp-1", run_id)
    assert run.status == "failed"
    assert run.error is not None and run.error.code == "database_unavailable"
    events = [event.type for event in repo.run_events(run_id)]
    assert events == [
        "run.queued", "run.started", "run.queued", "run.started", "run.failed"
    ]  # fmt: skip


def test_a_stalled_job_does_not_requeue_a_run_whose_lease_was_renewed_lately(
    repo: Repository,
) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    renewed_lately = utcnow() + timedelta(seconds=30 - 10)

    assert repo.requeue_interrupted(run_id, 3, fresh_lease_after=renewed_lately) is False
    assert repo.get_run("exp-1", run_id).status == "running"

    # Its holder stopped renewing: the lease is older than the stall window.
    assert repo.requeue_interrupted(run_id, 3, fresh_lease_after=utcnow() + timedelta(seconds=60))
    assert repo.get_run("exp-1", run_id).status == "queued"


# ------------------------------------------------------------------ the log


def test_an_outage_is_logged_once_going_and_once_back(caplog: pytest.LogCaptureFixture) -> None:
    log = OutageLog("database", logging.getLogger("persona.tests"), settle=0.05)
    failure = sa.exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))
    caplog.set_level(logging.DEBUG, logger="persona.tests")
    log.failed(failure)  # before it ever answered: a failed start, which says so itself
    assert not log.is_down
    log.succeeded()

    for _ in range(20):
        log.failed(failure)
        log.succeeded()  # an answer between failures is not yet "back"
    assert log.is_down and log.up_for() == 0.0
    threading.Event().wait(0.1)
    log.succeeded()
    log.succeeded()

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "database: the database is unreachable: OperationalError: disk I/O error; "
        "retrying quietly until it is back",
        warnings[1],
    ]
    assert warnings[1].startswith("database: the database is back (it failed 20 times over")
    tracebacks = [r for r in caplog.records if r.levelno == logging.DEBUG and r.exc_info]
    assert len(tracebacks) == 21
    assert not log.is_down and log.up_for() > 0


def test_a_long_outage_is_recalled_now_and_then(caplog: pytest.LogCaptureFixture) -> None:
    log = OutageLog("job queue worker", logging.getLogger("persona.tests"))
    log.REMIND_EVERY = 0.05
    failure = sqlite3.OperationalError("database is locked")
    log.succeeded()

    log.failed(failure)
    log.failed(failure)
    threading.Event().wait(0.1)
    log.failed(failure)

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2
    assert "busy (statements time out)" in warnings[0]
    assert "still unavailable" in warnings[1] and "(3 failures)" in warnings[1]


def test_the_engine_feeds_its_outage_log(
    short_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(sa.exc.DBAPIError), short_db.read_connection() as connection:
        connection.execute(sa.text("SELECT * FROM no_such_table"))
    assert not short_db.outages.is_down  # a mistake is no outage

    short_db.outages.failed(sqlite3.OperationalError("database is locked"))
    short_db.outages.settle = 0.0
    short_db.ping()

    assert not short_db.outages.is_down
    assert any("the database is back" in r.getMessage() for r in caplog.records)
