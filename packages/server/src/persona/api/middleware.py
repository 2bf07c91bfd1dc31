"""Pure ASGI middleware: a request id on every response, request body size limits, and cached
reads answered before routing."""

from __future__ import annotations

import random
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from persona.api.cache import ResponseCache, experiment_key
from persona.api.deps import is_authorized
from persona.api.errors import REQUEST_ID_HEADER, problem_response

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def new_request_id() -> str:
    """128 random bits in hex, unique enough to find one request in the logs.

    Not a secret, so the process's PRNG (reseeded after a fork) does: uuid4 asks the
    kernel for random bytes on every request.
    """
    return f"{random.getrandbits(128):032x}"


class RequestIdMiddleware:
    """Echo a sane incoming X-Request-ID or make one; handlers find it in the scope's state."""

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

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


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


_JSON_HEADERS = [(b"content-type", b"application/json")]


class CachedReadMiddleware:
    """Answer ``GET /experiments/{id}`` from the response cache, before any routing.

    Only a body the route itself cached, still current (no commit since, by any process),
    for a request the route would authorise; every other request, and every miss, goes on
    to the app, which answers it (a 401 included) and fills the cache. The body and headers
    are those the route sends.
    """

    def __init__(self, app: ASGIApp, *, path: re.Pattern[str]) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self._cached_body(scope) if scope["type"] == "http" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _cached_body(self, scope: Scope) -> bytes | None:
        if scope["method"] != "GET":
            return None
        match = self.path.fullmatch(scope["path"])
        state = scope["app"].state
        cache: ResponseCache | None = getattr(state, "response_cache", None)
        if match is None or cache is None:
            return None
        if not is_authorized(Headers(scope=scope).get("authorization"), state.api_tokens):
            return None
        return cache.current(experiment_key(match.group(1)))
