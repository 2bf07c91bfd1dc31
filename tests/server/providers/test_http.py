"""Retries, backoff and error mapping shared by every provider."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from persona.errors import ProviderError
from persona.providers._http import JsonApi, RetryPolicy, parse_retry_after

from tests.server.providers.conftest import RecordingSleep

URL = "https://llm.example.com/v1/generate"


def api(retry: RetryPolicy, timeout: float = 5.0) -> JsonApi:
    return JsonApi("acme", "https://llm.example.com/v1", timeout=timeout, retry=retry)


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, rng=random.Random(1))
    for retry, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (4, 8.0), (10, 8.0)]:
        delays = [policy.backoff(retry) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered, not one fixed value


def test_retry_after_is_read_as_seconds_milliseconds_or_a_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": later}, now=now) == 42.0
    assert parse_retry_after({"retry-after": "-5"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


@respx.mock
async def test_a_retry_after_longer_than_the_cap_fails_at_once(sleep: RecordingSleep) -> None:
    route = respx.post(URL).mock(
        return_value=httpx.Response(429, headers={"retry-after": "3600"}, json={})
    )
    client = api(RetryPolicy(max_retries=3, max_delay=30.0, sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        await client.post("/generate", {})

    assert caught.value.code == "provider_unavailable"
    assert caught.value.status == 429
    assert "asked to retry after 3600 s" in caught.value.message
    assert route.call_count == 1 and sleep.delays == []
    await client.aclose()


@respx.mock
@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx.ReadTimeout("read timed out"), "no response within 5 s"),
        (httpx.ConnectError("connection refused"), "connection failed (ConnectError"),
        (httpx.RemoteProtocolError("peer closed"), "connection failed (RemoteProtocolError"),
        (httpx.Response(200, text="<html>bad gateway</html>"), "body that is not JSON"),
        (httpx.Response(200, json=["not", "an", "object"]), "JSON body that is not an object"),
        (httpx.Response(408, json={}), "HTTP 408"),
        (httpx.Response(529, json={"error": {"message": "Overloaded"}}), "HTTP 529: Overloaded"),
    ],
    ids=["timeout", "refused", "cut-off", "html", "array", "408", "529"],
)
async def test_transient_failures_are_retried_then_reported(
    sleep: RecordingSleep, failure: object, reason: str
) -> None:
    route = respx.post(URL).mock(side_effect=[failure, failure, failure])
    client = api(RetryPolicy(max_retries=2, sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        await client.post("/generate", {"q": 1})

    assert caught.value.code == "provider_unavailable"
    assert reason in caught.value.message
    assert "gave up after 3 attempts" in caught.value.message
    assert route.call_count == 3 and len(sleep.delays) == 2
    await client.aclose()


@respx.mock
async def test_a_transient_failure_then_success_returns_the_answer(sleep: RecordingSleep) -> None:
    respx.post(URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={"ok": True})]
    )
    client = api(RetryPolicy(max_retries=1, sleep=sleep))

    assert await client.post("/generate", {}) == {"ok": True}
    assert len(sleep.delays) == 1
    await client.aclose()


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "code", "detail"),
    [
        (403, {"error": {"message": "key lacks scope"}}, "provider_auth", "key lacks scope"),
        (400, {"error": {"message": "bad schema"}}, "provider_rejected", "bad schema"),
        (404, {"error": "model 'x' not found"}, "provider_rejected", "model 'x' not found"),
        (422, [{"error": {"message": "invalid field"}}], "provider_rejected", "invalid field"),
        (301, None, "provider_rejected", "HTTP 301"),
    ],
)
async def test_other_statuses_fail_at_once_with_the_providers_message(
    sleep: RecordingSleep, status: int, body: object, code: str, detail: str
) -> None:
    response = httpx.Response(status, json=body) if body is not None else httpx.Response(status)
    route = respx.post(URL).mock(return_value=response)
    client = api(RetryPolicy(max_retries=3, sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        await client.post("/generate", {})

    assert (caught.value.code, caught.value.status) == (code, status)
    assert detail in caught.value.message and "acme" in caught.value.message
    assert route.call_count == 1 and sleep.delays == []
    await client.aclose()


@respx.mock
async def test_no_retries_means_one_attempt(sleep: RecordingSleep) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(500, text="boom"))
    client = api(RetryPolicy(max_retries=0, sleep=sleep))

    with pytest.raises(ProviderError, match=r"HTTP 500: boom \(gave up after 1 attempt\)"):
        await client.post("/generate", {})
    assert route.call_count == 1
    await client.aclose()


@respx.mock
async def test_a_stream_is_read_event_by_event_and_retried_whole_when_it_fails(
    sleep: RecordingSleep,
) -> None:
    stream = 'event: a\ndata: {"n": 1}\n\nevent: b\ndata: {"n":\ndata: 2}\n\n'
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(503, json={"error": {"message": "busy"}}),
            httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"}),
        ]
    )
    client = api(RetryPolicy(max_retries=1, sleep=sleep))
    seen: list[dict[str, object]] = []

    async def on_event(event: dict[str, object]) -> None:
        seen.append(event)

    events = await client.stream("/generate", {}, time_limit=5.0, on_event=on_event)

    assert events == seen == [{"n": 1}, {"n": 2}]  # a data field over two lines is one event
    assert len(sleep.delays) == 1
    await client.aclose()


@respx.mock
async def test_a_stream_refused_for_good_raises_at_once(sleep: RecordingSleep) -> None:
    respx.post(URL).respond(401, json={"error": {"message": "invalid key"}})
    client = api(RetryPolicy(max_retries=3, sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        await client.stream("/generate", {}, time_limit=5.0)

    assert caught.value.code == "provider_auth" and sleep.delays == []
    await client.aclose()


@respx.mock
async def test_an_error_event_mid_stream_is_retried_then_reported(sleep: RecordingSleep) -> None:
    broken = (
        'data: {"type": "ping"}\n\ndata: {"type": "error", "error": {"message": "Overloaded"}}\n\n'
    )
    route = respx.post(URL).respond(200, text=broken, headers={"content-type": "text/event-stream"})
    client = api(RetryPolicy(max_retries=1, sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        await client.stream("/generate", {}, time_limit=5.0)

    assert caught.value.code == "provider_unavailable"
    assert "an error in the stream: Overloaded" in caught.value.message
    assert route.call_count == 2
    await client.aclose()


@respx.mock
async def test_a_stream_of_json_lines_is_read_line_by_line_and_done_ends_an_event_stream(
    sleep: RecordingSleep,
) -> None:
    lines = '{"n": 1}\n\n{"n": 2, "done": true}\n'
    events = 'data: {"n": 1}\n\ndata: [DONE]\n\ndata: {"n": 9}\n\n'
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, text=lines, headers={"content-type": "application/x-ndjson"}),
            httpx.Response(200, text=events, headers={"content-type": "text/event-stream"}),
        ]
    )
    client = api(RetryPolicy(max_retries=0, sleep=sleep))

    assert await client.stream("/generate", {}, time_limit=5.0, ndjson=True) == [
        {"n": 1},
        {"n": 2, "done": True},
    ]
    assert await client.stream("/generate", {}, time_limit=5.0) == [{"n": 1}]
    await client.aclose()


@respx.mock
async def test_a_reply_that_is_not_an_event_stream_is_retried_then_reported(
    sleep: RecordingSleep,
) -> None:
    route = respx.post(URL).respond(200, json={"n": 1})
    client = api(RetryPolicy(max_retries=1, sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        await client.stream("/generate", {}, time_limit=5.0)

    assert caught.value.code == "provider_unavailable" and "not a stream" in caught.value.message
    assert route.call_count == 2
    await client.aclose()


@respx.mock
async def test_an_error_event_that_cannot_pass_fails_at_once_as_the_same_error_would(
    sleep: RecordingSleep,
) -> None:
    quota = {"error": {"message": "You exceeded your quota", "code": "insufficient_quota"}}
    auth = {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
    restarts: list[int] = []
    for attempts, (event, code) in enumerate(
        ((quota, "provider_quota"), (auth, "provider_auth")), 1
    ):
        stream = f'data: {{"n": 1}}\n\ndata: {json.dumps(event)}\n\n'
        route = respx.post(URL).respond(
            200, text=stream, headers={"content-type": "text/event-stream"}
        )
        client = api(RetryPolicy(max_retries=3, sleep=sleep))

        with pytest.raises(ProviderError) as caught:
            await client.stream(
                "/generate", {}, time_limit=5.0, on_start=lambda: restarts.append(1)
            )

        assert caught.value.code == code and "(in the stream)" in caught.value.message
        assert route.call_count == attempts and sleep.delays == []  # one request for each
        await client.aclose()
    assert len(restarts) == 2  # told once before each attempt
