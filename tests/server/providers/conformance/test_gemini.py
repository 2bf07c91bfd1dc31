"""Gemini: Persona's generateContent requests against google-genai 3.6's, and its reading of
replies built from the SDK's own models (Google's error bodies have no SDK model: they are
written as the API documents them)."""

from __future__ import annotations

from typing import Any

import pytest
from google import genai
from google.genai import types
from persona.providers import provider_spec
from persona.providers._http import RetryPolicy
from persona.providers.gemini import MAX_CONTINUATIONS, GeminiProvider
from persona.schemas import Evidence
from persona.settings import Settings

from tests.fakes.recorder import Recorded, Recorder, Reply
from tests.server.providers.conformance.conftest import (
    LONG_RUN,
    Progress,
    failure,
    generate,
    personas_reply,
    pieces,
    read_in_full,
    same_request,
)
from tests.server.providers.conftest import RecordingSleep, personas_json

KEY = "AIza-test-gemini-key"
HEADERS = ("x-goog-api-key", "content-type")


def provider(settings: Settings, retry: RetryPolicy, recorder: Recorder) -> GeminiProvider:
    endpoint = GeminiProvider.endpoint(recorder.url)
    return GeminiProvider(settings, api_key=KEY, base_url=endpoint, retry=retry)


def sdk(recorder: Recorder) -> genai.Client:
    options = types.HttpOptions(
        base_url=recorder.url, retry_options=types.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=KEY, http_options=options)


def sdk_call(
    recorder: Recorder, ours: Recorded, *, stream: bool = False
) -> types.GenerateContentResponse:
    """The SDK's call for the same generation as Persona's request ``ours`` (its streaming
    call when ``stream``: the last partial response)."""
    body = ours.json()
    generation = body["generationConfig"]
    config = types.GenerateContentConfig(
        system_instruction=body["systemInstruction"]["parts"][0]["text"],
        response_mime_type=generation["responseMimeType"],
        response_json_schema=generation["responseJsonSchema"],
        temperature=generation.get("temperature"),
        seed=generation.get("seed"),
    )
    model = ours.path.split("/models/")[1].split(":")[0]
    client = sdk(recorder)  # held: the client closes its connections once collected
    if stream:
        chunks = client.models.generate_content_stream(
            model=model, contents=body["contents"], config=config
        )
        return list(chunks)[-1]
    return client.models.generate_content(model=model, contents=body["contents"], config=config)


def response(
    finish: types.FinishReason = types.FinishReason.STOP,
    *,
    text: str | None = None,
    token: bytes | None = None,
    cached: int | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    parts = [] if text == "" else [types.Part(text=personas_json() if text is None else text)]
    built = types.GenerateContentResponse(
        candidates=[
            types.Candidate(
                content=types.Content(role="model", parts=parts),
                finish_reason=finish,
                finish_message=message,
                continuation_token=token,
            )
        ],
        usage_metadata=types.GenerateContentResponseUsageMetadata(
            prompt_token_count=1200, candidates_token_count=400, cached_content_token_count=cached
        ),
    )
    return built.model_dump(mode="json", by_alias=True, exclude_none=True)


def google_error(code: int, status: str, text: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": text, "status": status, "details": list(details)}}


async def test_the_request_is_the_one_the_sdk_sends(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(response()))
    await generate(provider(settings, retry, recorder), evidence, temperature=0.4, seed=9)
    (ours,) = recorder.requests

    recorder.serve(Reply.of(response()))
    sdk_call(recorder, ours)
    (theirs,) = recorder.requests

    same_request(ours, theirs, HEADERS)
    assert ours.path == "/v1/models/gemini-3.5-flash:generateContent"


async def test_a_continuation_is_followed_with_its_token_as_the_sdk_follows_it(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    whole = personas_json()
    hops = [
        Reply.of(response(types.FinishReason.CONTINUATION, text=whole[:300], token=b"hop-1")),
        Reply.of(response(text=whole[300:])),
    ]
    recorder.serve(*hops)
    result = await generate(provider(settings, retry, recorder), evidence)
    ours = list(recorder.requests)

    recorder.serve(*hops)
    sdk_call(recorder, ours[0])
    theirs = list(recorder.requests)

    assert len(ours) == len(theirs) == 2
    same_request(ours[1], theirs[1], HEADERS)
    assert ours[1].json()["continuationToken"] == "aG9wLTE="  # b"hop-1", as the API sent it
    assert [p.name for p in result.personas] == ["Dana K.", "Sam R."]
    assert result.usage.input_tokens == 2400  # both hops were billed


@pytest.mark.parametrize("finish", ["SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST"])
async def test_a_blocked_reply_fails_at_once_with_the_reason(
    settings: Settings,
    retry: RetryPolicy,
    recorder: Recorder,
    evidence: list[Evidence],
    finish: str,
) -> None:
    recorder.serve(Reply.of(response(types.FinishReason(finish), text="", message="withheld")))

    error_ = await failure(provider(settings, retry, recorder), evidence)

    assert error_.code == "provider_refused"
    assert finish in error_.message and "withheld" in error_.message
    assert len(recorder.requests) == 1
    assert error_.usage is not None and error_.usage.input_tokens == 1200


async def test_max_tokens_without_a_limit_sent_is_not_asked_again(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(response(types.FinishReason.MAX_TOKENS, text='{"personas": [')))

    # One persona: nothing left to split into smaller requests.
    error_ = await failure(provider(settings, retry, recorder), evidence, count=1)

    assert error_.code == "invalid_output" and "MAX_TOKENS" in error_.message
    assert len(recorder.requests) == 1


async def test_cached_input_is_priced_at_the_cached_rate(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(response(cached=1000)))

    result = await generate(provider(settings, retry, recorder), evidence)

    # gemini-3.5-flash: $1.50 input, $0.15 cached input, $9.00 output per million tokens
    expected = (200 * 1.50 + 1000 * 0.15 + 400 * 9.0) / 1e6
    assert result.usage.cost_usd == pytest.approx(expected)


async def test_an_invalid_key_is_an_auth_failure_though_the_status_is_400(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
    }
    body = google_error(
        400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", info
    )
    recorder.serve(Reply.of(body, status=400))

    error_ = await failure(provider(settings, retry, recorder), evidence)

    assert error_.code == "provider_auth" and len(recorder.requests) == 1


async def test_a_429_waits_for_the_retry_delay_in_the_body(
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    recorder: Recorder,
    evidence: list[Evidence],
) -> None:
    delay = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}
    body = google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric: per minute", delay)
    recorder.serve(Reply.of(body, status=429), Reply.of(response()))

    result = await generate(provider(settings, retry, recorder), evidence)

    assert sleep.delays == [17.0]
    assert len(result.personas) == 2


async def test_a_billing_quota_without_a_delay_is_not_retried(
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    recorder: Recorder,
    evidence: list[Evidence],
) -> None:
    text = "You exceeded your current quota, please check your plan and billing details."
    recorder.serve(Reply.of(google_error(429, "RESOURCE_EXHAUSTED", text), status=429))

    error_ = await failure(provider(settings, retry, recorder), evidence)

    assert error_.code == "provider_quota" and sleep.delays == []


async def test_the_base_url_and_key_are_read_as_the_sdk_reads_them(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    recorder: Recorder,
    evidence: list[Evidence],
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "the-gemini-key")
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_BASE_URL", raising=False)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", recorder.url)
    recorder.serve(Reply.of(response()))
    await generate(GeminiProvider.from_env(settings), evidence)
    (ours,) = recorder.requests

    recorder.serve(Reply.of(response()))
    client = genai.Client()
    client.models.generate_content(model="gemini-3.5-flash", contents="hello")
    (theirs,) = recorder.requests

    assert ours.headers["x-goog-api-key"] == theirs.headers["x-goog-api-key"] == KEY
    assert ours.path == theirs.path
    monkeypatch.setenv("GEMINI_BASE_URL", "https://gemini.example.com")
    assert provider_spec("gemini").configured_base_url() == "https://gemini.example.com"


async def test_a_reply_that_never_stops_continuing_is_cut_off_after_the_hops_allowed(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(response(types.FinishReason.CONTINUATION, text="x", token=b"again")))

    # One persona: nothing left to split into smaller requests.
    error_ = await failure(provider(settings, retry, recorder), evidence, count=1)

    assert error_.code == "invalid_output" and "CONTINUATION" in error_.message
    assert len(recorder.requests) == MAX_CONTINUATIONS


def streamed(
    finish: types.FinishReason = types.FinishReason.STOP,
    *,
    text: str | None = None,
    message: str | None = None,
    token: bytes | None = None,
) -> list[dict[str, Any]]:
    """A response as ``:streamGenerateContent`` sends it: partial responses, each with the
    usage so far, the last with the finish reason (and continuation token)."""
    parts = pieces(personas_reply(LONG_RUN) if text is None else text) or [""]
    chunks = []
    for number, piece in enumerate(parts, start=1):
        last = number == len(parts)
        built = types.GenerateContentResponse(
            candidates=[
                types.Candidate(
                    content=types.Content(role="model", parts=[types.Part(text=piece)]),
                    finish_reason=finish if last else None,
                    finish_message=message if last else None,
                    continuation_token=token if last else None,
                )
            ],
            usage_metadata=types.GenerateContentResponseUsageMetadata(
                prompt_token_count=1200, candidates_token_count=400 if last else number
            ),
        )
        chunks.append(built.model_dump(mode="json", by_alias=True, exclude_none=True))
    return chunks


async def test_a_long_generation_is_streamed_as_the_sdk_streams_it(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.data(streamed()))
    progress = Progress()
    result = await generate(
        provider(settings, retry, recorder), evidence, count=LONG_RUN, progress=progress
    )
    (ours,) = recorder.requests

    recorder.serve(Reply.data(streamed()))
    last = sdk_call(recorder, ours, stream=True)
    (theirs,) = recorder.requests

    same_request(ours, theirs, HEADERS)
    assert ours.path == "/v1/models/gemini-3.5-flash:streamGenerateContent?alt=sse"
    assert last.candidates and last.candidates[0].finish_reason == "STOP"
    read_in_full(result, progress)


async def test_a_stream_blocked_part_way_fails_at_once_with_the_reason(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.data(streamed(types.FinishReason.SAFETY, message="withheld")))

    error_ = await failure(provider(settings, retry, recorder), evidence, count=LONG_RUN)

    assert error_.code == "provider_refused"
    assert "SAFETY" in error_.message and "withheld" in error_.message
    assert len(recorder.requests) == 1
    assert error_.usage is not None and error_.usage.output_tokens == 400


async def test_an_error_mid_stream_waits_for_its_retry_delay_and_is_read_afresh(
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    recorder: Recorder,
    evidence: list[Evidence],
) -> None:
    whole = streamed()
    delay = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}
    fault = google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric", delay)
    recorder.serve(Reply.data([*whole[:3], fault]), Reply.data(whole))

    result = await generate(provider(settings, retry, recorder), evidence, count=LONG_RUN)

    assert sleep.delays == [17.0]
    assert len(result.personas) == LONG_RUN
    assert result.usage.output_tokens == 400


async def test_a_streamed_continuation_is_followed_with_its_token(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    whole = personas_reply(LONG_RUN)
    first = streamed(types.FinishReason.CONTINUATION, text=whole[:1000], token=b"hop-1")
    recorder.serve(Reply.data(first), Reply.data(streamed(text=whole[1000:])))

    result = await generate(provider(settings, retry, recorder), evidence, count=LONG_RUN)

    before, after = recorder.requests
    assert before.path == after.path and after.path.endswith(":streamGenerateContent?alt=sse")
    assert after.json()["continuationToken"] == "aG9wLTE="  # b"hop-1", as the API sent it
    assert after.json()["contents"] == before.json()["contents"]
    assert len(result.personas) == LONG_RUN
    assert result.usage.input_tokens == 2400  # both hops were billed
