"""What a started ``PersonaService`` owns, and how it is put together and taken apart."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from persona.connections import ConnectionBudget, check_headroom, start_failure, timeouts_of
from persona.errors import PersonaError
from persona.events.hub import EventHub
from persona.runs.dispatch import Dispatcher, LocalDispatcher
from persona.runs.executor import Runner
from persona.settings import Settings
from persona.storage import Database, Repository
from persona.storage.faults import RetryPolicy
from persona.storage.health import DatabaseHealth
from persona.storage.write_queue import WriteQueue
from persona.webhooks.sender import WebhookSender

if TYPE_CHECKING:
    from persona.runs.finished import FinishedRunListener

P = ParamSpec("P")
T = TypeVar("T")

DATABASE_THREADS = 8
ENGINE_POOL_SIZE = DATABASE_THREADS + 1
"""A connection for each database thread and one for the writer thread."""


@dataclass
class Parts:
    """What a started service owns."""

    executor: ThreadPoolExecutor
    writes: WriteQueue
    """One thread for writes: SQLite takes one writer at a time, so more threads would only
    wait on the write lock, holding back the reads queued behind them."""
    database: Database
    repository: Repository
    runner: Runner
    dispatcher: Dispatcher
    hub: EventHub
    sender: WebhookSender
    health: DatabaseHealth
    listener: FinishedRunListener | None = None
    """On PostgreSQL: wakes ``wait_for_run`` when a run ends in another process."""


async def start_parts(settings: Settings) -> Parts:
    """Open the database, apply migrations and start the runner and its dispatcher."""
    if not settings.data_dir.is_dir():
        # Otherwise the SQLite file's folder would be created in it: a mistyped data_dir
        # would become a new, empty directory holding a fresh database.
        raise PersonaError(
            f"the data directory {settings.data_dir} does not exist or is not a "
            "directory (Settings.data_dir, PERSONA_DATA_DIR); relative paths are taken "
            "from the current directory",
            code="data_dir_missing",
        )
    executor = ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="persona-db")
    database: Database | None = None
    writes: WriteQueue | None = None
    budget = ConnectionBudget.of(settings, ENGINE_POOL_SIZE)
    try:
        database = Database(
            settings.effective_database_url,
            pool_size=ENGINE_POOL_SIZE,
            timeouts=timeouts_of(settings),
        )
        writes = WriteQueue(database)
        try:
            await asyncio.get_running_loop().run_in_executor(executor, database.migrate)
            await _call_in(executor, check_headroom, database, budget)
        except Exception as exc:
            start_failure(exc, database, budget)
            raise
        repository = Repository(database)
        # A run waits out a database restart or outage; a request fails at once (503).
        runner = Runner(
            settings, repository, writes.with_retries(RetryPolicy(settings.database_retry_seconds))
        )
        dispatcher = _dispatcher_for(settings, runner)
        hub = EventHub(
            repository,
            functools.partial(_call_in, executor),
            database.data_version_now if database.is_sqlite else None,
        )
        sender = WebhookSender(settings, repository, functools.partial(_call_in, executor))
        health = DatabaseHealth(database, functools.partial(_call_in, executor))
        parts = Parts(
            executor, writes, database, repository, runner, dispatcher, hub, sender, health
        )
        try:
            await dispatcher.start()
        except Exception as exc:
            start_failure(exc, database, budget)
            raise
        sender.start()
        url = settings.effective_database_url
        if url.startswith("postgresql"):  # on SQLite, runs end here or are polled for
            from persona.runs.finished import listen_for_finished_runs  # postgres extra

            parts.listener = await listen_for_finished_runs(
                url, runner, dispatcher, hub, timeouts=database.timeouts
            )
    except BaseException:
        executor.shutdown(wait=False)
        if writes is not None:
            writes.shutdown_now()
        if database is not None:
            database.dispose()
        raise
    return parts


async def _call_in(
    executor: ThreadPoolExecutor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run a blocking database call on the service's database threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))


def _dispatcher_for(settings: Settings, runner: Runner) -> Dispatcher:
    if settings.run_dispatch == "local":
        return LocalDispatcher(runner, runner.writes.run)
    url = settings.effective_database_url
    if not url.startswith("postgresql"):
        raise PersonaError(
            "run_dispatch='queue' (PERSONA_RUN_DISPATCH) needs PostgreSQL "
            "(PERSONA_DATABASE_URL=postgresql+psycopg://…)",
            code="queue_needs_postgresql",
        )
    from persona.runs.queue import ProcrastinateDispatcher  # needs the postgres extra

    return ProcrastinateDispatcher(
        runner,
        runner.writes.run,
        url,
        execute=settings.execute_runs,
        concurrency=settings.max_concurrent_runs,
        timeouts=timeouts_of(settings),
    )


async def stop_runs(parts: Parts) -> None:
    """End the event streams, stop the dispatcher (active runs stay re-queueable) and the
    finished-run listener."""
    await parts.hub.aclose()
    await parts.sender.aclose()
    await parts.dispatcher.shutdown()
    if parts.listener is not None:
        await parts.listener.close()


async def release(parts: Parts) -> None:
    """Close the threads, the write queue and the engine, once runs are stopped."""
    # Let database calls already handed to a thread finish before the engine goes.
    await asyncio.to_thread(parts.executor.shutdown, wait=True)
    await parts.writes.close()
    parts.health.close()
    parts.database.dispose()
