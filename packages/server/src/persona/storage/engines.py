"""The engines: SQLite tuned for many concurrent requests; PostgreSQL (or another server
database) with timeouts on every connection and a bounded pool."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "persona_write"
"""The execution option of a write transaction: on SQLite it begins IMMEDIATE."""


def is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


def create_sqlite_engine(url: URL, pool_size: int) -> Engine:
    memory = is_memory(url)
    if not memory and url.database:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if memory:
        options["poolclass"] = StaticPool
    else:
        options.update(pool_size=pool_size, max_overflow=pool_size)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN, so writes can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock at the start (waiting up to busy_timeout),
        # instead of failing with "database is locked" when a read later turns into a write.
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@dataclass(frozen=True)
class Timeouts:
    """How long PostgreSQL work may wait, in seconds (0: no limit). Each is a setting
    (``PERSONA_DATABASE_*_TIMEOUT``) documented in docs/deploy.md."""

    connect: float = 5.0
    """For a new connection to be made."""
    statement: float = 30.0
    """For one statement to run (``statement_timeout``)."""
    lock: float = 5.0
    """For a statement to get a lock (``lock_timeout``): a table locked by someone else then
    fails the request (503) instead of holding it and its thread."""
    pool: float = 10.0
    """For a pooled connection to come free."""

    def postgresql_options(self) -> str:
        """libpq's ``options``: the session settings every application connection gets."""
        return (
            f"-c statement_timeout={round(self.statement * 1000)} "
            f"-c lock_timeout={round(self.lock * 1000)}"
        )

    def connect_args(self) -> dict[str, Any]:
        # libpq takes whole seconds, and 1 at the least (0 waits for ever).
        return {
            "connect_timeout": max(1, round(self.connect)) if self.connect else 0,
            "options": self.postgresql_options(),
        }


def engine_connections(pool_size: int) -> int:
    """Connections one ``Database`` holds at most on a server database: its pool and the
    health probe's own connection."""
    return pool_size + ENGINE_OVERFLOW + 1


ENGINE_OVERFLOW = 1
"""Connections above the pool size a burst may open for a moment."""


def create_server_engine(url: URL, pool_size: int, timeouts: Timeouts) -> Engine:
    """PostgreSQL (or another server database): a connection checked before use, a bounded
    pool, and statements that cannot wait for ever."""
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": pool_size,
        "max_overflow": ENGINE_OVERFLOW,
        "pool_timeout": timeouts.pool,
    }
    if url.get_backend_name() == "postgresql":
        given = url.query.get("options")
        connect_args = timeouts.connect_args()
        if given:  # the URL's own options come last and win
            connect_args["options"] += f" {given}"
        options["connect_args"] = connect_args
    engine = create_engine(url, **options)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "before_cursor_execute", _without_nul, retval=True)
    return engine


@dataclass(frozen=True)
class ConnectionHeadroom:
    max_connections: int
    reserved: int
    """Slots only superusers may take."""
    in_use: int

    @property
    def free(self) -> int:
        return max(0, self.max_connections - self.reserved - self.in_use)


NUL_REPLACEMENT = "\ufffd"


def _without_nul(
    _connection: Connection,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    """PostgreSQL's text cannot hold NUL characters (SQLite's can): a NUL in a value, such as
    an id in a hostile URL or a byte of junk in a research file, would fail the statement.
    It becomes U+FFFD, the replacement character: such an id matches nothing, and such text
    is stored with a visible mark where the NUL was."""
    if executemany and isinstance(parameters, list):
        return statement, [_clean(row) for row in parameters]
    return statement, _clean(parameters)


def _clean(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        if any(isinstance(v, str) and "\x00" in v for v in parameters.values()):
            return {k: _clean_value(v) for k, v in parameters.items()}
        return parameters
    if isinstance(parameters, tuple | list):
        return type(parameters)(_clean_value(v) for v in parameters)
    return parameters


def _clean_value(value: Any) -> Any:
    return value.replace("\x00", NUL_REPLACEMENT) if isinstance(value, str) else value
