"""The retry policy's decisions: which failures are retried, how long to wait, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from persona_client._retry import RetryPolicy, parse_retry_after

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_retries=2, initial_delay=0.5, max_delay=8.0, jitter=0.25)
REQUEST = httpx.Request("GET", "http://127.0.0.1:8000/experiments")


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=REQUEST)


def error(kind: type[httpx.TransportError]) -> httpx.TransportError:
    return kind("boom", request=REQUEST)


# --------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0", 0.0), ("1.5", 1.5), (" 7 ", 7.0)],
)
def test_retry_after_in_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_retry_after_as_http_date_counts_from_now() -> None:
    header = format_datetime(NOW + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(header, now=NOW) == 42.0


def test_retry_after_date_in_the_past_means_now() -> None:
    header = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(header, now=NOW) == 0.0


def test_retry_after_date_without_zone_is_read_as_gmt() -> None:
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:10 -0000", now=NOW) == 10.0


@pytest.mark.parametrize("header", [None, "", "soon", "-1", "nan", "inf", "Mon, 99 Foo 2025"])
def test_unusable_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


# --------------------------------------------------------------------------- backoff


@given(
    retries_taken=st.integers(min_value=0, max_value=10_000), rand=st.floats(0, 1, exclude_max=True)
)
def test_backoff_is_capped_exponential_less_at_most_the_jitter(
    retries_taken: int, rand: float
) -> None:
    ceiling = min(POLICY.max_delay, POLICY.initial_delay * 2.0 ** min(retries_taken, 64))
    delay = POLICY.backoff(retries_taken, rand)
    assert ceiling * (1 - POLICY.jitter) <= delay <= ceiling
    assert delay <= POLICY.max_delay


def test_backoff_doubles_until_the_cap() -> None:
    without_jitter = [POLICY.backoff(n, 0.0) for n in range(7)]
    assert without_jitter == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_spreads_clients_apart() -> None:
    assert POLICY.backoff(1, 0.0) != POLICY.backoff(1, 0.99)


def test_negative_max_retries_is_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


# --------------------------------------------------------------------------- responses


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_replayable_request_is_retried_on_transient_status(status: int) -> None:
    delay = POLICY.delay_after_response(
        response(status), retries_taken=0, replayable=True, random=0.0
    )
    assert delay == 0.5


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    delay = POLICY.delay_after_response(
        response(status), retries_taken=0, replayable=True, random=0.0
    )
    assert delay is None


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_request_that_is_not_replayable_is_not_retried_once_answered(status: int) -> None:
    delay = POLICY.delay_after_response(
        response(status), retries_taken=0, replayable=False, random=0.0
    )
    assert delay is None


def test_no_retry_once_max_retries_are_used() -> None:
    assert POLICY.delay_after_response(response(503), retries_taken=1, replayable=True, random=0.0)
    assert (
        POLICY.delay_after_response(response(503), retries_taken=2, replayable=True, random=0.0)
        is None
    )


def test_retry_after_replaces_the_backoff() -> None:
    answer = response(429, **{"Retry-After": "3"})
    assert POLICY.delay_after_response(answer, retries_taken=0, replayable=True, random=0.5) == 3.0


def test_retry_after_longer_than_the_limit_gives_up_at_once() -> None:
    answer = response(503, **{"Retry-After": "3600"})
    assert POLICY.delay_after_response(answer, retries_taken=0, replayable=True, random=0.0) is None


def test_unusable_retry_after_falls_back_to_backoff() -> None:
    answer = response(503, **{"Retry-After": "later"})
    assert POLICY.delay_after_response(answer, retries_taken=1, replayable=True, random=0.0) == 1.0


# --------------------------------------------------------------------------- transport errors


@pytest.mark.parametrize(
    "kind",
    [
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.ReadError,
        httpx.WriteError,
        httpx.RemoteProtocolError,
    ],
)
def test_replayable_request_is_retried_on_transient_transport_errors(
    kind: type[httpx.TransportError],
) -> None:
    delay = POLICY.delay_after_error(error(kind), retries_taken=0, replayable=True, random=0.0)
    assert delay == 0.5


@pytest.mark.parametrize("kind", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_request_that_never_left_is_retried_even_if_not_replayable(
    kind: type[httpx.TransportError],
) -> None:
    delay = POLICY.delay_after_error(error(kind), retries_taken=0, replayable=False, random=0.0)
    assert delay == 0.5


@pytest.mark.parametrize(
    "kind", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.RemoteProtocolError]
)
def test_request_the_server_may_have_seen_is_not_retried_if_not_replayable(
    kind: type[httpx.TransportError],
) -> None:
    delay = POLICY.delay_after_error(error(kind), retries_taken=0, replayable=False, random=0.0)
    assert delay is None


@pytest.mark.parametrize("kind", [httpx.UnsupportedProtocol, httpx.LocalProtocolError])
def test_errors_that_will_not_heal_are_not_retried(kind: type[httpx.TransportError]) -> None:
    assert (
        POLICY.delay_after_error(error(kind), retries_taken=0, replayable=True, random=0.0) is None
    )


def test_transport_errors_stop_after_max_retries() -> None:
    connect = error(httpx.ConnectError)
    assert POLICY.delay_after_error(connect, retries_taken=2, replayable=True, random=0.0) is None
