"""Runs from the interface: start, cancel, live progress, and a run's evidence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.sse import format_sse_event
from starlette.responses import RedirectResponse, Response, StreamingResponse

from persona.api.deps import PrincipalDep, ServiceDep
from persona.api.sse import EVENT_STREAM, RETRY_MILLISECONDS
from persona.schemas import FINISHED_RUN_STATUSES
from persona.service import PersonaService
from persona.storage.evidence import EvidenceFilter
from persona.web.evidence import evidence_items
from persona.web.pages.experiments import experiment_url
from persona.web.pages.rendering import SECURITY_HEADERS, render
from persona.web.pages.route import WebRoute
from persona.web.templating import ENVIRONMENT

router = APIRouter(
    prefix="/ui/experiments/{experiment_id}/runs",
    route_class=WebRoute,
    include_in_schema=False,
)

EVIDENCE_PAGE_SIZE = 50
Filter = Annotated[str | None, Query(max_length=500)]
PageCursor = Annotated[str | None, Query(min_length=1, max_length=512)]


@router.post("")
async def start_run(experiment_id: str, service: ServiceDep, principal: PrincipalDep) -> Response:
    await service.start_run(experiment_id, key_id=principal.key_id if principal else None)
    return RedirectResponse(experiment_url(experiment_id), status_code=303)


@router.post("/{run_id}/cancel")
async def cancel_run(experiment_id: str, run_id: str, service: ServiceDep) -> Response:
    await service.cancel_run(experiment_id, run_id)
    return RedirectResponse(experiment_url(experiment_id), status_code=303)


@router.get("/{run_id}/progress")
async def run_progress(experiment_id: str, run_id: str, service: ServiceDep) -> Response:
    """The run's progress fragment, again at each of its events, as Server-Sent Events;
    ``done`` after the last one (the page then shows the run's outcome)."""
    events = await service.stream_run_events(experiment_id, run_id)
    return StreamingResponse(
        _progress_events(service, experiment_id, run_id, events),
        media_type=EVENT_STREAM,
        headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"},
    )


async def _progress_events(
    service: PersonaService, experiment_id: str, run_id: str, events: AsyncIterator[object]
) -> AsyncIterator[bytes]:
    template = ENVIRONMENT.get_template("_run_progress.html")
    yield format_sse_event(retry=RETRY_MILLISECONDS, comment="progress follows")
    try:
        async for _event in events:
            run = await service.get_run(experiment_id, run_id)
            fragment = " ".join(template.render(run=run).split("\n"))
            yield format_sse_event(data_str=fragment, event="progress")
            if run.status in FINISHED_RUN_STATUSES:
                yield format_sse_event(data_str=run.status, event="done")
                return
    finally:
        await events.aclose()  # type: ignore[attr-defined]


@router.get("/{run_id}/evidence")
async def run_evidence_page(
    request: Request,
    experiment_id: str,
    run_id: str,
    service: ServiceDep,
    participant: Filter = None,
    source: Filter = None,
    text: Filter = None,
    cursor: PageCursor = None,
) -> Response:
    """The records the run read, filtered, each with the persona lines citing it."""
    where = EvidenceFilter(
        participant=participant or None, source=source or None, text=text or None
    )
    experiment = await service.get_experiment(experiment_id)
    run = await service.get_run(experiment_id, run_id)
    page = await service.list_run_evidence(
        experiment_id, run_id, where, limit=EVIDENCE_PAGE_SIZE, cursor=cursor
    )
    query = {"participant": participant, "source": source, "text": text}
    return render(
        request,
        "evidence.html",
        experiment=experiment,
        run=run,
        where=where,
        records=evidence_items(page.items, run.personas),
        cursor=cursor,
        next_cursor=page.next_cursor,
        query_without_cursor=urlencode({k: v for k, v in query.items() if v}),
    )
