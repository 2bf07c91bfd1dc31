"""OpenAI: Persona's Chat Completions requests against openai 3.63's, and its reading of
replies built from the SDK's own models."""

from __future__ import annotations

from typing import Any, Literal

import openai
import pytest
from openai.types import CompletionUsage, ErrorObject
from openai.types.chat import ChatCompletion, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import ChatCompletionChunk, ChoiceDelta
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.completion_usage import PromptTokensDetails
from persona.providers._http import RetryPolicy
from persona.providers.openai import OpenAIProvider
from persona.schemas import Evidence
from persona.settings import Settings

from tests.fakes.recorder import Recorder, Reply
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

KEY = "sk-test-openai-key"
HEADERS = ("authorization", "content-type")
Finish = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


def provider(settings: Settings, retry: RetryPolicy, recorder: Recorder) -> OpenAIProvider:
    return OpenAIProvider(settings, api_key=KEY, base_url=f"{recorder.url}/v1", retry=retry)


def completion(
    finish: Finish = "stop",
    *,
    content: str | None = None,
    refusal: str | None = None,
    usage: CompletionUsage | None = None,
) -> dict[str, Any]:
    text = personas_json() if content is None and refusal is None else content
    built = ChatCompletion(
        id="chatcmpl-1",
        object="chat.completion",
        created=1_790_000_000,
        model="gpt-5.4-mini-2026-03-17",
        choices=[
            Choice(
                index=0,
                finish_reason=finish,
                message=ChatCompletionMessage(role="assistant", content=text, refusal=refusal),
            )
        ],
        usage=usage
        or CompletionUsage(prompt_tokens=1200, completion_tokens=400, total_tokens=1600),
    )
    return built.model_dump(mode="json")


def error(code: str, text: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    built = ErrorObject(code=code, message=text, param=None, type=kind)
    return {"error": built.model_dump(mode="json", exclude_none=True)}


async def test_the_request_is_the_one_the_sdk_sends(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(completion()))
    await generate(provider(settings, retry, recorder), evidence, temperature=0.2, seed=7)
    (ours,) = recorder.requests

    recorder.serve(Reply.of(completion()))
    client = openai.OpenAI(api_key=KEY, base_url=f"{recorder.url}/v1", max_retries=0)
    client.chat.completions.create(**ours.json())
    (theirs,) = recorder.requests

    same_request(ours, theirs, HEADERS)


def answer(streamed: bool, **reply: Any) -> tuple[Reply, int]:
    """``completion(**reply)`` as the whole response or as its stream, and the personas a run
    asks for to get it that way."""
    if streamed:
        return Reply.data(chunks(**reply), done=True), LONG_RUN
    return Reply.of(completion(**reply)), 2


WAYS = pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])


@WAYS
async def test_a_refusal_is_never_quoted_back_and_fails_with_its_text(
    settings: Settings,
    retry: RetryPolicy,
    recorder: Recorder,
    evidence: list[Evidence],
    streamed: bool,
) -> None:
    reply, count = answer(streamed, refusal="I can't help with that.")
    recorder.serve(reply)

    error_ = await failure(provider(settings, retry, recorder), evidence, count=count)

    assert error_.code == "provider_refused"
    assert "I can't help with that." in error_.message
    assert len(recorder.requests) == 1
    assert error_.usage is not None and error_.usage.output_tokens == 400


async def test_a_content_filter_stop_is_a_refusal(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(completion("content_filter", content="")))

    error_ = await failure(provider(settings, retry, recorder), evidence)

    assert error_.code == "provider_refused" and "content_filter" in error_.message
    assert len(recorder.requests) == 1


async def test_a_reply_cut_at_the_models_length_is_not_repaired_at_the_same_size(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(completion("length", content='{"personas": [{"name": "Da')))

    # One persona: nothing left to split into smaller requests.
    error_ = await failure(provider(settings, retry, recorder), evidence, count=1)

    assert error_.code == "invalid_output" and "output limit" in error_.message
    assert error_.raw_output == '{"personas": [{"name": "Da'
    assert len(recorder.requests) == 1


@WAYS
async def test_cached_input_is_priced_at_the_cached_rate(
    settings: Settings,
    retry: RetryPolicy,
    recorder: Recorder,
    evidence: list[Evidence],
    streamed: bool,
) -> None:
    usage = CompletionUsage(
        prompt_tokens=10_000,
        completion_tokens=1_000,
        total_tokens=11_000,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=8_000),
    )
    reply, count = answer(streamed, usage=usage)
    recorder.serve(reply)

    result = await generate(provider(settings, retry, recorder), evidence, count=count)

    # gpt-5.4-mini: $0.75 input, $0.075 cached input, $4.50 output per million tokens
    expected = (2_000 * 0.75 + 8_000 * 0.075 + 1_000 * 4.50) / 1e6
    assert result.usage.input_tokens == 10_000
    assert result.usage.cost_usd == pytest.approx(expected)


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (
            429,
            error("insufficient_quota", "You exceeded your current quota.", "insufficient_quota"),
            "provider_quota",
        ),
        (
            400,
            error("context_length_exceeded", "This model's maximum context length is 128000"),
            "context_exceeded",
        ),
        (401, error("invalid_api_key", "Incorrect API key provided."), "provider_auth"),
    ],
)
async def test_errors_that_cannot_pass_fail_at_once_with_their_code(
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    recorder: Recorder,
    evidence: list[Evidence],
    status: int,
    body: dict[str, Any],
    code: str,
) -> None:
    recorder.serve(Reply.of(body, status=status))

    error_ = await failure(provider(settings, retry, recorder), evidence)

    assert error_.code == code and body["error"]["message"] in error_.message
    assert len(recorder.requests) == 1 and sleep.delays == []


async def test_x_should_retry_overrides_the_status_either_way(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    fault = error("server_error", "The server had an error", "server_error")
    recorder.serve(Reply.of(fault, status=500, **{"x-should-retry": "false"}))
    error_ = await failure(provider(settings, retry, recorder), evidence)
    assert error_.code == "provider_unavailable" and len(recorder.requests) == 1

    conflict = error("conflict", "try again")
    recorder.serve(
        Reply.of(conflict, status=400, **{"x-should-retry": "true"}), Reply.of(completion())
    )
    result = await generate(provider(settings, retry, recorder), evidence)
    assert len(result.personas) == 2 and len(recorder.requests) == 2


def chunks(
    finish: Finish = "stop",
    *,
    content: str | None = None,
    refusal: str | None = None,
    usage: CompletionUsage | None = None,
) -> list[dict[str, Any]]:
    """The stream of a completion, chunk by chunk, as the API sends it with
    ``stream_options.include_usage``: deltas, the finish reason, then the usage alone."""

    def chunk(delta: ChoiceDelta | None, finish_reason: Finish | None = None) -> dict[str, Any]:
        choices = [] if delta is None else [ChunkChoice(index=0, delta=delta)]
        if choices and finish_reason:
            choices[0].finish_reason = finish_reason
        built = ChatCompletionChunk(
            id="chatcmpl-1",
            object="chat.completion.chunk",
            created=1_790_000_000,
            model="gpt-5.4-mini-2026-03-17",
            choices=choices,
            usage=None
            if delta
            else usage
            or CompletionUsage(prompt_tokens=1200, completion_tokens=400, total_tokens=1600),
        )
        return built.model_dump(mode="json")

    text = personas_reply(LONG_RUN) if content is None and refusal is None else content or ""
    deltas = [ChoiceDelta(role="assistant", content="")]
    deltas += [ChoiceDelta(content=piece) for piece in pieces(text)]
    deltas += [ChoiceDelta(refusal=piece) for piece in pieces(refusal or "", 8)]
    return [
        *(chunk(delta) for delta in deltas),
        chunk(ChoiceDelta(), finish),
        chunk(None),
    ]


async def test_a_long_generation_is_streamed_as_the_sdk_streams_it(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.data(chunks(), done=True))
    progress = Progress()
    result = await generate(
        provider(settings, retry, recorder), evidence, count=LONG_RUN, progress=progress
    )
    (ours,) = recorder.requests

    recorder.serve(Reply.data(chunks(), done=True))
    client = openai.OpenAI(api_key=KEY, base_url=f"{recorder.url}/v1", max_retries=0)
    streamed = list(client.chat.completions.create(**ours.json()))
    (theirs,) = recorder.requests

    same_request(ours, theirs, HEADERS)
    assert ours.json()["stream_options"] == {"include_usage": True}
    assert streamed[-1].usage is not None and streamed[-2].choices[0].finish_reason == "stop"
    read_in_full(result, progress)


async def test_an_error_mid_stream_is_retried_as_the_same_error_before_it_would_be(
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    recorder: Recorder,
    evidence: list[Evidence],
) -> None:
    whole = chunks()
    fault = error("server_error", "The server had an error", "server_error")
    recorder.serve(Reply.data([*whole[:5], fault]), Reply.data(whole, done=True))

    result = await generate(provider(settings, retry, recorder), evidence, count=LONG_RUN)

    assert len(recorder.requests) == 2 and len(sleep.delays) == 1
    assert len(result.personas) == LONG_RUN  # the retried stream was read afresh
    assert result.usage.output_tokens == 400

    quota = error("insufficient_quota", "You exceeded your current quota.", "insufficient_quota")
    recorder.serve(Reply.data([*whole[:5], quota]))
    error_ = await failure(provider(settings, retry, recorder), evidence, count=LONG_RUN)
    assert error_.code == "provider_quota" and len(recorder.requests) == 1


async def test_a_stream_closed_before_its_finish_reason_is_retried_as_a_truncated_body(
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    recorder: Recorder,
    evidence: list[Evidence],
) -> None:
    whole = chunks()
    recorder.serve(Reply.data(whole[:5]), Reply.data(whole, done=True))

    result = await generate(provider(settings, retry, recorder), evidence, count=LONG_RUN)

    assert len(recorder.requests) == 2 and len(sleep.delays) == 1
    assert len(result.personas) == LONG_RUN

    recorder.serve(Reply.data(whole[:5]))
    error_ = await failure(provider(settings, retry, recorder), evidence, count=LONG_RUN)
    assert error_.code == "provider_unavailable"
    assert "the stream closed before its last event" in error_.message
