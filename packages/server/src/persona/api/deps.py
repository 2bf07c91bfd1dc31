"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

import email.message
import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Query, Request, params
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.exceptions import HTTPException
from starlette.responses import Response

from persona.service import PersonaService

BEARER_SCHEME_NAME = "bearerAuth"
BEARER_SECURITY: list[dict[str, list[str]]] = [{BEARER_SCHEME_NAME: []}]
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name=BEARER_SCHEME_NAME,
    description="`Authorization: Bearer <token>`; the token is the server's PERSONA_API_TOKEN.",
)


# Dependencies are ``async def`` although they never await: FastAPI would run a plain ``def``
# in its thread pool, a thread hop per dependency per request.


async def get_service(request: Request) -> PersonaService:
    service: PersonaService = request.app.state.service
    return service


class Unauthorized(HTTPException):
    code = "unauthorized"

    def __init__(self, detail: str, *, invalid_token: bool) -> None:
        challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        super().__init__(401, detail=detail, headers={"WWW-Authenticate": challenge})


def token_matches(presented: str, accepted: tuple[bytes, ...]) -> bool:
    """Constant-time comparison against every accepted token (no early exit)."""
    candidate = presented.encode()
    results = [hmac.compare_digest(candidate, token) for token in accepted]
    return any(results)


def presented_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, parsed as HTTPBearer does."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials


def is_authorized(authorization: str | None, accepted: tuple[bytes, ...]) -> bool:
    """Whether a request with this Authorization header may use a protected route."""
    if not accepted:
        return True
    token = presented_token(authorization)
    return token is not None and token_matches(token, accepted)


QUERY_TOKEN_NAMES = ("token", "access_token", "api_key")
"""Query parameters clients try for a token. Never accepted: URLs end up in logs, proxies
and browser histories."""


async def require_token(request: Request) -> None:
    """Check the bearer token when the server has tokens configured."""
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    authorization = request.headers.get("authorization")
    if is_authorized(authorization, accepted):
        return
    if presented_token(authorization) is not None:
        raise Unauthorized("Invalid bearer token.", invalid_token=True)
    in_query = next((name for name in QUERY_TOKEN_NAMES if name in request.query_params), None)
    if in_query is not None:
        raise Unauthorized(
            f"Missing bearer token. A token in the query string (?{in_query}=) is not "
            "accepted: send it as 'Authorization: Bearer <token>'.",
            invalid_token=False,
        )
    raise Unauthorized("Missing bearer token.", invalid_token=False)


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
    """A route that needs the bearer token, checked before FastAPI reads the body.

    FastAPI parses the body before it runs dependencies, so a token dependency would give a
    client with no token a 422 describing its malformed body instead of a 401. The check is
    the route's own rather than a dependency's (which FastAPI would resolve on every request
    on top of it); the operation declares the bearer scheme in the OpenAPI document.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["openapi_extra"] = {
            "security": BEARER_SECURITY,
            **(kwargs.get("openapi_extra") or {}),
        }
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = self.handler_after_token()
        body_field = self.body_field
        takes_json = body_field is not None and not isinstance(body_field.field_info, params.Form)

        async def checked(request: Request) -> Response:
            await self.authorize(request)
            if takes_json:
                check_json_body(request)
            return await handle(request)

        return checked

    async def authorize(self, request: Request) -> None:
        """The route's credential check: the bearer token."""
        await require_token(request)

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
