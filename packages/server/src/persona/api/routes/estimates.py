"""A run's estimate: what it would send and may cost, before it starts."""

from __future__ import annotations

from fastapi import APIRouter

from persona.api.deps import PrincipalDep, ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.api.routes.runs import Overrides
from persona.spend.schemas import RunEstimate

router = APIRouter(
    prefix="/experiments/{experiment_id}", tags=["runs"], route_class=TokenFirstRoute
)


@router.post(
    "/estimate",
    operation_id="estimateRun",
    response_model=RunEstimate,
    responses=problems(400, 401, 404, 409, 413, 422),
)
async def estimate_run(
    experiment_id: str, service: ServiceDep, principal: PrincipalDep, overrides: Overrides = None
) -> RunEstimate:
    """What a run with these overrides would send (requests, prompt tokens counted on its
    prompts, completion tokens bounded by each request's limit) and may cost, with the budgets
    it would be checked against. Sends nothing; an LLM provider must be configured (409)."""
    key_id = principal.key_id if principal else None
    budgets = await service.key_budgets(key_id)
    return await service.estimate_run(experiment_id, overrides, budgets=budgets)
