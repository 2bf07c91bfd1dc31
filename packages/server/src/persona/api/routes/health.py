from __future__ import annotations

from fastapi import APIRouter, Response

from persona.api.deps import ServiceDep
from persona.api.errors import DATABASE_RETRY_AFTER_SECONDS
from persona.api.openapi import problems
from persona.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    operation_id="getHealth",
    response_model=Health,
    responses={
        503: {
            "model": Health,
            "description": "The database is unreachable; try again after Retry-After seconds.",
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before checking again.",
                    "schema": {"type": "integer"},
                }
            },
        },
        **problems(),
    },
    # Public on purpose: an explicit empty requirement, so no one reads the absence as an
    # oversight (Redocly's security-defined rule does).
    openapi_extra={"security": []},
)
async def get_health(service: ServiceDep, response: Response) -> Health:
    """Liveness and database reachability. Needs no token. A database that answers but is
    busy (statements waiting on a lock) gives 200 with status ``degraded``: a replica is not
    taken out of rotation for what every replica shares."""
    health = await service.get_health()
    if health.database == "unreachable":
        response.status_code = 503
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return health
