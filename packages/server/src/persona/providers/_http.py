"""HTTP plumbing shared by the LLM providers: one client per provider, retries, error mapping.

Each provider talks through one ``httpx.AsyncClient`` whose transport is aiohttp's connection
pool (``httpx_aiohttp``, as the OpenAI and Anthropic SDKs offer for high concurrency): with
many requests in flight, httpcore's pool costs several times aiohttp's CPU per request
(benchmarks/concurrent_runs.py), and a run's requests share the event loop with every other
run.

Status handling, the same for every provider:

- 2xx with a JSON body: returned.
- 401, 403: ``ProviderError(code="provider_auth")`` at once; retrying cannot help.
- 408, 409, 429, 5xx, connection errors, timeouts, truncated or non-JSON bodies: retried with
  capped exponential backoff and jitter, honouring ``Retry-After``; when the retries are
  spent, ``ProviderError(code="provider_unavailable", status=<last status>)``.
- any other status from 300 up: ``ProviderError(code="provider_rejected")`` at once, with
  the provider's own message (an unknown model, a malformed request).
"""

from __future__ import annotations

import asyncio
import functools
import http.cookiejar
import json
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from httpx_aiohttp import HttpxAiohttpClient

from persona.errors import ProviderError
from persona.settings import Settings

if TYPE_CHECKING:
    import http.client
    import urllib.request

Sleep = Callable[[float], Awaitable[None]]

AUTH_STATUSES = frozenset({401, 403})
RETRY_STATUSES = frozenset({408, 409, 429})
MAX_ERROR_DETAIL = 300

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


def error_detail(response: httpx.Response) -> str:
    """The provider's own error message, short, for our error messages."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:MAX_ERROR_DETAIL] or response.reason_phrase
    message: Any = body
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message", error) if isinstance(error, dict) else error
    if isinstance(body, list) and body and isinstance(body[0], dict):
        message = body[0].get("error", {}).get("message", body)
    return str(message)[:MAX_ERROR_DETAIL]


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

    async def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` and return the decoded JSON object, retrying what may pass."""
        failure = _Failure("no attempt made")
        for attempt in range(self.retry.max_retries + 1):
            if attempt:
                await self._wait_before_retry(attempt - 1, failure)
            outcome = await self._attempt(path, body)
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

    async def _attempt(self, path: str, body: Mapping[str, Any]) -> dict[str, Any] | _Failure:
        try:
            # httpx times each read separately; this bounds the whole request.
            async with asyncio.timeout(self.timeout):
                response = await self._http().post(_absolute_url(self.base_url, path), json=body)
        except (TimeoutError, httpx.TransportError) as exc:
            return self._transport_failure(exc)
        return self._outcome(response)

    def _transport_failure(self, exc: Exception) -> _Failure:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError):
            # httpx_aiohttp maps aiohttp's errors coarsely (a dropped connection becomes
            # httpx.ConnectTimeout): the aiohttp error it chains says what happened.
            return _Failure(f"connection failed ({type(cause).__name__}: {cause})")
        if isinstance(exc, TimeoutError | httpx.TimeoutException):
            return _Failure(f"no response within {self.timeout:g} s")
        return _Failure(f"connection failed ({type(exc).__name__}: {exc})")

    def _outcome(self, response: httpx.Response) -> dict[str, Any] | _Failure:
        status = response.status_code
        if status in AUTH_STATUSES:
            raise ProviderError(
                f"{self.provider} refused the credentials (HTTP {status}): "
                f"{error_detail(response)}",
                code="provider_auth",
                status=status,
            )
        if status in RETRY_STATUSES or status >= 500:
            return _Failure(
                f"HTTP {status}: {error_detail(response)}",
                status=status,
                retry_after=parse_retry_after(response.headers),
            )
        if status >= 300:
            raise ProviderError(
                f"{self.provider} rejected the request (HTTP {status}): {error_detail(response)}",
                code="provider_rejected",
                status=status,
            )
        try:
            decoded = json.loads(response.content)
        except ValueError:
            return _Failure(f"HTTP {status} with a body that is not JSON", status=status)
        if not isinstance(decoded, dict):
            return _Failure(f"HTTP {status} with a JSON body that is not an object", status=status)
        return decoded
