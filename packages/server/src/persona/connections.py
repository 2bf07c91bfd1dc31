"""How many database connections one process holds, and what to say when there are none left.

Every process on PostgreSQL holds at most (docs/deploy.md, "Database faults"):

- the engine's pool: one connection per database thread and one for the writer thread,
  plus one a burst may open for a moment, and the health probe's own connection;
- the job queue's pool (procrastinate, ``run_dispatch='queue'``): two connections, and one
  more for every ten runs a worker executes at once;
- listeners, one connection each: the run-event listener (every process), and the job
  queue's own (a process that executes runs).

A process that cannot get its first connections because the server has none left stops
with one line naming ``max_connections`` and this budget, instead of a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from persona.errors import DatabaseUnavailableError, PersonaError
from persona.settings import Settings
from persona.storage import Database
from persona.storage.engines import Timeouts, engine_connections
from persona.storage.faults import describe, failure_kind, root_cause

logger = logging.getLogger("persona.connections")

TOO_MANY_CONNECTIONS = "53300"
"""PostgreSQL's too_many_connections: every slot of max_connections is taken."""
DEPLOY_DOC = 'docs/deploy.md, "Database faults"'


def timeouts_of(settings: Settings) -> Timeouts:
    return Timeouts(
        connect=settings.database_connect_timeout,
        statement=settings.database_statement_timeout,
        lock=settings.database_lock_timeout,
        pool=settings.database_pool_timeout,
    )


def queue_pool_size(concurrency: int, *, execute: bool) -> int:
    """The job queue's pool: deferring and the timers need two connections; a worker
    fetching and finishing jobs one more per ten runs it executes at once."""
    return 2 + (concurrency + 9) // 10 if execute else 2


@dataclass(frozen=True)
class ConnectionBudget:
    """The most connections one process holds on a PostgreSQL server, by part."""

    engine: int
    queue_pool: int
    listeners: int

    @classmethod
    def of(cls, settings: Settings, engine_pool_size: int) -> ConnectionBudget:
        if not settings.effective_database_url.startswith("postgresql"):
            return cls(engine_connections(engine_pool_size), 0, 0)
        queued = settings.run_dispatch == "queue"
        executes = queued and settings.execute_runs
        queue_pool = (
            queue_pool_size(settings.max_concurrent_runs, execute=executes) if queued else 0
        )
        return cls(engine_connections(engine_pool_size), queue_pool, 1 + int(executes))

    @property
    def total(self) -> int:
        return self.engine + self.queue_pool + self.listeners

    def describe(self) -> str:
        parts = [f"{self.engine} for the engine"]
        if self.queue_pool:
            parts.append(f"{self.queue_pool} for the job queue")
        if self.listeners:
            parts.append(f"{self.listeners} for listeners")
        return f"up to {self.total} connections ({', '.join(parts)})"


def check_headroom(database: Database, budget: ConnectionBudget) -> None:
    """Warn, once at start, when the server has fewer free slots than this process may
    take: it starts, but may run out under load."""
    headroom = database.connection_headroom()
    if headroom is None or headroom.free >= budget.total:
        return
    logger.warning(
        "PostgreSQL has %d free connection slot(s) (max_connections=%d, %d in use, %d "
        "reserved) and this process may take %s: raise max_connections or run fewer "
        "processes (%s)",
        headroom.free,
        headroom.max_connections,
        headroom.in_use,
        headroom.reserved,
        budget.describe(),
        DEPLOY_DOC,
    )


def start_failure(exc: BaseException, database: Database, budget: ConnectionBudget) -> None:
    """Raise a PersonaError saying in one line why the database stopped this process from
    starting, when it did; return for any other failure."""
    kind = failure_kind(exc)
    if kind is None:
        return
    where = _server_of(database)
    cause = root_cause(exc)
    if getattr(cause, "sqlstate", None) == TOO_MANY_CONNECTIONS or _is_pool_timeout(cause):
        raise PersonaError(
            f"the database at {where} has no connection left for this process "
            f"({describe(exc)}): it may take {budget.describe()}. Raise max_connections on "
            f"the server, or run fewer processes against it ({DEPLOY_DOC})",
            code="database_connections_exhausted",
        )
    raise DatabaseUnavailableError(
        f"the database at {where} cannot be used: {describe(exc)}", kind=kind
    )


def check_server_database(settings: Settings, engine_pool_size: int) -> None:
    """Connect once to a server database before a process starts serving: PersonaError, in
    one line, when it cannot be used (unreachable, no connection left); the warning of
    ``check_headroom`` when it has fewer free slots than this process may take."""
    url = settings.effective_database_url
    if not url.startswith("postgresql"):
        return
    database = Database(url, timeouts=timeouts_of(settings))
    budget = ConnectionBudget.of(settings, engine_pool_size)
    try:
        check_headroom(database, budget)
    except Exception as exc:
        start_failure(exc, database, budget)
        raise
    finally:
        database.dispose()


def _server_of(database: Database) -> str:
    url = make_url(database.url)
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def _is_pool_timeout(exc: BaseException) -> bool:
    """No connection came free in the job queue's pool: at start, the server refused them."""
    try:
        from psycopg_pool import PoolTimeout
    except ImportError:  # the postgres extra is not installed
        return False
    return isinstance(exc, PoolTimeout)
