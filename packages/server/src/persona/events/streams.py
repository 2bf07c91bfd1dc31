"""A run's or an experiment's events as one ordered, duplicate-free async iterator.

Each stream subscribes first, then reads the backlog from the table, then takes what the hub
offers: an event the backlog already gave (same run, same number or lower) is skipped, so the
switch from backlog to live loses nothing and repeats nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from persona.events.hub import Call, EventHub, Subscription
from persona.storage import Repository
from persona.storage.events import TERMINAL_EVENT_TYPES, StoredRunEvent

PAGE = 500
"""Events read from the table at a time."""


async def run_event_stream(
    hub: EventHub, call: Call, repository: Repository, run_id: str, after: int
) -> AsyncIterator[StoredRunEvent]:
    """The run's events numbered after ``after``, then live ones, up to its terminal event
    (or until the run is deleted)."""
    subscription = await hub.subscribe(run_id=run_id)
    try:
        last = after
        while True:
            # In this order: what the inbox holds is then in the backlog (or newer), and a run
            # finished before the backlog is read has its terminal event in it, if any.
            subscription.drain()
            finished = await _finished_or_gone(call, repository, run_id)
            async for event in _run_backlog(call, repository, run_id, last):
                last = event.seq
                yield event
                if event.type in TERMINAL_EVENT_TYPES:
                    return
            if subscription.gone or finished:
                return
            while (live := await subscription.next()) is not None:
                if live.seq <= last:
                    continue
                last = live.seq
                yield live
                if live.type in TERMINAL_EVENT_TYPES:
                    return
    finally:
        hub.unsubscribe(subscription)


async def _run_backlog(
    call: Call, repository: Repository, run_id: str, after: int
) -> AsyncIterator[StoredRunEvent]:
    while True:
        page: list[StoredRunEvent] = await call(
            repository.run_events, run_id, after=after, limit=PAGE
        )
        for event in page:
            yield event
            after = event.seq
        if len(page) < PAGE:
            return


async def _finished_or_gone(call: Call, repository: Repository, run_id: str) -> bool:
    """True for a run that is finished or deleted: its stream ends after the backlog, even
    without a terminal event (runs finished before events were recorded have none)."""
    status = await call(repository.run_status, run_id)
    return status is None or status in ("succeeded", "failed", "cancelled")


async def experiment_event_stream(
    hub: EventHub,
    call: Call,
    repository: Repository,
    experiment_id: str,
    start: StoredRunEvent | None,
) -> AsyncIterator[StoredRunEvent]:
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


__all__ = ["Subscription", "experiment_event_stream", "run_event_stream"]
