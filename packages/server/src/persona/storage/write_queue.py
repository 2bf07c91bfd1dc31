"""The one way an event loop writes: on the single writer thread, small writes group-committed.

Many runs finishing (or starting) at once would otherwise queue one transaction each on the
writer thread; here the writes queued while one batch commits go together in the next
(``Database.write_together``). Callers just queue a write and await its result.

A queue waits out transient database failures (``persona.storage.faults``) as its
``RetryPolicy`` says: a run's writes (``with_retries``) are tried again, with backoff,
through a restart or an outage, and only raise ``DatabaseUnavailableError`` once the policy
gives up; a request's writes are tried once and fail at once, so that the request answers
503 rather than hang. Both share the writer thread and the group commits; the waits
between tries are spent on the event loop, never on the writer thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from persona.storage.database import Database
from persona.storage.faults import NO_RETRY, DelaySchedule, RetryPolicy, is_transient, unavailable

P = ParamSpec("P")
T = TypeVar("T")

MAX_WRITES_PER_COMMIT = 12
"""Writes one group commit takes at most. Smaller transactions hand their results back
sooner: the runs waiting on them go on with their work (and their requests) in small waves,
each wave's requests leaving while the next commits, rather than all after one long
transaction; and the write lock is held for less time. Fewer writes per commit cost more
CPU in commits, more hold the waiting runs' requests back (benchmarks/concurrent_runs.py)."""


@dataclass
class _QueuedWrite:
    write: Callable[[], object]
    future: asyncio.Future[object]
    policy: RetryPolicy
    retrying: Callable[[], bool]
    delays: DelaySchedule | None = field(default=None)

    def next_delay(self) -> float | None:
        """The wait before this write is tried again, or None when its policy gives up."""
        if not self.retrying():
            return None
        if self.delays is None:
            self.delays = self.policy.delays()
        return self.delays.next()


class _Writer:
    """The writer thread and the writes waiting for the next group commit."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="persona-db-write")
        self.pending: list[_QueuedWrite] = []
        self.pending_new_runs: list[_QueuedWrite] = []
        self.committer: asyncio.Task[None] | None = None
        self.retrying = True
        """False once the process stops: what is still failing then fails at once."""


class WriteQueue:
    """Writes of one database, executed on one writer thread.

    ``run`` executes a write in a transaction of its own; ``queue`` (and ``write``, which
    awaits it) adds a small write made with ``Database.write_connection`` to the next group
    commit. Queued writes commit in the order they are queued, those storing new runs
    (``write_new_run``) after the others."""

    def __init__(self, database: Database, *, retry: RetryPolicy = NO_RETRY) -> None:
        self._shared = _Writer(database)
        self.retry = retry

    def with_retries(self, retry: RetryPolicy) -> WriteQueue:
        """This queue (the same thread and group commits), its writes waiting out transient
        failures as ``retry`` says."""
        view = WriteQueue.__new__(WriteQueue)
        view._shared, view.retry = self._shared, retry
        return view

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Execute a blocking write (a transaction of its own) on the writer thread."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        delays = self.retry.delays()
        started = loop.time()
        while True:
            try:
                return await loop.run_in_executor(self._shared.thread, call)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                delay = delays.next() if self._shared.retrying else None
                if delay is None:
                    if self.retry.seconds <= 0:
                        raise
                    raise unavailable(exc, loop.time() - started) from exc
            await asyncio.sleep(delay)

    def queue(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        """Queue a small write for the next group commit; the future has its result."""
        return self._enqueue(self._shared.pending, functools.partial(fn, *args, **kwargs))

    async def write(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``queue`` the write and wait for its result."""
        return await self.queue(fn, *args, **kwargs)

    async def write_new_run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Like ``write``, for the write that stores a new run: it goes after the writes of
        the runs already executing. Runs started together then reach their requests a batch
        at a time while the rest are stored, instead of all after the last one is."""
        shared = self._shared
        return await self._enqueue(shared.pending_new_runs, functools.partial(fn, *args, **kwargs))

    def stop_retrying(self) -> None:
        """The process stops: writes still failing fail now instead of waiting the database
        out (their runs are taken over by the next process)."""
        self._shared.retrying = False

    async def drain(self) -> None:
        """Wait until every write queued so far is committed (or has failed)."""
        while self._shared.committer is not None:
            await asyncio.gather(self._shared.committer, return_exceptions=True)

    async def close(self) -> None:
        """Wait for the queued writes, then for the writes already on the writer thread."""
        await self.drain()
        await asyncio.to_thread(self._shared.thread.shutdown, wait=True)

    def shutdown_now(self) -> None:
        """Stop the writer thread without waiting (a service that failed to start)."""
        self._shared.thread.shutdown(wait=False)

    def _enqueue(self, queue: list[_QueuedWrite], write: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        shared = self._shared
        queue.append(_QueuedWrite(write, future, self.retry, lambda: shared.retrying))  # type: ignore[arg-type]
        if shared.committer is None:
            shared.committer = asyncio.create_task(_commit_pending(shared))
        return future


def _next_batch(shared: _Writer) -> list[_QueuedWrite]:
    batch = shared.pending[:MAX_WRITES_PER_COMMIT]
    del shared.pending[: len(batch)]
    room = MAX_WRITES_PER_COMMIT - len(batch)
    batch += shared.pending_new_runs[:room]
    del shared.pending_new_runs[:room]
    return batch


async def _commit_pending(shared: _Writer) -> None:
    loop = asyncio.get_running_loop()
    try:
        while batch := _next_batch(shared):
            writes = [queued.write for queued in batch]
            try:
                outcomes = await loop.run_in_executor(
                    shared.thread, shared.database.write_together, writes
                )
            except Exception as err:  # the commit failed: none of the batch is stored
                outcomes = [err] * len(batch)
            again, wait = _settle(batch, outcomes)
            if again:
                # In their order, before anything queued since: a run's writes keep theirs.
                shared.pending[:0] = again
                await asyncio.sleep(wait)
    finally:
        shared.committer = None


def _settle(batch: list[_QueuedWrite], outcomes: list[object]) -> tuple[list[_QueuedWrite], float]:
    """Hand each write its outcome, except those to try again (a transient failure their
    policy still waits out); returns those, and how long to wait before trying them."""
    again: list[_QueuedWrite] = []
    wait = 0.0
    for queued, outcome in zip(batch, outcomes, strict=True):
        if queued.future.done():  # its run's task was cancelled meanwhile
            continue
        if not isinstance(outcome, Exception):
            queued.future.set_result(outcome)
            continue
        delay = queued.next_delay() if is_transient(outcome) else None
        if delay is not None:
            again.append(queued)
            wait = max(wait, delay)
        elif queued.policy.seconds > 0 and is_transient(outcome):
            queued.future.set_exception(unavailable(outcome, queued.policy.seconds))
        else:
            queued.future.set_exception(outcome)
    return again, wait
