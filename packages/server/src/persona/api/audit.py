"""Recording state-changing requests in the audit log, without making them wait.

What is kept: the operation id, the ids the path names, the status answered, the request
id, the key (id and name) and the time. Never a body, a query, a header or a secret."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from persona.access.operations import audit_record
from persona.access.principal import Principal
from persona.api.errors import DATABASE_UNAVAILABLE, request_id_of, status_for
from persona.errors import PersonaError
from persona.service import PersonaService

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
NOT_AUDITED = frozenset({429})
"""A refused flood must not flood the log: the limit answers it, the log keeps the rest."""


def status_of(exc: Exception) -> int:
    """The status the app's error handlers answer this error with."""
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 422
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return 503
    if isinstance(exc, PersonaError):
        return status_for(exc)
    return 500


def audited(handle: Handler, operation_id: str) -> Handler:
    """``handle``, recording each request in the audit log once it is answered."""

    async def recorded(request: Request) -> Response:
        try:
            response = await handle(request)
        except Exception as exc:
            record(request, operation_id, status_of(exc))
            raise
        record(request, operation_id, response.status_code)
        return response

    return recorded


def record(request: Request, operation_id: str, status: int) -> None:
    if status in NOT_AUDITED:
        return
    # None: refused before its key was known.
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    target_ids = {name: str(value) for name, value in request.path_params.items()}
    service: PersonaService = request.app.state.service
    service.record_audit(
        audit_record(
            key_id=principal.key_id if principal else None,
            key_name=principal.key_name if principal else None,
            operation_id=operation_id,
            target_ids=target_ids,
            status=status,
            request_id=request_id_of(request),
        )
    )
