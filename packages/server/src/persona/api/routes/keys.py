from __future__ import annotations

from fastapi import APIRouter, Response

from persona.access.schemas import ApiKey, ApiKeyCreate, ApiKeyList, ApiKeyUpdate, ApiKeyWithSecret
from persona.api.deps import ServiceDep, TokenFirstRoute
from persona.api.openapi import problems

router = APIRouter(prefix="/keys", tags=["keys"], route_class=TokenFirstRoute)


@router.post(
    "",
    operation_id="createKey",
    status_code=201,
    response_model=ApiKeyWithSecret,
    responses=problems(400, 401, 422),
)
async def create_key(body: ApiKeyCreate, service: ServiceDep) -> ApiKeyWithSecret:
    """Create an API key. The answer holds its secret (`psk_…`), shown only now: the
    server keeps a hash of it and cannot show it again."""
    return await service.create_key(body)


@router.get("", operation_id="listKeys", response_model=ApiKeyList, responses=problems(401))
async def list_keys(service: ServiceDep) -> ApiKeyList:
    """Every key, revoked ones too, oldest first, with what each one's runs have spent
    (never a secret)."""
    return await service.list_keys()


@router.patch(
    "/{key_id}",
    operation_id="updateKey",
    response_model=ApiKey,
    responses=problems(400, 401, 404, 422),
)
async def update_key(key_id: str, body: ApiKeyUpdate, service: ServiceDep) -> ApiKey:
    """Set or clear the key's spend cap (`max_cost_usd`); a revoked key is 404."""
    return await service.update_key(key_id, max_cost_usd=body.max_cost_usd)


@router.delete(
    "/{key_id}",
    operation_id="revokeKey",
    status_code=204,
    responses=problems(401, 404, 422),
)
async def revoke_key(key_id: str, service: ServiceDep) -> Response:
    """Revoke the key: every server sharing the database refuses it from now on (401).
    It stays listed, so that the audit log and its runs still name it."""
    await service.revoke_key(key_id)
    return Response(status_code=204)
