"""The one check of who a request is and what it may do: keys, scopes and rate limits.

Every protected route runs ``authorize`` (``TokenFirstRoute``); anything else that answers
for the app (an SSE stream, an ASGI mount such as /mcp) calls the same function with a
``Request`` of its scope:

    principal = await authorize(Request(scope), Scope.read)

and answers the ``HTTPException`` it may raise (401, 403, 429) as a problem.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.security.utils import get_authorization_scheme_param
from starlette.exceptions import HTTPException

from persona.access.key_secrets import KEY_PREFIX, MAX_SECRET_LENGTH, looks_like_key
from persona.access.limits import RateState
from persona.access.principal import BOOTSTRAP, OPEN, KeyRefused, Principal
from persona.access.scopes import Scope
from persona.service import PersonaService

UNKNOWN_ADDRESS = "unknown"

logger = logging.getLogger("persona.api")


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


QUERY_TOKEN_NAMES = ("token", "access_token", "api_key")
"""Query parameters clients try for a token. Never accepted: URLs end up in logs, proxies
and browser histories."""


class Forbidden(HTTPException):
    code = "insufficient_scope"

    def __init__(self, principal: Principal, needed: Scope) -> None:
        super().__init__(
            403,
            detail=(
                f"This key has scope '{principal.scope}'; this operation needs scope '{needed}'."
            ),
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
        )


class RateLimited(HTTPException):
    code = "rate_limited"

    def __init__(self, state: RateState, whose: str) -> None:
        super().__init__(
            429,
            detail=(
                f"Too many requests: {whose} may make {state.policy.limit} "
                f"({state.policy.name}) per {state.policy.window_seconds} s; try again in "
                f"{state.reset_seconds} s."
            ),
            headers={"Retry-After": str(state.reset_seconds), **state.headers()},
        )


@dataclass
class Access:
    """What ``authorize`` found: who, and the rate-limit windows the request counted in."""

    principal: Principal
    limits: list[RateState] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        """The RateLimit headers of the window closest to its limit."""
        if not self.limits:
            return {}
        return min(self.limits, key=lambda state: state.remaining).headers()


def service_of(request: Request) -> PersonaService:
    service: PersonaService = request.app.state.service
    return service


def client_address(request: Request) -> str:
    return request.client.host if request.client else UNKNOWN_ADDRESS


async def authenticate(request: Request) -> Principal:
    """Who the request acts as; Unauthorized (401) or RateLimited (429) otherwise."""
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    service = service_of(request)
    address = client_address(request)
    locked = service.lockout(address)
    if locked is not None:
        # Past its failed attempts, an address is refused before any credential is looked
        # at, so that neither keys nor the bootstrap token can be guessed faster than that.
        raise RateLimited(locked, "one client address with failed credentials")
    authorization = request.headers.get("authorization")
    token = presented_token(authorization)
    if not accepted and not await service.keys_exist():
        return OPEN  # no token, no key: the server is open, as it says at start
    if token is not None and accepted and token_matches(token, accepted):
        return BOOTSTRAP
    refusal = await _refusal(service, request, authorization, token)
    if isinstance(refusal, Principal):
        return refusal
    await service.count_failure(address)
    raise refusal


async def _refusal(
    service: PersonaService, request: Request, authorization: str | None, token: str | None
) -> Principal | Unauthorized:
    """The principal of a presented key, or the 401 that refuses the request."""
    if token is None:
        return _missing(request, authorization)
    if len(token) > MAX_SECRET_LENGTH or not token.isascii() or not token.isprintable():
        return Unauthorized("Malformed bearer token.", invalid_token=True)
    if not looks_like_key(token):
        return Unauthorized(
            f"Invalid bearer token: API keys start with '{KEY_PREFIX}'.", invalid_token=True
        )
    checked = await service.check_key(token)
    if isinstance(checked, KeyRefused):
        return Unauthorized(checked.detail(), invalid_token=True)
    return checked


def _missing(request: Request, authorization: str | None) -> Unauthorized:
    if authorization is not None and authorization.strip():
        return Unauthorized(
            "Malformed Authorization header: send 'Authorization: Bearer <key>'.",
            invalid_token=True,
        )
    in_query = next((name for name in QUERY_TOKEN_NAMES if name in request.query_params), None)
    if in_query is not None:
        return Unauthorized(
            f"Missing bearer token. A token in the query string (?{in_query}=) is not "
            "accepted: send it as 'Authorization: Bearer <token>'.",
            invalid_token=False,
        )
    return Unauthorized("Missing bearer token.", invalid_token=False)


async def authorize(request: Request, needed: Scope, *, starts_run: bool = False) -> Access:
    """Authenticate, check the scope, and count the request against the key's limits."""
    principal = await authenticate(request)
    request.scope.setdefault("state", {})["principal"] = principal
    if not principal.allows(needed):
        raise Forbidden(principal, needed)
    access = Access(principal)
    if principal.key_id is None:
        return access  # the operator's bootstrap token, or an open server: not limited
    service = service_of(request)
    policies = service.rate_policies
    counted = [policies.requests, *([policies.run_starts] if starts_run else [])]
    for policy in counted:
        if policy.enabled:
            state = await service.count_request(policy, principal.key_id)
            if state.exceeded:
                raise RateLimited(state, "this key")
            access.limits.append(state)
    return access


async def announce_access(app: FastAPI) -> None:
    """Say at start how requests are authenticated, above all when they are not."""
    service: PersonaService = app.state.service
    tokens = len(app.state.api_tokens)
    if await service.keys_exist():
        logger.info("auth on: API keys%s", f" and {tokens} bootstrap token(s)" if tokens else "")
    elif tokens:
        logger.info("auth on: %d bootstrap token(s), no API keys yet", tokens)
    else:
        logger.warning(
            "auth OFF: no PERSONA_API_TOKEN and no API keys, so every request is allowed "
            "(create a key with `persona keys create` or POST /keys to turn auth on)"
        )
