"""A run's or an experiment's events as one ordered, duplicate-free async iterator.

Each stream subscribes first, then reads the backlog from the table, then takes what the hub
offers: an event the backlog already gave (same run, same number or lower) is skipped, so the
switch from backlog to live loses nothing and repeats nothing. A stream whose inbox
overflowed, or whose run is gone, reads the table again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, TypeVar

from persona.errors import NotFoundError
from persona.events.hub import Call, EventHub, Subscription
from persona.storage import Repository
from persona.storage.events import TERMINAL_EVENT_TYPES, StoredRunEvent

PAGE = 500
"""Events read from the table at a time."""

U = TypeVar("U")


class ClosingStream(AsyncIterator[U]):
    """An async iterator whose ``aclose`` always releases what it holds, even when it was
    closed before its first item (an async generator's ``finally`` would not run then).

    ``nothing_follows`` is known when it opens: the run has ended and no event follows the
    one it resumes after, so it yields nothing (an HTTP stream answers 204 then)."""

    def __init__(
        self,
        source: AsyncGenerator[Any, None] | ClosingStream[Any],
        release: Callable[[], None] = lambda: None,
        convert: Callable[[Any], U] | None = None,
    ) -> None:
        self._source = source
        self._release = release
        self._convert = convert
        self.nothing_follows: bool = isinstance(source, ClosingStream) and source.nothing_follows

    def __aiter__(self) -> ClosingStream[U]:
        return self

    async def __anext__(self) -> U:
        item = await self._source.__anext__()
        return self._convert(item) if self._convert is not None else item

    async def aclose(self) -> None:
        try:
            await self._source.aclose()
        finally:
            self._release()


async def open_run_event_stream(
    hub: EventHub,
    call: Call,
    repository: Repository,
    experiment_id: str,
    run_id: str,
    after: int,
) -> ClosingStream[StoredRunEvent]:
    """The run's events numbered after ``after``, then live ones, up to its terminal event
    (or until the run is deleted). Raises NotFoundError before returning for a run that is
    not the experiment's. One database read opens it: the run's state and first events."""
    subscription = await hub.subscribe(run_id=run_id, after=after)
    try:
        finished, page = await hub.read_start(run_id, experiment_id, after, PAGE)
    except BaseException:
        hub.unsubscribe(subscription)
        raise
    events = _run_events(hub, call, repository, run_id, subscription, after, finished, page)
    stream: ClosingStream[StoredRunEvent] = ClosingStream(
        events, lambda: hub.unsubscribe(subscription)
    )
    stream.nothing_follows = finished and not page
    return stream


async def _run_events(
    hub: EventHub,
    call: Call,
    repository: Repository,
    run_id: str,
    subscription: Subscription,
    last: int,
    finished: bool,
    page: list[StoredRunEvent],
) -> AsyncGenerator[StoredRunEvent, None]:
    try:
        while True:
            for event in page:
                last = event.seq
                yield event
                if event.type in TERMINAL_EVENT_TYPES:
                    return
            if len(page) == PAGE:  # more backlog
                page = await call(repository.run_events, run_id, after=last, limit=PAGE)
                continue
            if subscription.gone or finished:
                return  # also a run finished before events were recorded: it has none
            while (live := await subscription.next()) is not None:
                if live.seq <= last:
                    continue
                last = live.seq
                yield live
                if live.type in TERMINAL_EVENT_TYPES:
                    return
            # Fallen behind, or the run is gone: read the table. Draining first, so what
            # the inbox held is in what is read (or older).
            subscription.drain()
            try:
                finished, page = await hub.read_start(run_id, None, last, PAGE)
            except NotFoundError:
                return
    finally:
        hub.unsubscribe(subscription)


async def experiment_event_stream(
    hub: EventHub,
    call: Call,
    repository: Repository,
    experiment_id: str,
    start: StoredRunEvent | None,
) -> AsyncGenerator[StoredRunEvent, None]:
    """The experiment's events after ``start`` (None: all of them), then live ones, until
    the caller stops reading."""
    subscription = await hub.subscribe(experiment_id=experiment_id)
    last_by_run: dict[str, int] = {}
    try:
        while True:
            subscription.drain()  # before the backlog: what it held is in the backlog then
            async for event in _experiment_backlog(call, repository, experiment_id, start):
                start = event
                if event.seq > last_by_run.get(event.run_id, 0):
                    last_by_run[event.run_id] = event.seq
                    yield event
            while (live := await subscription.next()) is not None:
                if live.seq <= last_by_run.get(live.run_id, 0):
                    continue
                last_by_run[live.run_id] = live.seq
                start = live
                yield live
            if subscription.gone:
                return
    finally:
        hub.unsubscribe(subscription)


async def _experiment_backlog(
    call: Call, repository: Repository, experiment_id: str, start: StoredRunEvent | None
) -> AsyncIterator[StoredRunEvent]:
    while True:
        page: list[StoredRunEvent] = await call(
            repository.experiment_events_after, experiment_id, start, PAGE
        )
        for event in page:
            yield event
            start = event
        if len(page) < PAGE:
            return


__all__ = ["ClosingStream", "experiment_event_stream", "open_run_event_stream"]
