"""What the sync and async clients share: configuration, headers, URLs, retry and wait decisions.

Nothing here does I/O; ``_client.py`` sends, sleeps and polls.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

import httpx

from persona_client.__about__ import __version__
from persona_client._exceptions import (
    APIConnectionError,
    APITimeoutError,
    RunCancelledError,
    RunFailedError,
    WaitTimeoutError,
)
from persona_client._operations import Operation
from persona_client._retry import RetryPolicy
from persona_client.models import RunDetail

if TYPE_CHECKING:
    from httpx._client import UseClientDefault

BASE_URL_ENV = "PERSONA_BASE_URL"
TOKEN_ENV = "PERSONA_API_TOKEN"  # noqa: S105 - the variable's name, not a token
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
DEFAULT_WAIT_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 1.0

ItemT_co = TypeVar("ItemT_co", covariant=True)


def resolve_base_url(base_url: str | None) -> str:
    """The argument, else ``PERSONA_BASE_URL``, else the local default; no trailing slash."""
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = httpx.URL()
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {url!r}")
    return url.rstrip("/")


def resolve_token(token: str | None) -> str | None:
    """The argument, else ``PERSONA_API_TOKEN``; None (no Authorization header) when neither."""
    return token or os.environ.get(TOKEN_ENV) or None


def resolve_timeout(
    timeout: float | httpx.Timeout | None, http_client: httpx.Client | httpx.AsyncClient | None
) -> httpx.Timeout:
    """The argument, else an injected client's own timeout, else ``DEFAULT_TIMEOUT``."""
    if timeout is not None:
        return httpx.Timeout(timeout)
    if http_client is not None:
        return http_client.timeout
    return DEFAULT_TIMEOUT


def default_headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": f"persona-client/{__version__}"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def connection_error(error: httpx.TransportError) -> APIConnectionError:
    """The client's exception for a request that got no response."""
    request = error.request
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"{request.method} {request.url} timed out", request=request)
    return APIConnectionError(
        f"cannot reach the Persona server at {request.url.scheme}://{request.url.netloc.decode()}"
        f" ({type(error).__name__}: {str(error) or 'no detail'})",
        request=request,
    )


def stream_ended_error(request: httpx.Request) -> APIConnectionError:
    """The client's exception for an event stream the server kept closing early."""
    return APIConnectionError(
        f"the event stream at {request.url} kept ending before the run's last event",
        request=request,
    )


class BaseClient:
    """Configuration and decisions common to ``PersonaClient`` and ``AsyncPersonaClient``."""

    def __init__(
        self,
        *,
        base_url: str | None,
        token: str | None,
        timeout: httpx.Timeout,
        max_retries: int,
        override_client_timeout: bool,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        # Sent with each request only to override an injected client's own timeout.
        self._request_timeout: httpx.Timeout | UseClientDefault = (
            timeout if override_client_timeout else httpx.USE_CLIENT_DEFAULT
        )
        self.max_retries = max_retries
        self._retry_policy = RetryPolicy(max_retries=max_retries)
        self._headers = default_headers(resolve_token(token))

    def __repr__(self) -> str:  # never shows the token
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _url(self, operation: Operation[object]) -> str:
        return self.base_url + operation.path

    def _headers_for(self, operation: Operation[object]) -> Mapping[str, str]:
        if operation.headers is None:
            return self._headers
        return {**self._headers, **operation.headers}

    def _delay_after_response(
        self, operation: Operation[object], response: httpx.Response, retries_taken: int
    ) -> float | None:
        return self._retry_policy.delay_after_response(
            response,
            retries_taken=retries_taken,
            replayable=operation.replayable,
            random=random.random(),  # noqa: S311 - jitter, not security
        )

    def _delay_after_error(
        self, operation: Operation[object], error: httpx.TransportError, retries_taken: int
    ) -> float | None:
        return self._retry_policy.delay_after_error(
            error,
            retries_taken=retries_taken,
            replayable=operation.replayable,
            random=random.random(),  # noqa: S311 - jitter, not security
        )


# --------------------------------------------------------------------------- waiting for runs


def finished_run(run: RunDetail) -> RunDetail | None:
    """The run if it succeeded; None while it is queued or running; raises if it failed."""
    if run.status == "succeeded":
        return run
    if run.status == "cancelled":
        raise RunCancelledError(run)
    if run.status == "failed":
        raise RunFailedError(run)
    return None


@dataclass(slots=True)
class PollSchedule:
    """When to poll a run next, and when to stop waiting for it."""

    timeout: float | None
    poll_interval: float
    deadline: float | None

    @classmethod
    def start(cls, timeout: float | None, poll_interval: float) -> PollSchedule:
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be 0 or more (or None for no limit), got {timeout}")
        deadline = None if timeout is None else time.monotonic() + timeout
        return cls(timeout=timeout, poll_interval=poll_interval, deadline=deadline)

    def next_delay(self, run: RunDetail) -> float:
        """Seconds to sleep before the next poll; raises WaitTimeoutError past the deadline."""
        if self.deadline is None or self.timeout is None:
            return self.poll_interval
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeoutError(run, self.timeout)
        return min(self.poll_interval, remaining)


# --------------------------------------------------------------------------- pagination


class Page(Protocol[ItemT_co]):
    """What every paginated response has: ``{items, next_cursor}``."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...

    @property
    def next_cursor(self) -> str | None: ...
