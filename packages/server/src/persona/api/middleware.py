"""Pure ASGI middleware: a request id on every response, request body size limits, CORS."""

from __future__ import annotations

import logging
import random
import re
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from persona.api.errors import REQUEST_ID_HEADER, problem_response
from persona.api.logs import access_logger, log_request, loggable_target

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_request_id() -> str:
    """128 random bits in hex, unique enough to find one request in the logs.

    Not a secret, so the process's PRNG (reseeded after a fork) does: uuid4 asks the
    kernel for random bytes on every request.
    """
    return f"{random.getrandbits(128):032x}"


class RequestIdMiddleware:
    """Echo a sane incoming X-Request-ID or make one; handlers find it in the scope's state.

    Logs each request once it is answered, with its id (``persona.access``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = (
            incoming if incoming and _SANE_REQUEST_ID.fullmatch(incoming) else new_request_id()
        )
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500  # unless the app answers: the server then sends a 500 for it

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_logger.isEnabledFor(logging.INFO):
                log_request(
                    client=scope.get("client"),
                    method=scope["method"],
                    target=loggable_target(scope["path"], scope.get("query_string", b"")),
                    http_version=scope.get("http_version", "1.1"),
                    status=status,
                    seconds=time.perf_counter() - started,
                    request_id=request_id,
                )


class BodyTooLarge(HTTPException):
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"Request body is larger than the limit of {limit} bytes.")


class BodyLimitMiddleware:
    """Reject bodies over a limit with 413, never holding more than the limit in memory.

    Multipart uploads to ``upload_path`` get ``upload_limit``; every other body gets
    ``json_limit``. A declared Content-Length over the limit is refused before reading;
    otherwise bytes are counted as they stream in.
    """

    def __init__(
        self, app: ASGIApp, *, json_limit: int, upload_limit: int, upload_path: re.Pattern[str]
    ) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.upload_path = upload_path

    def limit_for(self, scope: Scope, headers: Headers) -> int:
        is_multipart = headers.get("content-type", "").lower().startswith("multipart/form-data")
        if is_multipart and self.upload_path.fullmatch(scope["path"]):
            return self.upload_limit
        return self.json_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is None and "transfer-encoding" not in headers and _is_http1(scope):
            # HTTP/1 (RFC 9112, 6.3): without Content-Length or Transfer-Encoding, no body.
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope, headers)
        declared = declared or ""
        if declared.isdigit() and int(declared) > limit:
            await problem_from(scope, BodyTooLarge(limit))(scope, receive, send)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            # Raised where no exception handler runs (outside a route); answer here.
            if response_started:
                raise
            await problem_from(scope, exc)(scope, receive, send)


def _is_http1(scope: Scope) -> bool:
    return scope.get("http_version") in ("1.0", "1.1")


def problem_from(scope: Scope, exc: BodyTooLarge) -> ASGIApp:
    request = Request(scope)
    return problem_response(request, exc.status_code, detail=str(exc.detail), code=exc.code)


CORS_METHODS = ("GET", "POST", "DELETE")
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "X-Request-ID",
    "Last-Event-ID",  # a fetch-based stream resuming
)
CORS_EXPOSED_HEADERS = ("X-Request-ID", "Location", "Retry-After")
CORS_MAX_AGE_SECONDS = 600


class CorsMiddleware(CORSMiddleware):
    """Starlette's CORS for the configured origins, with preflight answers of our own.

    An accepted preflight gets 204 No Content (Starlette sends 200 with a text body); a
    refused one gets a 403 problem with no CORS headers at all, so that the browser
    refuses the request and the caller can still read why in the network panel.
    """

    def __init__(self, app: ASGIApp, *, allow_origins: list[str]) -> None:
        super().__init__(
            app,
            allow_origins=allow_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=CORS_MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "origin" in headers and "access-control-request-method" in headers:
                await self.answer_preflight(scope, headers)(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def simple_response(
        self, scope: Scope, receive: Receive, send: Send, request_headers: Headers
    ) -> None:
        origin = request_headers.get("origin")
        if origin is None or self.is_allowed_origin(origin=origin):
            await super().simple_response(scope, receive, send, request_headers)
            return

        # Starlette adds its exposed headers for any origin; a refused one gets none.
        async def send_varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
            await send(message)

        await self.app(scope, receive, send_varying)

    def answer_preflight(self, scope: Scope, headers: Headers) -> ASGIApp:
        answer = self.preflight_response(request_headers=headers)
        if answer.status_code == 200:
            kept = {
                name: value
                for name, value in answer.headers.items()
                if name not in ("content-type", "content-length")
            }
            return Response(status_code=204, headers=kept)
        refused = bytes(answer.body).decode()
        return problem_response(
            Request(scope),
            403,
            detail=f"{refused} (origin {headers['origin']!r}).",
            code="cors_refused",
            headers={"Vary": "Origin"},
        )
