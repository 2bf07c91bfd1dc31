"""The database: its engine (``persona.storage.engines``), sessions and write batches,
migrations applied on open, and the outage log its statements feed."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Executable

from persona.storage.engines import (
    WRITE_OPTION,
    ConnectionHeadroom,
    Timeouts,
    create_server_engine,
    create_sqlite_engine,
    is_memory,
)
from persona.storage.faults import OutageLog, is_transient

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger("persona.storage")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SCHEMA_REVISION = "0014"
"""The newest migration. A database already there is opened without loading Alembic."""
MIGRATION_LOCK_KEY = 0x5045_5253_4F4E_41
"""The PostgreSQL advisory lock held while migrating ("PERSONA" in hex)."""
# Alembic keeps its migration context in module globals: one migration at a time per process.
_MIGRATION_LOCK = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the migrations shipped inside this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class ReadWouldWait(Exception):
    """An instant read is not possible now (or not on this database): read in a thread."""


class _InstantReaders(threading.local):
    connection: sqlite3.Connection | None = None


@dataclass
class WriteBatch:
    """Writes committed in one transaction (a group commit) on this thread.

    ``as_one``: every write shares the transaction, the first failure undoes them all, and
    statements the writes leave for the end (``insert_at_end``, ``update_at_end``) run once
    for all of them. Otherwise each write runs in a savepoint of its own, its statements at
    once, and a failing one rolls back alone."""

    connection: Connection
    as_one: bool
    _inserts: dict[Executable, list[dict[str, Any]]] = field(default_factory=dict)
    _updates: dict[tuple[Executable, Hashable], dict[str, Any]] = field(default_factory=dict)

    def insert_at_end(self, statement: Executable, rows: Sequence[dict[str, Any]]) -> None:
        self._inserts.setdefault(statement, []).extend(rows)

    def update_at_end(self, statement: Executable, key: Hashable, values: dict[str, Any]) -> None:
        """Run ``statement`` once at the end with the last values given for ``key``."""
        self._updates[(statement, key)] = values

    def pending_update(self, statement: Executable, key: Hashable) -> dict[str, Any] | None:
        return self._updates.get((statement, key))

    def flush(self) -> None:
        for statement, rows in self._inserts.items():
            if rows:
                self.connection.execute(statement, rows)
        # In key order (experiment ids): batches committed at once by several processes then
        # lock the rows they share in one order, and cannot deadlock on them.
        for (statement, _), values in sorted(self._updates.items(), key=lambda u: str(u[0][1])):
            self.connection.execute(statement, values)


class _OpenBatch(threading.local):
    """This thread's batch while ``write_together`` runs its writes."""

    batch: WriteBatch | None = None


class Database:
    """One engine and its sessions. ``write()`` serialises writers on SQLite."""

    def __init__(self, url: str, *, pool_size: int = 8, timeouts: Timeouts | None = None) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.timeouts = timeouts or Timeouts()
        if self.is_sqlite:
            self.engine = create_sqlite_engine(self.url, pool_size)
        else:
            self.engine = create_server_engine(self.url, pool_size, self.timeouts)
        self.outages = OutageLog("database", logger)
        """This process's log of the engine's outages, fed by every statement."""
        event.listen(self.engine, "handle_error", self._on_error)
        event.listen(self.engine, "after_cursor_execute", self._on_answer)
        self._probe: Engine | None = None
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        # SQLite allows one writer at a time: queue writers of this process here rather than
        # in SQLite's busy handler. A memory database has a single shared connection.
        self._write_lock = threading.Lock()
        self._read_lock: AbstractContextManager[Any] = (
            self._write_lock if self.is_sqlite and is_memory(self.url) else nullcontext()
        )
        self._instant_path = _instant_read_path(self.url) if self.is_sqlite else None
        self._instant = _InstantReaders()
        self._open = _OpenBatch()
        self._instant_connections: list[sqlite3.Connection] = []

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; rolled back at the end."""
        with self._read_lock, self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on error."""
        if self._open.batch is not None:
            raise RuntimeError("write() inside write_together(): use write_connection()")
        lock = self._write_lock if self.is_sqlite else nullcontext()
        with lock, self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """Like ``read()``, a Core connection instead of an ORM session."""
        with self._read_lock, self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """Like ``write()``, a Core connection instead of an ORM session.

        For the runs' frequent small writes: a session executing even a Core statement
        adds its unit-of-work bookkeeping, which outweighs a statement this small. Inside
        ``write_together`` it is the batch's connection (``WriteBatch``)."""
        batch = self._open.batch
        if batch is not None and batch.as_one:
            yield batch.connection
        elif batch is not None:
            with batch.connection.begin_nested():
                yield batch.connection
        else:
            lock = self._write_lock if self.is_sqlite else nullcontext()
            with lock, self._write_engine.begin() as connection:
                yield connection

    @property
    def open_batch(self) -> WriteBatch | None:
        """The batch this thread's writes belong to, while ``write_together`` runs them."""
        return self._open.batch

    def write_together(self, writes: Sequence[Callable[[], object]]) -> list[object]:
        """Run these writes (built on ``write_connection``) in one transaction. Returns each
        one's result, or the exception it raised: one failing leaves the others. A failing
        commit raises, and then none of them is stored. Statements a write leaves for the end
        (``WriteBatch``) are not seen by the writes after it in the same call.

        They first run together as one unit, which costs no more than their statements; only
        when one of them raises does the transaction roll back and the writes run again, each
        in a savepoint of its own (which costs more than a small write itself)."""
        # One failed, nothing is stored: write them apart.
        with suppress(Exception), self._batch(as_one=True) as batch:
            outcomes = [write() for write in writes]
            batch.flush()
            return outcomes
        outcomes = []
        with self._batch(as_one=False):
            for write in writes:
                try:
                    outcomes.append(write())
                except Exception as err:
                    outcomes.append(err)
        return outcomes

    @contextmanager
    def _batch(self, *, as_one: bool) -> Iterator[WriteBatch]:
        if self._open.batch is not None:
            raise RuntimeError("write_together() does not nest")
        lock = self._write_lock if self.is_sqlite else nullcontext()
        with lock, self._write_engine.begin() as connection:
            self._open.batch = batch = WriteBatch(connection, as_one)
            try:
                yield batch
            finally:
                self._open.batch = None

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creates it in an empty database).

        Any number of processes may start at once on one database. On SQLite the write lock
        serialises them; on PostgreSQL a transaction-scoped advisory lock does, and a
        process that waited finds the schema migrated by the one before it."""
        if self.revision() == SCHEMA_REVISION:
            return
        from alembic import command

        with _MIGRATION_LOCK, self._write_lock, self._write_engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # A migration may rewrite large tables, and waits for the processes of the
                # previous version to let go of them.
                connection.execute(text("SET LOCAL statement_timeout = 0"))
                connection.execute(text("SET LOCAL lock_timeout = 0"))
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                if _revision(connection) == SCHEMA_REVISION:
                    return
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        """The schema revision the database is at; None when it has none yet."""
        with self._read_lock, self.engine.connect() as connection:
            return _revision(connection)

    def ping(self) -> None:
        """Run ``SELECT 1`` on a pooled connection; raises when none can be had."""
        with self._read_lock, self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def probe(self) -> None:
        """Run ``SELECT 1`` on a connection of its own, outside the pool: it answers while
        every pooled connection waits on a lock. Raises when the database cannot be
        reached (within the connect timeout)."""
        if self.is_sqlite:
            self.ping()
            return
        if self._probe is None:
            self._probe = create_engine(
                self.url,
                pool_size=1,
                max_overflow=0,
                pool_pre_ping=True,
                pool_timeout=self.timeouts.connect or None,
                connect_args=self.timeouts.connect_args()
                if self.url.get_backend_name() == "postgresql"
                else {},
            )
            event.listen(self._probe, "handle_error", self._on_error)
            event.listen(self._probe, "after_cursor_execute", self._on_answer)
        with self._probe.connect() as connection:
            connection.execute(text("SELECT 1"))

    def connection_headroom(self) -> ConnectionHeadroom | None:
        """PostgreSQL's connection limit and how many client connections are open now;
        None on another database."""
        if self.engine.dialect.name != "postgresql":
            return None
        from persona.storage.queries import CONNECTION_HEADROOM

        with self.engine.connect() as connection:
            row = connection.execute(CONNECTION_HEADROOM).one()
        return ConnectionHeadroom(row.max_connections, row.reserved, row.in_use)

    def _on_error(self, context: ExceptionContext) -> None:
        if context.is_disconnect or is_transient(context.original_exception):
            self.outages.failed(context.original_exception)

    def _on_answer(self, *_args: Any) -> None:
        self.outages.succeeded()

    def instant_reader(self) -> sqlite3.Connection:
        """This thread's own read-only connection that never waits for a lock.

        In WAL mode a reader does not wait for writers, so a short read here costs less than
        the hop to a worker thread and back: an event loop may read on its own thread.
        Raises ReadWouldWait when the database is not a WAL-mode SQLite file; a statement
        that meets a lock raises ``sqlite3.OperationalError`` at once (busy timeout 0)
        instead of blocking the caller.
        """
        connection = self._instant.connection
        if connection is not None:
            return connection
        if self._instant_path is None:
            raise ReadWouldWait
        connection = sqlite3.connect(
            self._instant_path, timeout=0, isolation_level=None, check_same_thread=False
        )
        try:
            journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
            connection.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            connection.close()
            raise ReadWouldWait from exc
        if str(journal_mode).lower() != "wal":
            connection.close()
            self._instant_path = None  # a rollback journal makes readers wait for writers
            raise ReadWouldWait
        self._instant.connection = connection
        self._instant_connections.append(connection)
        return connection

    def data_version_now(self) -> tuple[int, int]:
        """A value that changes whenever any other connection commits, in this process or
        another: the instant reader's ``PRAGMA data_version``, with the reader's identity
        (each connection counts on its own). Raises ReadWouldWait when there is no reader."""
        connection = self.instant_reader()
        try:
            (version,) = connection.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as exc:  # closed by dispose()
            raise ReadWouldWait from exc
        return id(connection), int(version)

    def dispose(self) -> None:
        self._instant_path = None
        for connection in self._instant_connections:
            connection.close()
        self._instant_connections.clear()
        self.engine.dispose()
        if self._probe is not None:
            self._probe.dispose()


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if revision is None else str(revision)


def _instant_read_path(url: URL) -> str | None:
    """The file of a plain SQLite file URL; None for memory databases and URL options."""
    if is_memory(url) or url.query or not url.database:
        return None
    return str(Path(url.database).expanduser())
