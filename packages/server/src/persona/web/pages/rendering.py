"""Rendering a page: the template, the context every page has, the security headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import HTMLResponse

from persona.web.assets import asset_url
from persona.web.templating import ENVIRONMENT

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages show stored research data: never kept by the browser or a shared cache.
    "Cache-Control": "no-store",
}


CARD_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
"""The printable card: its CSS inline (it must read well saved to a file), no script at all."""
CARD_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": CARD_SECURITY_POLICY}


def auth_required(request: Request) -> bool:
    """Whether pages need signing in: a bootstrap token is set, or a key exists (as last
    found by the session check that runs before every page)."""
    return bool(request.app.state.api_tokens) or request.app.state.service.keys_known_to_exist


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = ENVIRONMENT.get_template(template).render(
        request=request,
        asset_url=asset_url,
        auth_required=auth_required(request),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)
