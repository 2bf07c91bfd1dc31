"""Signing in to the interface and out of it (the cookie itself: ``signing``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from persona.api.deps import token_matches
from persona.web.pages.rendering import SECURITY_HEADERS, auth_required, render
from persona.web.pages.route import WebRoute
from persona.web.pages.signing import COOKIE_NAME, SESSION_SECONDS, safe_next, session_cookie

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
    if not accepted:
        return RedirectResponse("/", status_code=303)
    if not token or not token_matches(token, accepted):
        error = "That token is not accepted by this server."
        return render(request, "signin.html", status=401, next=safe_next(next), error=error)
    response = RedirectResponse(safe_next(next), status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        COOKIE_NAME,
        session_cookie(accepted, token.encode()),
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
