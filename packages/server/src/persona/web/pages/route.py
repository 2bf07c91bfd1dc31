"""WebRoute: what every interface route does around its endpoint.

In order: a state-changing request must come from a page of this server (the Origin, or
failing that the Referer, names this host, and the browser does not call it cross-site);
then the session must be signed in, unless the route is the sign-in form itself, and a
state-changing request needs a session of scope write; then
domain and validation errors become an error page rather than a JSON problem; every answer
carries the interface's security headers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from persona.access.scopes import Scope, changes_state
from persona.api.audit import audited
from persona.api.errors import status_for
from persona.errors import PersonaError
from persona.web.pages.rendering import SECURITY_HEADERS, error_page
from persona.web.pages.signing import session_principal, sign_in_redirect

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/signin"})
"""Routes that answer without a session."""


def same_origin(request: Request) -> bool:
    """Whether a state-changing request was sent by a page of this server."""
    if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
        return False
    sender = request.headers.get("origin") or request.headers.get("referer")
    if not sender or sender == "null":
        return False
    return urlsplit(sender).netloc.lower() == request.headers.get("host", "").lower()


def validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "Invalid request."


def camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def read_only_message(scope: Scope) -> str:
    return (
        f"You are signed in with a key of scope '{scope}': it shows every page, but creating "
        "experiments and starting or cancelling runs need a key of scope 'write'."
    )


class WebRoute(APIRoute):
    """An interface route: same-origin writes, a signed-in session, HTML errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        needs_session = self.path not in OPEN_PATHS

        async def guarded(request: Request) -> Response:
            if request.method not in SAFE_METHODS and not same_origin(request):
                message = "This form was not sent from a page of this server."
                return error_page(request, 403, message)
            principal = await session_principal(request) if needs_session else None
            if needs_session and principal is None:
                if request.method == "GET" and "hx-request" not in request.headers:
                    return sign_in_redirect(request)
                return error_page(request, 401, "Sign in to continue.")
            request.scope.setdefault("state", {})["principal"] = principal
            writes = request.method not in SAFE_METHODS
            if principal is not None and writes and not principal.allows(Scope.write):
                return error_page(request, 403, read_only_message(principal.scope))
            try:
                response = await handle(request)
            except PersonaError as exc:
                return error_page(request, status_for(exc), exc.message)
            except RequestValidationError as exc:
                return error_page(request, 422, validation_message(exc))
            except HTTPException as exc:  # e.g. a form Starlette could not parse
                return error_page(request, exc.status_code, str(exc.detail))
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        if any(changes_state(method) for method in self.methods or ()):
            # Recorded under the name of the same operation in the API (start_run: startRun).
            return audited(guarded, camel_case(self.name))
        return guarded
