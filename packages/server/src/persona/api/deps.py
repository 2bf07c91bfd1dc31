"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Query, Request, params
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException
from starlette.responses import Response

from persona.access.principal import Principal
from persona.access.scopes import RUN_STARTING_OPERATIONS, Scope, changes_state, required_scope
from persona.api.audit import audited
from persona.api.auth import (
    QUERY_TOKEN_NAMES,
    Access,
    Unauthorized,
    authenticate,
    authorize,
    presented_token,
    token_matches,
)
from persona.schemas import Problem
from persona.service import PersonaService

__all__ = ["QUERY_TOKEN_NAMES", "Unauthorized", "presented_token", "token_matches"]

BEARER_SCHEME_NAME = "bearerAuth"
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name=BEARER_SCHEME_NAME,
    description=(
        "`Authorization: Bearer <key>`: an API key (`psk_…`, see /keys) or the server's "
        "PERSONA_API_TOKEN. The scope an operation needs (`read`, `write`, `admin`) is "
        "listed in its security requirement; each scope includes the ones before it."
    ),
)


RATE_LIMIT_HEADERS = {
    "Retry-After": {"description": "Seconds until the window ends.", "schema": {"type": "integer"}},
    "RateLimit-Policy": {
        "description": 'The quota and window (IETF draft): `"requests";q=600;w=60`.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it (IETF draft): `"requests";r=0;t=12`.',
        "schema": {"type": "string"},
    },
}
ACCESS_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing, invalid, revoked or expired key."},
    403: {
        "model": Problem,
        "description": "The key lacks the scope this operation needs (`insufficient_scope`).",
    },
    429: {
        "model": Problem,
        "description": "Over a rate limit (`rate_limited`): try again after `Retry-After`.",
        "headers": RATE_LIMIT_HEADERS,
    },
}


def bearer_security(scope: Scope) -> list[dict[str, list[str]]]:
    return [{BEARER_SCHEME_NAME: [scope.value]}]


# Dependencies are ``async def`` although they never await: FastAPI would run a plain ``def``
# in its thread pool, a thread hop per dependency per request.


async def get_service(request: Request) -> PersonaService:
    service: PersonaService = request.app.state.service
    return service


async def require_token(request: Request) -> Principal:
    """Who the request acts as (401/429 otherwise): the check every protected path shares.

    Routes check their scope too (``TokenFirstRoute``); other callers use
    ``RequireScope(Scope.write)`` as a dependency, or ``persona.api.auth.authorize``."""
    return await authenticate(request)


def RequireScope(needed: Scope) -> Any:
    """A dependency that authorizes the request for ``needed`` and gives its principal."""

    async def authorized(request: Request) -> Principal:
        access = await authorize(request, needed)
        return access.principal

    return Annotated[Principal, Depends(authorized)]


class UnsupportedMediaType(HTTPException):
    code = "unsupported_media_type"

    def __init__(self, content_type: str | None) -> None:
        given = f"'{content_type}'" if content_type else "no Content-Type"
        super().__init__(415, detail=f"Send the body as application/json, not {given}.")


def is_json_media_type(content_type: str | None) -> bool:
    """application/json or application/*+json, parameters (charset) aside."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length != "0")


def check_json_body(request: Request) -> None:
    """415 for a body a JSON route would otherwise read as a string and answer with 422."""
    content_type = request.headers.get("content-type")
    if has_body(request) and not is_json_media_type(content_type):
        raise UnsupportedMediaType(content_type)


class TokenFirstRoute(APIRoute):
    """A route that needs a key with a scope, checked before FastAPI reads the body.

    FastAPI parses the body before it runs dependencies, so a token dependency would give a
    client with no token a 422 describing its malformed body instead of a 401. The check is
    the route's own rather than a dependency's (which FastAPI would resolve on every request
    on top of it); the operation declares the bearer scheme, with the scope it needs
    (``persona.access.scopes.required_scope``), and its 401, 403 and 429 answers in the
    OpenAPI document. A state-changing request is recorded in the audit log, however it
    ends.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        (method,) = kwargs.get("methods") or ["GET"]
        self.needed_scope = required_scope(method, path)
        kwargs["openapi_extra"] = {
            "security": bearer_security(self.needed_scope),
            **(kwargs.get("openapi_extra") or {}),
        }
        kwargs["responses"] = {**ACCESS_PROBLEMS, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = self.handler_after_token()
        body_field = self.body_field
        takes_json = body_field is not None and not isinstance(body_field.field_info, params.Form)
        needed = self.needed_scope
        starts_run = self.operation_id in RUN_STARTING_OPERATIONS

        async def checked(request: Request) -> Response:
            access = await self.authorize(request, needed, starts_run=starts_run)
            if takes_json:
                check_json_body(request)
            response = await handle(request)
            response.headers.update(access.headers())
            return response

        if any(changes_state(method) for method in self.methods or ()):
            return audited(checked, self.operation_id or self.name)
        return checked

    async def authorize(self, request: Request, needed: Scope, *, starts_run: bool) -> Access:
        """The route's credential check: a key or token with the scope it needs."""
        return await authorize(request, needed, starts_run=starts_run)

    def handler_after_token(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """What answers once the token is checked: FastAPI's own handler of the endpoint."""
        return super().get_route_handler()


ServiceDep = Annotated[PersonaService, Depends(get_service)]

Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=512, description="`next_cursor` of the previous page."),
]
NameFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="Only experiments whose name holds this text (any case).",
    ),
]


async def current_principal(request: Request) -> Principal | None:
    """Who the request acts as, as its route's check found (None outside protected routes)."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal


PrincipalDep = Annotated[Principal | None, Depends(current_principal)]
