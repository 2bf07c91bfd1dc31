from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BeforeValidator

from persona.access.schemas import AuditPage
from persona.api.deps import Cursor, Limit, ServiceDep, TokenFirstRoute
from persona.api.openapi import problems
from persona.storage.audit import AuditFilter

router = APIRouter(prefix="/audit", tags=["audit"], route_class=TokenFirstRoute)

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_8601_only(value: object) -> object:
    """Pydantic would read a number as seconds since the epoch: the API takes dates."""
    if isinstance(value, str) and not ISO_DATE.match(value):
        raise ValueError("give an ISO 8601 date-time with its offset (2026-12-07T09:00:00Z)")
    return value


Moment = Annotated[AwareDatetime | None, BeforeValidator(iso_8601_only)]


@router.get(
    "",
    operation_id="listAuditEntries",
    response_model=AuditPage,
    responses=problems(401, 422),
)
async def list_audit_entries(
    service: ServiceDep,
    key_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this key's requests.")
    ] = None,
    operation_id: Annotated[
        str | None,
        Query(
            min_length=1, max_length=100, description="Only this operation (`deleteExperiment`)."
        ),
    ] = None,
    since: Annotated[Moment, Query(description="Entries at or after this time.")] = None,
    until: Annotated[Moment, Query(description="Entries before this time.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AuditPage:
    """State-changing requests, newest first: who (key), which operation on which ids, the
    status answered and the request id. Kept for PERSONA_AUDIT_RETENTION_DAYS days."""
    where = AuditFilter(key_id=key_id, operation_id=operation_id, since=since, until=until)
    return await service.list_audit_entries(where, limit=limit, cursor=cursor)
