"""The one place where errors become HTTP: RFC 9457 problem details for every 4xx and 5xx.

Domain errors (persona.errors) carry no HTTP; ``STATUS_BY_ERROR`` decides their status.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from persona import errors
from persona.schemas import FieldError, Problem

PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"

logger = logging.getLogger("persona.api")

# Checked in order: subclasses before their bases.
STATUS_BY_ERROR: tuple[tuple[type[errors.PersonaError], int], ...] = (
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.InvalidInputError, 422),
    (errors.PayloadTooLargeError, 413),
    # The request is well formed; the server's configuration does not allow it yet.
    (errors.ProviderNotConfiguredError, 409),
    (errors.ProviderError, 502),
)

_LOCATION_KINDS = frozenset({"body", "query", "path", "header"})

DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,  # cannot connect, connection lost, locked past the busy timeout
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
    sqlite3.OperationalError,  # the instant reader's own connection
    errors.DatabaseUnavailableError,  # still unavailable after the wait a caller allows
)
"""Errors that say the database cannot be used now, rather than that a request is wrong."""
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE_DETAIL = "The database cannot be reached; try again shortly."


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def request_id_of(request: Request) -> str | None:
    """The id the request-id middleware gave this request."""
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    return request_id


def problem_response(
    request: Request,
    status: int,
    *,
    detail: str | None = None,
    code: str | None = None,
    field_errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    request_id = request_id_of(request)
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        request_id=request_id,
        errors=field_errors,
    )
    all_headers = dict(headers or {})
    if request_id:
        all_headers[REQUEST_ID_HEADER] = request_id
    return ProblemResponse(
        problem.model_dump(mode="json", exclude_none=True), status_code=status, headers=all_headers
    )


def status_for(exc: errors.PersonaError) -> int:
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(exc, error_class):
            return status
    return 500


def _domain_location(request: Request, location: list[str | int]) -> list[str | int]:
    """Make a service location (relative to its input) look like a request-validation one."""
    if location and location[0] in _LOCATION_KINDS:
        return location
    kind = "query" if request.method in {"GET", "HEAD", "DELETE"} else "body"
    return [kind, *location]


async def persona_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, errors.PersonaError)
    status = status_for(exc)
    if status == 500:
        return await unhandled_error_handler(request, exc)
    field_errors = None
    if isinstance(exc, errors.InvalidInputError) and exc.location:
        field_errors = [
            FieldError(loc=_domain_location(request, exc.location), msg=exc.message, type=exc.code)
        ]
    return problem_response(
        request, status, detail=exc.message, code=exc.code, field_errors=field_errors
    )


def field_error(error: Mapping[str, Any]) -> FieldError:
    loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
    return FieldError(loc=loc, msg=str(error.get("msg", "")), type=str(error.get("type", "")))


def _line_and_column(document: object, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset, as json.JSONDecodeError counts them."""
    text = document if isinstance(document, str) else ""
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return line, column


def malformed_json_problem(request: Request, exc: RequestValidationError) -> ProblemResponse:
    error = next(e for e in exc.errors() if e.get("type") == "json_invalid")
    location = error.get("loc", ())
    position = location[-1] if location and isinstance(location[-1], int) else 0
    line, column = _line_and_column(exc.body, position)
    reason = str(error.get("ctx", {}).get("error", "invalid JSON"))
    return problem_response(
        request,
        400,
        detail=f"The body is not valid JSON: {reason} at line {line}, column {column}.",
        code="malformed_json",
    )


async def validation_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        # Not a field of the body that is wrong: there is no body to validate.
        return malformed_json_problem(request, exc)
    field_errors = [field_error(error) for error in exc.errors()]
    detail = invalid_fields_detail(field_errors)
    return problem_response(
        request, 422, detail=detail, code="validation_error", field_errors=field_errors
    )


def invalid_fields_detail(field_errors: list[FieldError]) -> str:
    """The detail of a validation problem: how many fields, and the first five."""
    count = len(field_errors)
    return f"{count} invalid field{'s' if count != 1 else ''}: " + "; ".join(
        f"{'.'.join(str(p) for p in e.loc)}: {e.msg}" for e in field_errors[:5]
    )


def documented_methods(request: Request) -> str | None:
    """The methods the OpenAPI document lists for this path (each method has its own route,
    so the router's 405 names only one of them)."""
    for template, path_item in request.app.openapi()["paths"].items():
        regex, _, _ = compile_path(template)
        if regex.match(request.scope["path"]):
            return ", ".join(sorted(method.upper() for method in path_item))
    return None


async def http_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    code = getattr(exc, "code", None) or phrase.lower().replace(" ", "_").replace("-", "_")
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (methods := documented_methods(request)):
        headers["Allow"] = methods
    return problem_response(request, exc.status_code, detail=detail, code=code, headers=headers)


async def database_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    """503 with Retry-After: the request may well succeed once the database is back.

    Answered here, where the error is handled for good: an error left to the 500 handler
    would be raised again to the server, which logs it a second time. Logged at DEBUG: the
    engine's outage log says once that the database is away, and once that it is back."""
    logger.debug(
        "database unavailable in %s %s (request id %s): %s",
        request.method,
        request.url.path,
        request_id_of(request),
        exc,
    )
    return problem_response(
        request,
        503,
        detail=DATABASE_UNAVAILABLE_DETAIL,
        code="database_unavailable",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


async def unhandled_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    """500 with no internals in the body; the log line carries the request id to find it."""
    request_id = request_id_of(request)
    logger.error(
        "unhandled error in %s %s (request id %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    return problem_response(
        request,
        500,
        detail=f"Internal error; quote request id {request_id} when reporting it.",
        code="internal_error",
    )


class UnhandledErrorMiddleware:
    """Answers an error no handler took with a 500 problem, and logs it here, once.

    Starlette's own handler for ``Exception`` raises the error again after answering, so the
    server logged every such error a second time, without the request id. Added before any
    other middleware, this one sits right outside the routes' exception handling: the
    request id, CORS and the cache still wrap its answer as they wrap any other.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception as exc:
            if started:
                raise  # too late to answer: the server logs it and closes the connection
            response = await unhandled_error_handler(Request(scope), exc)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to a problem; call before adding any middleware (see
    UnhandledErrorMiddleware)."""
    app.add_exception_handler(errors.PersonaError, persona_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    for error_class in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error_class, database_error_handler)
    app.add_middleware(UnhandledErrorMiddleware)
