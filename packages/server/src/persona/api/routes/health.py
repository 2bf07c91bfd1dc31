from __future__ import annotations

from fastapi import APIRouter, Response

from persona.api.deps import ServiceDep
from persona.api.openapi import problems
from persona.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    operation_id="getHealth",
    response_model=Health,
    responses={
        503: {"model": Health, "description": "The database is unreachable."},
        **problems(),
    },
    # Public on purpose: an explicit empty requirement, so no one reads the absence as an
    # oversight (Redocly's security-defined rule does).
    openapi_extra={"security": []},
)
async def get_health(service: ServiceDep, response: Response) -> Health:
    """Liveness and database reachability. Needs no token."""
    health = await service.get_health()
    if health.database != "ok":
        response.status_code = 503
    return health
