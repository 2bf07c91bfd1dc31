"""Stream tickets: an authenticated POST mints one for a browser's EventSource (see
persona.api.tickets)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request

from persona.api.deps import ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.api.tickets import TICKET_PARAMETER, TICKET_SECONDS, StreamTarget, mint_ticket
from persona.events.schemas import StreamTicket
from persona.ids import utcnow

router = APIRouter(
    prefix="/experiments/{experiment_id}", tags=["events"], route_class=TokenFirstRoute
)
VALIDITY = (
    f"Valid for {TICKET_SECONDS} s from now, for this stream only, reconnects included; never "
    "logged. Open the stream with `new EventSource(base + url)` and `close()` it on the "
    "terminal event."
)


def _ticket(request: Request, target: StreamTarget, stream_route: str) -> StreamTicket:
    ticket, expires_at = mint_ticket(request, target, utcnow())
    path = request.url_for(stream_route, **request.path_params).path
    url = f"{path}?{urlencode({TICKET_PARAMETER: ticket})}"
    return StreamTicket(ticket=ticket, url=url, expires_at=expires_at)


@router.post(
    "/runs/{run_id}/stream-tickets",
    operation_id="createRunStreamTicket",
    status_code=201,
    response_model=StreamTicket,
    responses=problems(401, 404, 422),
    description="A ticket that opens the run's event stream (`listRunEvents`) without the "
    f"token. {VALIDITY}",
)
async def create_run_stream_ticket(
    experiment_id: str, run_id: str, service: ServiceDep, request: Request
) -> StreamTicket:
    """Mint a ticket for the run's event stream."""
    await service.get_run(experiment_id, run_id)
    return _ticket(request, StreamTarget(experiment_id, run_id), "list_run_events")


@router.post(
    "/stream-tickets",
    operation_id="createExperimentStreamTicket",
    status_code=201,
    response_model=StreamTicket,
    responses=problems(401, 404, 422),
    description="A ticket that opens the experiment's event stream (`listExperimentEvents`) "
    f"without the token. {VALIDITY}",
)
async def create_experiment_stream_ticket(
    experiment_id: str, service: ServiceDep, request: Request
) -> StreamTicket:
    """Mint a ticket for the experiment's event stream."""
    await service.get_experiment(experiment_id)
    return _ticket(request, StreamTarget(experiment_id), "list_experiment_events")
