"""``EventHub``: every open event stream of this process, fed by one reader.

Streams subscribe to a run or to an experiment. One pump task, alive while any stream is
open, learns that the database changed and then reads what is new for all of them at once:
the latest event number of each watched run (one grouped query), then the events past what
it has handed out. How it learns of a change depends on the database:

- SQLite: it looks at ``PRAGMA data_version`` (a read of a few microseconds on the event
  loop, see ``Database.data_version_now``) every ``POLL_INTERVAL``; the number changes with
  every commit of any connection, this process's writer and other processes alike.
- PostgreSQL: a trigger NOTIFYs ``persona_run_event`` for each event (migration 0008) and
  ``wake()`` is called for it (``persona.runs.finished``); it also re-reads every
  ``RECHECK_INTERVAL`` in case a notification was lost with the listening connection.

Streams then cost nothing while nothing happens, and the reads grow with the watched runs
that changed, not with the number of streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from persona.errors import NotFoundError
from persona.storage import ReadWouldWait, Repository
from persona.storage.events import StoredRunEvent
from persona.storage.faults import is_transient
from persona.storage.run_events import StreamStart

logger = logging.getLogger("persona.events")

POLL_INTERVAL = 0.025
"""Seconds between two looks at SQLite's data_version while streams are open."""
RECHECK_INTERVAL = 2.0
"""Seconds after which the pump reads again even if it heard of no change."""
QUEUE_LIMIT = 1000
"""Events held for one stream that is not reading; past it the stream re-reads the table."""

Call = Callable[..., Awaitable[Any]]
"""Runs a blocking repository method on a database thread: ``await call(fn, *args)``."""


class Subscription:
    """One stream's inbox: the events of its run or experiment, in the order they were read.

    ``lagged`` is set when events were dropped because the inbox was full, or when the run's
    events disappeared; the stream then reads the table. ``gone`` is set when the hub closes
    and no more events will come."""

    def __init__(self, run_id: str | None, experiment_id: str | None) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.lagged = False
        self.gone = False
        self._inbox: asyncio.Queue[StoredRunEvent | None] = asyncio.Queue(QUEUE_LIMIT)

    def offer(self, event: StoredRunEvent | None) -> None:
        try:
            self._inbox.put_nowait(event)
        except asyncio.QueueFull:
            self.lagged = True

    def end(self) -> None:
        self.gone = True
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(None)

    def recheck(self) -> None:
        """Have the stream read the table (as if it had fallen behind)."""
        self.lagged = True
        with contextlib.suppress(asyncio.QueueFull):
            self._inbox.put_nowait(None)

    async def next(self) -> StoredRunEvent | None:
        """The next event, or None when the stream must look at the table (lagged, gone)."""
        if self.lagged or self.gone:
            return None
        return await self._inbox.get()

    def drain(self) -> None:
        """Forget what the inbox holds (the stream is about to read the table instead)."""
        while not self._inbox.empty():
            self._inbox.get_nowait()
        self.lagged = False


class EventHub:
    """The open streams of one process, and the pump that feeds them."""

    def __init__(
        self,
        repository: Repository,
        call: Call,
        data_version: Callable[[], Hashable] | None,
    ) -> None:
        self._repository = repository
        self._call = call
        self._data_version = data_version
        self._by_run: dict[str, set[Subscription]] = {}
        self._by_experiment: dict[str, set[Subscription]] = {}
        self._handed_out: dict[str, int] = {}
        """Per run, the number of the last event the pump read (and offered)."""
        self._missing: set[str] = set()
        """Watched runs without events at the last read."""
        self._starts: list[tuple[StreamStart, int, asyncio.Future[Any]]] = []
        self._start_reader: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        self.stopping = False
        """Set by ``stop_streams``: every stream ends, and streams opened now end at once."""

    async def read_start(
        self, run_id: str, experiment_id: str | None, after: int, limit: int
    ) -> tuple[bool, list[StoredRunEvent]]:
        """Whether the run has finished, then its first ``limit`` events after ``after``, read
        together with those of every other stream opening meanwhile (one thread hop and one
        transaction for all: opened one by one, a burst of streams waits on the database
        threads). NotFoundError for a run that is not there or not ``experiment_id``'s."""
        waiter: asyncio.Future[tuple[bool, list[StoredRunEvent]] | None]
        waiter = asyncio.get_running_loop().create_future()
        self._starts.append((StreamStart(run_id, experiment_id, after), limit, waiter))
        if self._start_reader is None or self._start_reader.done():
            self._start_reader = asyncio.create_task(self._read_starts())
        found = await waiter
        if found is None:
            raise NotFoundError("run", run_id)
        return found

    async def _read_starts(self) -> None:
        while self._starts:
            batch, self._starts = self._starts, []
            limit = max(limit for _, limit, _ in batch)
            try:
                found = await self._call(
                    self._repository.stream_starts, [start for start, _, _ in batch], limit
                )
            except Exception as exc:  # every stream waiting on this read fails with it
                for _, _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for (_, own_limit, waiter), result in zip(batch, found, strict=True):
                if not waiter.done():
                    waiter.set_result(
                        None if result is None else (result[0], result[1][:own_limit])
                    )

    @property
    def stream_count(self) -> int:
        return sum(map(len, self._by_run.values())) + sum(map(len, self._by_experiment.values()))

    async def subscribe(
        self, *, run_id: str | None = None, experiment_id: str | None = None, after: int = 0
    ) -> Subscription:
        """Start collecting the events of ``run_id`` numbered after ``after`` (or those of
        every run of ``experiment_id`` committed from now on). The hub may offer events the
        caller reads from the table too; the caller skips those it has."""
        if self._closed:
            raise RuntimeError("the event hub is closed")
        subscription = Subscription(run_id, experiment_id)
        if self.stopping:
            subscription.end()  # what the table holds, then the end
            return subscription
        if run_id is not None:
            # A run new to the hub is read from ``after`` on; one already read keeps its
            # position, and the caller reads the events up to it from the table.
            self._handed_out.setdefault(run_id, after)
            self._by_run.setdefault(run_id, set()).add(subscription)
        if experiment_id is not None:
            heads: dict[str, int] = await self._call(
                self._repository.event_heads, [], [experiment_id]
            )
            for known_run, seq in heads.items():
                self._handed_out.setdefault(known_run, seq)
            self._by_experiment.setdefault(experiment_id, set()).add(subscription)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_pump(), name="persona-event-pump")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        for key, index in (
            (subscription.run_id, self._by_run),
            (subscription.experiment_id, self._by_experiment),
        ):
            if key is not None and key in index:
                index[key].discard(subscription)
                if not index[key]:
                    del index[key]

    def wake(self) -> None:
        """Something was committed (a notification): read what is new now."""
        self._woken.set()

    def stop_streams(self) -> None:
        """End every open stream now, and every stream opened from now on after what the
        table holds: the server is stopping, and its clients resume elsewhere (or after the
        restart) with Last-Event-ID. Without this, a stream would hold its connection until
        the server's grace period ran out and cut it."""
        self.stopping = True
        for subscriptions in (*self._by_run.values(), *self._by_experiment.values()):
            for subscription in subscriptions:
                subscription.end()

    async def aclose(self) -> None:
        self._closed = True
        for subscriptions in (*self._by_run.values(), *self._by_experiment.values()):
            for subscription in subscriptions:
                subscription.end()
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _run_pump(self) -> None:
        seen: Hashable = None
        while self._by_run or self._by_experiment:
            seen, changed = await self._wait_for_change(seen)
            if not changed:
                continue
            try:
                await self._read_new_events()
            except Exception as exc:  # the pump must outlive one failed read; streams wait
                # A database outage is logged once, by the engine's outage log.
                if not is_transient(exc):
                    logger.exception("reading new run events failed; retrying")
                await asyncio.sleep(RECHECK_INTERVAL)

    async def _wait_for_change(self, seen: Hashable) -> tuple[Hashable, bool]:
        """Wait until the database may hold new events; returns the version now seen."""
        if self._data_version is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), RECHECK_INTERVAL)
            self._woken.clear()
            return None, True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RECHECK_INTERVAL
        while loop.time() < deadline and not self._woken.is_set():
            await asyncio.sleep(POLL_INTERVAL)
            try:
                version = self._data_version()
            except ReadWouldWait:
                return seen, True
            if version != seen:
                return version, True
        self._woken.clear()
        return seen, True

    async def _read_new_events(self) -> None:
        runs, experiments = list(self._by_run), list(self._by_experiment)
        heads: dict[str, int] = await self._call(self._repository.event_heads, runs, experiments)
        missing = {run_id for run_id in runs if run_id not in heads}
        for run_id in missing - self._missing:
            # Deleted with its experiment (or a run from before events were recorded): its
            # streams look at the table, once, to tell which.
            for subscription in self._by_run.get(run_id, ()):
                subscription.recheck()
        self._missing = missing
        positions = {
            run_id: self._handed_out.get(run_id, 0)
            for run_id, seq in heads.items()
            if seq > self._handed_out.get(run_id, 0)
        }
        # Forget runs no stream needs any more; a watched run keeps its position even when a
        # read that began before it was watched did not see it.
        kept = heads.keys() | (self._by_run.keys() & self._handed_out.keys())
        self._handed_out = {run_id: self._handed_out.get(run_id, 0) for run_id in kept}
        if not positions:
            return
        events: list[StoredRunEvent] = await self._call(self._repository.new_events, positions)
        for event in events:
            self._handed_out[event.run_id] = max(self._handed_out[event.run_id], event.seq)
            for subscription in self._by_run.get(event.run_id, ()):
                subscription.offer(event)
            for subscription in self._by_experiment.get(event.experiment_id, ()):
                subscription.offer(event)
