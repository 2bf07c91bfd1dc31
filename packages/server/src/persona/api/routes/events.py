from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from persona.api.deps import Limit, ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.api.sse import event_stream_response, wants_event_stream
from persona.events.schemas import ExperimentEventPage, event_key

router = APIRouter(
    prefix="/experiments/{experiment_id}", tags=["events"], route_class=TokenFirstRoute
)


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
    # Left out of the document: one media type per response is what generated clients parse.
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ExperimentEventPage | Response:
    """The events of all the experiment's runs, in the order they happened.

    With `Accept: text/event-stream` the same path streams them as Server-Sent Events for a
    dashboard: the events after `after` (or `Last-Event-ID`; neither: every event), then
    each new one, until the client disconnects. Event ids are keys `{run_id}:{event id}`."""
    if wants_event_stream(accept):
        start = last_event_id if last_event_id is not None else after
        events = await service.stream_experiment_events(experiment_id, after=start)
        return event_stream_response(events, event_key)
    return await service.list_experiment_events(experiment_id, after=after, limit=limit)
