"""The one way an event loop writes: on the single writer thread, small writes group-committed.

Many runs finishing (or starting) at once would otherwise queue one transaction each on the
writer thread; here the writes queued while one batch commits go together in the next
(``Database.write_together``). Callers just queue a write and await its result.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from persona.storage.database import Database

P = ParamSpec("P")
T = TypeVar("T")
_QueuedWrite = tuple[Callable[[], object], asyncio.Future[object]]

MAX_WRITES_PER_COMMIT = 12
"""Writes one group commit takes at most. Smaller transactions hand their results back
sooner: the runs waiting on them go on with their work (and their requests) in small waves,
each wave's requests leaving while the next commits, rather than all after one long
transaction; and the write lock is held for less time. Fewer writes per commit cost more
CPU in commits, more hold the waiting runs' requests back (benchmarks/concurrent_runs.py)."""


class WriteQueue:
    """Writes of one database, executed on one writer thread.

    ``run`` executes a write in a transaction of its own; ``queue`` (and ``write``, which
    awaits it) adds a small write made with ``Database.write_connection`` to the next group
    commit. Queued writes commit in the order they are queued, those storing new runs
    (``write_new_run``) after the others."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="persona-db-write")
        self._pending: list[_QueuedWrite] = []
        self._pending_new_runs: list[_QueuedWrite] = []
        self._committer: asyncio.Task[None] | None = None

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Execute a blocking write (a transaction of its own) on the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, functools.partial(fn, *args, **kwargs))

    def queue(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        """Queue a small write for the next group commit; the future has its result."""
        return self._enqueue(self._pending, functools.partial(fn, *args, **kwargs))

    async def write(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``queue`` the write and wait for its result."""
        return await self.queue(fn, *args, **kwargs)

    async def write_new_run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Like ``write``, for the write that stores a new run: it goes after the writes of
        the runs already executing. Runs started together then reach their requests a batch
        at a time while the rest are stored, instead of all after the last one is."""
        return await self._enqueue(self._pending_new_runs, functools.partial(fn, *args, **kwargs))

    async def drain(self) -> None:
        """Wait until every write queued so far is committed (or has failed)."""
        while self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)

    async def close(self) -> None:
        """Wait for the queued writes, then for the writes already on the writer thread."""
        await self.drain()
        await asyncio.to_thread(self._writer.shutdown, wait=True)

    def shutdown_now(self) -> None:
        """Stop the writer thread without waiting (a service that failed to start)."""
        self._writer.shutdown(wait=False)

    def _enqueue(self, queue: list[_QueuedWrite], write: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        queue.append((write, future))  # type: ignore[arg-type]
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_pending())
        return future

    def _next_batch(self) -> list[_QueuedWrite]:
        batch = self._pending[:MAX_WRITES_PER_COMMIT]
        del self._pending[: len(batch)]
        room = MAX_WRITES_PER_COMMIT - len(batch)
        batch += self._pending_new_runs[:room]
        del self._pending_new_runs[:room]
        return batch

    async def _commit_pending(self) -> None:
        try:
            while batch := self._next_batch():
                try:
                    outcomes = await self.run(
                        self._database.write_together, [write for write, _ in batch]
                    )
                except Exception as err:  # the commit failed: none of the batch is stored
                    outcomes = [err] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its run's task was cancelled meanwhile
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._committer = None
