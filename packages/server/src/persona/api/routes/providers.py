from __future__ import annotations

from fastapi import APIRouter

from persona.api.deps import ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.schemas import ProviderInfo

router = APIRouter(tags=["providers"], route_class=TokenFirstRoute)


@router.get(
    "/providers",
    operation_id="listProviders",
    response_model=list[ProviderInfo],
    responses=problems(401),
)
async def list_providers(service: ServiceDep) -> list[ProviderInfo]:
    """Which providers exist, which are configured, and the env var that configures each."""
    return service.list_providers()
