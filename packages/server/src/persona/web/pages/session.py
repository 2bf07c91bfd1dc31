"""Signing in to the interface and out of it (the cookie itself: ``signing``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from persona.access.key_secrets import looks_like_key, secret_hash
from persona.access.principal import Principal
from persona.api.auth import client_address, token_matches
from persona.service import PersonaService
from persona.web.pages.rendering import SECURITY_HEADERS, auth_required, render
from persona.web.pages.route import WebRoute
from persona.web.pages.signing import (
    COOKIE_NAME,
    SESSION_SECONDS,
    key_session_cookie,
    safe_next,
    session_cookie,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/signin")
async def sign_in_form(request: Request, next: str | None = None) -> Response:
    if not auth_required(request):
        return RedirectResponse("/", status_code=303)
    return render(request, "signin.html", next=safe_next(next), error=None)


@router.post("/signin")
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    service: PersonaService = request.app.state.service
    if not accepted and not await service.keys_exist():
        return RedirectResponse("/", status_code=303)
    address = client_address(request)
    if service.lockout(address) is not None:
        error = "Too many failed attempts from this address; try again in a minute."
        return render(request, "signin.html", status=429, next=safe_next(next), error=error)
    cookie = await _session_for(service, accepted, token)
    if cookie is None:
        await service.count_failure(address)
        error = "That key or token is not accepted by this server."
        return render(request, "signin.html", status=401, next=safe_next(next), error=error)
    response = RedirectResponse(safe_next(next), status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE_NAME,
        cookie,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    response = RedirectResponse("/signin", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(
        COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def _session_for(
    service: PersonaService, accepted: tuple[bytes, ...], token: str
) -> str | None:
    """The session cookie of a bootstrap token or a usable key; None for anything else."""
    if token and accepted and token_matches(token, accepted):
        return session_cookie(accepted, token.encode())
    if looks_like_key(token):
        checked = await service.check_key(token)
        if isinstance(checked, Principal) and checked.key_id is not None:
            return key_session_cookie(checked.key_id, secret_hash(token))
    return None
