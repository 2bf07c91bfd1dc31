"""The service's event operations: pages and streams of a run's or an experiment's events.

``PersonaService`` delegates to these; each checks what it reads exists before it returns,
so a stream for an unknown run fails with NotFoundError before its first byte.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from persona.errors import InvalidInputError
from persona.events.hub import Call, EventHub
from persona.events.schemas import (
    ExperimentEventPage,
    RunEvent,
    RunEventPage,
    event_key,
    run_event,
)
from persona.events.streams import (
    ClosingStream,
    experiment_event_stream,
    open_run_event_stream,
)
from persona.storage import Repository
from persona.storage.events import StoredRunEvent, parse_event_key


async def list_run_events(
    call: Call, repository: Repository, experiment_id: str, run_id: str, after: int, limit: int
) -> RunEventPage:
    found: list[StoredRunEvent] = await call(
        repository.run_events, run_id, after=after, limit=limit + 1, experiment_id=experiment_id
    )
    items = [run_event(event) for event in found[:limit]]
    return RunEventPage(items=items, next_after=items[-1].id if len(found) > limit else None)


async def stream_run_events(
    hub: EventHub, call: Call, repository: Repository, experiment_id: str, run_id: str, after: int
) -> ClosingStream[RunEvent]:
    events = await open_run_event_stream(hub, call, repository, experiment_id, run_id, after)
    return _public(events)


async def list_experiment_events(
    call: Call, repository: Repository, experiment_id: str, after: str | None, limit: int
) -> ExperimentEventPage:
    await call(repository.get_experiment, experiment_id)
    start = await _start_event(call, repository, experiment_id, after, ["query", "after"])
    found: list[StoredRunEvent] = await call(
        repository.experiment_events_after, experiment_id, start, limit + 1
    )
    items = found[:limit]
    next_after = event_key(items[-1]) if len(found) > limit else None
    return ExperimentEventPage(items=[run_event(e) for e in items], next_after=next_after)


async def stream_experiment_events(
    hub: EventHub, call: Call, repository: Repository, experiment_id: str, after: str | None
) -> AsyncIterator[RunEvent]:
    await call(repository.get_experiment, experiment_id)
    start = await _start_event(call, repository, experiment_id, after, ["header", "last-event-id"])
    return _public(experiment_event_stream(hub, call, repository, experiment_id, start))


async def _start_event(
    call: Call,
    repository: Repository,
    experiment_id: str,
    key: str | None,
    location: list[str | int],
) -> StoredRunEvent | None:
    """The event a listing or stream resumes after (None: from the first)."""
    if not key:
        return None
    parsed = parse_event_key(key)
    event: StoredRunEvent | None = None
    if parsed is not None:
        event = await call(repository.run_event, *parsed)
    if event is None or event.experiment_id != experiment_id:
        raise InvalidInputError(
            f"{key!r} is not the id of an event of this experiment: expected "
            "'{run_id}:{event id}' as given by an earlier event",
            location=location,
        )
    return event


def _public(
    events: AsyncGenerator[StoredRunEvent, None] | ClosingStream[StoredRunEvent],
) -> ClosingStream[RunEvent]:
    """The events in the API's shape; closing it closes ``events``."""
    return ClosingStream(events, convert=run_event)
