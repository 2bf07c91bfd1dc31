"""When to retry a request and how long to wait first. Pure decisions: no I/O, no sleeping.

A request is *replayable* when sending it twice has the effect of sending it once: every GET,
and ``runs.start``'s POST, which carries an Idempotency-Key the server deduplicates on. Replayable
requests are retried on connection errors, timeouts, 408, 429 and 5xx. Other requests are
retried only when the error proves nothing was sent (the connection was never made), because
the server may already have acted on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUSES = frozenset({408, 429})
# Raised before a single byte of the request left the client.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Transient failures; other transport errors (bad URL, unsupported protocol) will not heal.
TRANSIENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
_MAX_EXPONENT = 32  # keeps 2**n finite; the delay is capped long before this


def is_retryable_status(status_code: int) -> bool:
    return status_code in RETRYABLE_STATUSES or status_code >= 500


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait, from a Retry-After of delay-seconds or an HTTP date; None if unusable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until_http_date(value, now or datetime.now(UTC))
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _seconds_until_http_date(value: str, now: datetime) -> float | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may lack the zone
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, honouring the server's Retry-After.

    ``max_retries`` counts retries, not attempts. A Retry-After longer than ``max_retry_after``
    is not waited out: the error is raised at once, so a caller is never blocked for minutes.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {self.max_retries}")

    def backoff(self, retries_taken: int, random: float) -> float:
        """Delay before the next retry: ``initial * 2**n`` capped, less up to ``jitter`` of it.

        ``random`` is a number in [0, 1), e.g. ``random.random()``.
        """
        exponent = min(retries_taken, _MAX_EXPONENT)
        capped = min(self.max_delay, self.initial_delay * 2.0**exponent)
        return capped * (1.0 - self.jitter * random)

    def delay_after_response(
        self, response: httpx.Response, *, retries_taken: int, replayable: bool, random: float
    ) -> float | None:
        """Seconds to wait before retrying after this error response, or None to give up."""
        if not replayable or retries_taken >= self.max_retries:
            return None
        if not is_retryable_status(response.status_code):
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            return self.backoff(retries_taken, random)
        if retry_after > self.max_retry_after:
            return None
        return retry_after

    def delay_after_error(
        self, error: httpx.TransportError, *, retries_taken: int, replayable: bool, random: float
    ) -> float | None:
        """Seconds to wait before retrying after a transport error, or None to give up."""
        if retries_taken >= self.max_retries:
            return None
        retryable = TRANSIENT_ERRORS if replayable else NOT_SENT_ERRORS
        if not isinstance(error, retryable):
            return None
        return self.backoff(retries_taken, random)
