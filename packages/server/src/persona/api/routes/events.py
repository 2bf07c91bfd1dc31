"""Run events: a run's or an experiment's, as JSON pages or as Server-Sent Events.

These routes take a stream ticket (``?ticket=``, persona.api.tickets) instead of the
token: a browser's EventSource cannot send an Authorization header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from persona.access.scopes import Scope
from persona.api.auth import Access
from persona.api.deps import Limit, ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.api.sse import event_stream_response, nothing_follows, wants_event_stream
from persona.api.tickets import TICKET_PARAMETER, TICKET_SECONDS, authorize_stream
from persona.errors import InvalidInputError
from persona.events.schemas import ExperimentEventPage, RunEventPage, event_key


class StreamRoute(TokenFirstRoute):
    """A route that accepts a stream ticket for its own run or experiment instead of the
    token."""

    async def authorize(self, request: Request, needed: Scope, *, starts_run: bool) -> Access:
        return await authorize_stream(request, needed)


router = APIRouter(prefix="/experiments/{experiment_id}", tags=["events"], route_class=StreamRoute)

Ticket = Annotated[
    str | None,
    Query(
        alias=TICKET_PARAMETER,
        max_length=1000,
        description="A stream ticket (`createRunStreamTicket`, `createExperimentStreamTicket`) "
        "instead of the bearer token, for a browser's EventSource: it opens this stream only "
        f"and is valid for {TICKET_SECONDS} s, reconnects included.",
    ),
]
# Left out of the document: one media type per response is what generated clients parse.
Accept = Annotated[str | None, Header(include_in_schema=False)]


@router.get(
    "/runs/{run_id}/events",
    operation_id="listRunEvents",
    response_model=RunEventPage,
    responses={
        200: {
            "description": "A page of the run's events as JSON; with `Accept: "
            "text/event-stream`, the events as Server-Sent Events (see the operation)."
        },
        204: {
            "description": "A stream of a run that has ended, resumed after its last event: "
            "nothing follows (an EventSource stops reconnecting)."
        },
        **problems(401, 404, 422),
    },
)
async def list_run_events(
    experiment_id: str,
    run_id: str,
    service: ServiceDep,
    limit: Limit = 100,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=2**31 - 1,
            description="Only events after this event id (0: from the first).",
        ),
    ] = 0,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=40,
            description="For a stream: resume after this event id (overrides `after`).",
        ),
    ] = None,
    ticket: Ticket = None,
    accept: Accept = None,
) -> RunEventPage | Response:
    """The run's state changes (queued, started, progress, succeeded, failed, cancelled),
    oldest first.

    With `Accept: text/event-stream` the same path streams them as Server-Sent Events: the
    events after `after` (or the `Last-Event-ID` header), then each one as it happens, until
    the run's terminal event (run.succeeded, run.failed or run.cancelled) ends the stream.
    Each SSE has the event's `type` as `event`, its `id` as `id`, and the event's JSON (one
    of the RunEvent schemas) as `data`; a comment is sent every 15 s of silence. Resumed
    after the terminal event, the answer is 204 No Content. When the server stops, the
    stream ends with a comment saying so: reconnect with `Last-Event-ID`."""
    if wants_event_stream(accept):
        start = after if last_event_id is None else _event_id(last_event_id)
        events = await service.stream_run_events(experiment_id, run_id, after=start)
        if events.nothing_follows:
            await events.aclose()
            return nothing_follows()
        return event_stream_response(
            events, lambda event: str(event.id), lambda: service.streams_stopped
        )
    return await service.list_run_events(experiment_id, run_id, after=after, limit=limit)


def _event_id(header: str) -> int:
    if not (header.isascii() and header.isdigit() and len(header) <= 12):
        raise InvalidInputError(
            f"Last-Event-ID must be the id of an event of the run (digits), not {header!r}",
            location=["header", "Last-Event-ID"],
        )
    return int(header)


@router.get(
    "/events",
    operation_id="listExperimentEvents",
    response_model=ExperimentEventPage,
    responses={
        200: {
            "description": "A page of the events of the experiment's runs as JSON; with "
            "`Accept: text/event-stream`, the events as Server-Sent Events."
        },
        **problems(401, 404, 422),
    },
)
async def list_experiment_events(
    experiment_id: str,
    service: ServiceDep,
    limit: Limit = 100,
    after: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Only events after the one with this key (`{run_id}:{event id}`, "
            "as `next_after` or a stream's event ids give it).",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=200,
            description="For a stream: resume after the event with this key.",
        ),
    ] = None,
    ticket: Ticket = None,
    accept: Accept = None,
) -> ExperimentEventPage | Response:
    """The events of all the experiment's runs, in the order they happened.

    With `Accept: text/event-stream` the same path streams them as Server-Sent Events for a
    dashboard: the events after `after` (or `Last-Event-ID`; neither: every event), then
    each new one, until the client disconnects. Event ids are keys `{run_id}:{event id}`.
    A new run can always start, so this stream never ends by itself (a deleted experiment
    answers 404, which stops an EventSource too); when the server stops, it ends with a
    comment saying so: reconnect with `Last-Event-ID`."""
    if wants_event_stream(accept):
        start = last_event_id if last_event_id is not None else after
        events = await service.stream_experiment_events(experiment_id, after=start)
        return event_stream_response(events, event_key, lambda: service.streams_stopped)
    return await service.list_experiment_events(experiment_id, after=after, limit=limit)
