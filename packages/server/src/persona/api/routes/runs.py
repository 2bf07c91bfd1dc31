from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response

from persona.api.deps import Cursor, Limit, PrincipalDep, ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.errors import InvalidInputError
from persona.schemas import (
    EvidencePage,
    GenerationOverrides,
    Run,
    RunDetail,
    RunPage,
    RunStatus,
)
from persona.storage.evidence import EvidenceFilter

router = APIRouter(
    prefix="/experiments/{experiment_id}",
    tags=["runs"],
    route_class=TokenFirstRoute,
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Same key and body: the same run comes back (200). Same key, other body: 409.",
    ),
]
Overrides = Annotated[
    GenerationOverrides | None,
    Body(
        description="Per-run overrides of the experiment's config.",
        openapi_examples={
            "none": {"summary": "The experiment's own config", "value": {}},
            "local": {
                "summary": "Offline, two personas, reproducible",
                "value": {"provider": "local", "persona_count": 2, "seed": 7},
            },
        },
    ),
]
MAX_EVIDENCE_IDS = 200
"""Evidence ids one request may filter by."""
LOCATION_HEADER = {"Location": {"schema": {"type": "string"}, "description": "The run's URL."}}
RUN_ID = {"experiment_id": "$response.body#/experiment_id", "run_id": "$response.body#/id"}
RUN_LINKS = {
    "GetRun": {"operationId": "getRun", "parameters": RUN_ID},
    "CancelRun": {"operationId": "cancelRun", "parameters": RUN_ID},
}


def run_location(request: Request, run: Run) -> str:
    return str(request.url_for("get_run", experiment_id=run.experiment_id, run_id=run.id).path)


@router.post(
    "/generate",
    operation_id="startRun",
    status_code=202,
    response_model=Run,
    responses={
        202: {
            "description": "Queued; `Location` is the run's URL.",
            "headers": LOCATION_HEADER,
            "links": RUN_LINKS,
        },
        200: {
            "model": Run,
            "description": "A replay: the run that an earlier request with this key started.",
            "headers": LOCATION_HEADER,
            "links": RUN_LINKS,
        },
        **problems(400, 401, 404, 409, 413, 422),
    },
)
async def start_generation(
    experiment_id: str,
    service: ServiceDep,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    overrides: Overrides = None,
    idempotency_key: IdempotencyKey = None,
) -> Run:
    """Queue a generation run. A provider without its API key is refused (409, naming the key)."""
    key_id = principal.key_id if principal else None
    started = await service.start_run(
        experiment_id,
        overrides,
        idempotency_key=idempotency_key,
        budgets=await service.key_budgets(key_id),
        key_id=key_id,
    )
    if not started.created:
        response.status_code = 200
    response.headers["Location"] = run_location(request, started.run)
    return started.run


@router.get(
    "/runs",
    operation_id="listRuns",
    response_model=RunPage,
    responses=problems(401, 404, 422),
)
async def list_runs(
    experiment_id: str,
    service: ServiceDep,
    status: Annotated[RunStatus | None, Query(description="Only runs in this state.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RunPage:
    """The experiment's runs, newest first."""
    return await service.list_runs(experiment_id, status=status, limit=limit, cursor=cursor)


@router.get(
    "/runs/{run_id}",
    operation_id="getRun",
    response_model=RunDetail,
    responses={
        200: {
            "description": "The run, with its personas once it has succeeded.",
            "links": {
                "GetFirstPersona": {
                    "operationId": "getPersona",
                    "parameters": {"persona_id": "$response.body#/persona_ids/0"},
                }
            },
        },
        **problems(401, 404, 422),
    },
)
async def get_run(experiment_id: str, run_id: str, service: ServiceDep) -> RunDetail:
    """One run; its personas are embedded once it has succeeded."""
    return await service.get_run(experiment_id, run_id)


@router.post(
    "/runs/{run_id}/cancel",
    operation_id="cancelRun",
    status_code=202,
    response_model=Run,
    responses=problems(401, 404, 409, 422),
)
async def cancel_run(experiment_id: str, run_id: str, service: ServiceDep) -> Run:
    """Cancel a queued or running run; 409 when it has already finished."""
    return await service.cancel_run(experiment_id, run_id)


def evidence_filter(
    ids: Annotated[
        list[str] | None,
        Query(
            max_length=MAX_EVIDENCE_IDS,
            description="Only these evidence ids: repeat the parameter or separate by commas.",
        ),
    ] = None,
    participant: Annotated[
        str | None, Query(min_length=1, max_length=500, description="Only this participant.")
    ] = None,
    source: Annotated[
        str | None,
        Query(min_length=1, max_length=4096, description="Only this source, as the run names it."),
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=500, description="Text contains this (case-insensitive)."),
    ] = None,
) -> EvidenceFilter:
    wanted = [part.strip() for value in ids or [] for part in value.split(",") if part.strip()]
    if len(wanted) > MAX_EVIDENCE_IDS:
        raise InvalidInputError(
            f"at most {MAX_EVIDENCE_IDS} evidence ids per request, got {len(wanted)}",
            location=["query", "ids"],
        )
    return EvidenceFilter(ids=wanted, participant=participant, source=source, text=q)


@router.get(
    "/runs/{run_id}/evidence",
    operation_id="listRunEvidence",
    response_model=EvidencePage,
    responses=problems(401, 404, 422),
)
async def list_run_evidence(
    experiment_id: str,
    run_id: str,
    service: ServiceDep,
    where: Annotated[EvidenceFilter, Depends(evidence_filter)],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> EvidencePage:
    """The evidence records the run read, as they were then, in source order (empty until it
    has read its sources)."""
    return await service.list_run_evidence(experiment_id, run_id, where, limit=limit, cursor=cursor)
