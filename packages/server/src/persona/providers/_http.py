"""HTTP plumbing shared by the LLM providers: one client per provider, retries, error mapping.

Each provider talks through one ``httpx.AsyncClient`` whose transport is aiohttp's connection
pool (``httpx_aiohttp``, as the OpenAI and Anthropic SDKs offer for high concurrency): with
many requests in flight, httpcore's pool spends more CPU per request than aiohttp's
(benchmarks/concurrent_runs.py has the figures), and a run's requests share the event loop
with every other run.

Status handling, the same for every provider (``persona.providers._classify`` decides):

- 2xx with a JSON body: returned (``stream`` hands over the body's events, server-sent or one
  JSON object a line; an error event in the middle of a stream is classified as the same error
  before it would be).
- 401, 403, or a 400 naming an invalid key: ``provider_auth`` at once.
- exhausted quota or credit: ``provider_quota`` at once.
- a prompt longer than the model's context: ``context_exceeded`` at once.
- 408, 409, 429, 5xx, connection errors, timeouts, truncated or non-JSON bodies: retried with
  capped exponential backoff and jitter, honouring ``Retry-After`` and body-level retry delays;
  when the retries are spent, ``provider_unavailable`` with the last status.
  ``x-should-retry`` overrides the status either way.
- any other status from 300 up: ``provider_rejected`` at once, with the provider's own
  message (an unknown model, a malformed request).
"""

from __future__ import annotations

import asyncio
import functools
import http.cookiejar
import json
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import httpx
from httpx_aiohttp import HttpxAiohttpClient
from httpx_sse import EventSource, SSEError

from persona.errors import ProviderError
from persona.providers._classify import classify, read_error
from persona.settings import Settings

if TYPE_CHECKING:
    import http.client
    import urllib.request

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

_JITTER = random.Random()  # noqa: S311 - jitter needs no secrecy
"""One generator for every policy: seeding one per provider costs more than it is worth."""


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """The TLS context of every provider client, built once.

    Loading the CA bundle is slow next to the rest of building a client, and clients come
    and go: each runner builds its own provider instances, and tests and scripts build many.
    """
    return httpx.create_ssl_context()


@dataclass
class RetryPolicy:
    """How often and how long to wait before trying a failed request again."""

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Sleep = asyncio.sleep
    """Injected in tests so that backoff costs no wall time."""
    rng: random.Random = field(default=_JITTER)

    @classmethod
    def from_settings(cls, settings: Settings, *, sleep: Sleep | None = None) -> RetryPolicy:
        return cls(
            max_retries=settings.provider_max_retries,
            base_delay=settings.provider_retry_base_delay,
            max_delay=settings.provider_retry_max_delay,
            sleep=sleep or asyncio.sleep,
        )

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (0-based): exponential, capped, half jittered."""
        ceiling = min(self.max_delay, self.base_delay * 2.0**retry)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


@dataclass
class _Failure:
    """Why one attempt did not succeed, and what the server asked us to wait."""

    reason: str
    status: int | None = None
    retry_after: float | None = None


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _NoCookies(http.cookiejar.CookieJar):
    """Keeps no cookie: provider APIs authenticate each request with its key, and reading a
    response's cookies costs httpx more than the rest of handling the response."""

    def extract_cookies(
        self, response: http.client.HTTPResponse, request: urllib.request.Request
    ) -> None:
        return None


@functools.lru_cache(maxsize=256)
def _absolute_url(base_url: str, path: str) -> httpx.URL:
    """``path`` under ``base_url``, parsed once: httpx parses a relative URL on every request."""
    return httpx.URL(base_url + path)


class JsonApi:
    """POSTs JSON to one provider's API through one lazily created ``httpx.AsyncClient``."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float,
        retry: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry
        self._headers = dict(headers or {})
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = HttpxAiohttpClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=httpx.Timeout(self.timeout),
                # Concurrency is bounded by the runner, not by the connection pool: aiohttp
                # reads a limit of 0 as none.
                limits=httpx.Limits(max_connections=0),
                verify=shared_ssl_context(),
                cookies=_NoCookies(),
                transport=self._transport,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(
        self, path: str, body: Mapping[str, Any], *, time_limit: float | None = None
    ) -> dict[str, Any]:
        """POST ``body`` to ``path`` and return the decoded JSON object, retrying what may pass.

        ``time_limit`` bounds each attempt (the client's own timeout when None)."""
        limit = time_limit or self.timeout
        return await self._with_retries(lambda: self._attempt(path, body, limit))

    async def stream(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        time_limit: float,
        on_event: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
        on_start: Callable[[], None] | None = None,
        finished: Callable[[], bool] | None = None,
        ndjson: bool = False,
    ) -> list[dict[str, Any]]:
        """POST ``body`` and read the reply as a stream of events: every event's JSON object, in
        order, each also passed to ``on_event`` as it arrives (``on_start`` is told before each
        attempt, so that a retried stream is put together afresh). A stream that closes before
        ``finished`` says it is complete is cut off, and retried like a truncated body.

        Events are server-sent events, or one JSON object a line when ``ndjson`` (Ollama);
        OpenAI's closing ``[DONE]`` ends the stream. ``time_limit`` bounds the whole attempt;
        a silence longer than the client's own timeout fails it sooner. A stream cut off before
        its end is retried as a whole."""
        return await self._with_retries(
            lambda: self._stream_attempt(
                path, body, time_limit, _Listener(on_event, on_start, finished), ndjson
            )
        )

    async def probe(
        self, method: str, url: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """One request to ``url`` for something optional (what a server says about itself): its
        JSON object, or None when it fails in any way. Never retried."""
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http().request(method, url, json=body)
        except (TimeoutError, httpx.HTTPError):
            return None
        outcome = _decoded(response) if response.status_code < 300 else None
        return outcome if isinstance(outcome, dict) else None

    async def _with_retries(self, attempt: Callable[[], Awaitable[T | _Failure]]) -> T:
        failure = _Failure("no attempt made")
        for number in range(self.retry.max_retries + 1):
            if number:
                await self._wait_before_retry(number - 1, failure)
            outcome = await attempt()
            if not isinstance(outcome, _Failure):
                return outcome
            failure = outcome
        attempts = self.retry.max_retries + 1
        raise ProviderError(
            f"{self.provider} is unavailable: {failure.reason} "
            f"(gave up after {attempts} attempt{'s' if attempts > 1 else ''})",
            code="provider_unavailable",
            status=failure.status,
        )

    async def _wait_before_retry(self, retry: int, failure: _Failure) -> None:
        if failure.retry_after is None:
            await self.retry.sleep(self.retry.backoff(retry))
            return
        if failure.retry_after > self.retry.max_delay:
            raise ProviderError(
                f"{self.provider} is unavailable: {failure.reason}; it asked to retry after "
                f"{failure.retry_after:.0f} s, longer than the {self.retry.max_delay:.0f} s "
                "this server waits",
                code="provider_unavailable",
                status=failure.status,
            )
        await self.retry.sleep(failure.retry_after)

    async def _attempt(
        self, path: str, body: Mapping[str, Any], time_limit: float
    ) -> dict[str, Any] | _Failure:
        try:
            # httpx times each read separately; this bounds the whole request.
            async with asyncio.timeout(time_limit):
                response = await self._http().post(_absolute_url(self.base_url, path), json=body)
        except (TimeoutError, httpx.TransportError) as exc:
            return self._transport_failure(exc, time_limit)
        outcome = self._outcome(response)
        return outcome if isinstance(outcome, _Failure) else _decoded(outcome)

    async def _stream_attempt(
        self,
        path: str,
        body: Mapping[str, Any],
        time_limit: float,
        listener: _Listener,
        ndjson: bool,
    ) -> list[dict[str, Any]] | _Failure:
        url = _absolute_url(self.base_url, path)
        events: list[dict[str, Any]] = []
        if listener.on_start is not None:
            listener.on_start()
        try:
            async with (
                asyncio.timeout(time_limit),
                self._http().stream("POST", url, json=body) as response,
            ):
                if response.status_code >= 300:
                    await response.aread()
                    failure = self._outcome(response)
                    assert isinstance(failure, _Failure)  # _outcome raises what is not retried
                    return failure
                async for data in _stream_data(response, ndjson):
                    if data == "[DONE]":
                        break
                    try:
                        event = json.loads(data)
                    except ValueError:
                        return _Failure("an event in the stream is not JSON")
                    if not isinstance(event, dict):
                        continue
                    if event.get("type") == "error" or "error" in event:
                        return self._stream_error(event)
                    events.append(event)
                    if listener.on_event is not None:
                        await listener.on_event(event)
        except SSEError as exc:
            return _Failure(f"the reply is not a stream ({exc})")
        except (TimeoutError, httpx.TransportError) as exc:
            return self._transport_failure(exc, time_limit)
        if listener.finished is not None and not listener.finished():
            return _Failure("the stream closed before its last event")
        return events

    def _stream_error(self, event: dict[str, Any]) -> _Failure:
        """An error event in the middle of a stream, judged as the same error sent as the whole
        response would be: retried when that would be, else raised."""
        status = _stream_status(event)
        try:
            failure = self._outcome(httpx.Response(status, json=event))
        except ProviderError as err:
            err.message = err.message.replace(f"(HTTP {status})", "(in the stream)")
            raise
        assert isinstance(failure, _Failure)
        message = failure.reason.removeprefix(f"HTTP {status}: ")
        return _Failure(f"an error in the stream: {message}", retry_after=failure.retry_after)

    def _transport_failure(self, exc: Exception, timeout: float) -> _Failure:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError):
            # httpx_aiohttp maps aiohttp's errors coarsely (a dropped connection becomes
            # httpx.ConnectTimeout): the aiohttp error it chains says what happened.
            return _Failure(f"connection failed ({type(cause).__name__}: {cause})")
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return _Failure(f"no response within {timeout:g} s")
        return _Failure(f"connection failed ({type(exc).__name__}: {exc})")

    def _outcome(self, response: httpx.Response) -> httpx.Response | _Failure:
        """The response when it succeeded, a failure worth retrying, or the error to raise."""
        status = response.status_code
        if status < 300:
            return response
        error = read_error(response)
        verdict = classify(status, response.headers.get("x-should-retry"), error)
        if verdict.retry:
            retry_after = parse_retry_after(response.headers)
            return _Failure(
                f"HTTP {status}: {error.message}",
                status=status,
                retry_after=error.retry_delay if retry_after is None else retry_after,
            )
        raise ProviderError(
            f"{self.provider} {_FAILED[verdict.code]} (HTTP {status}): {error.message}",
            code=verdict.code,
            status=status,
        )


_FAILED = {
    "provider_auth": "refused the credentials",
    "provider_quota": "refused the request: the account's quota or credit is exhausted",
    "context_exceeded": "refused the prompt as longer than the model's context",
    "provider_rejected": "rejected the request",
    "provider_unavailable": "is unavailable and said not to retry",
}


def _decoded(response: httpx.Response) -> dict[str, Any] | _Failure:
    status = response.status_code
    try:
        decoded = json.loads(response.content)
    except ValueError:
        return _Failure(f"HTTP {status} with a body that is not JSON", status=status)
    if not isinstance(decoded, dict):
        return _Failure(f"HTTP {status} with a JSON body that is not an object", status=status)
    return decoded


@dataclass(frozen=True)
class _Listener:
    on_event: Callable[[dict[str, Any]], Awaitable[None]] | None
    on_start: Callable[[], None] | None
    finished: Callable[[], bool] | None = None


async def _stream_data(response: httpx.Response, ndjson: bool) -> AsyncIterator[str]:
    """The data of each event: a server-sent event's (its lines joined by httpx-sse; the event
    name is not needed, as every provider's data names its own type), or a non-empty line."""
    if ndjson:
        async for line in response.aiter_lines():
            if line.strip():
                yield line
        return
    async for sse in EventSource(response).aiter_sse():
        if sse.data:
            yield sse.data


ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
"""The status Anthropic gives each error type, for an error event that comes with none."""


def _stream_status(event: dict[str, Any]) -> int:
    """The HTTP status an error event stands for: its own code (Google's), else its type's
    (Anthropic's), else a server fault (OpenAI's and Ollama's carry no status)."""
    error = event.get("error")
    if not isinstance(error, dict):
        return 500
    code = error.get("code")
    if isinstance(code, int) and 400 <= code < 600:
        return code
    return ERROR_TYPE_STATUS.get(str(error.get("type")), 500)
