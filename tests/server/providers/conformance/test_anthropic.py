"""Anthropic: Persona's Messages requests against anthropic 2.17's, and its reading of replies
built from the SDK's own models."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from anthropic import types
from persona.providers._http import RetryPolicy
from persona.providers.anthropic import AnthropicProvider
from persona.providers.pricing import cost_usd
from persona.schemas import Evidence
from persona.settings import Settings

from tests.fakes.recorder import Recorder, Reply
from tests.server.providers.conformance.conftest import (
    Progress,
    failure,
    generate,
    personas_reply,
    same_request,
)
from tests.server.providers.conftest import RecordingSleep

KEY = "sk-ant-test-key"
HEADERS = ("authorization", "x-api-key", "anthropic-version", "content-type")
MODEL = "claude-sonnet-4-6"


def provider(settings: Settings, retry: RetryPolicy, recorder: Recorder) -> AnthropicProvider:
    return AnthropicProvider(settings, api_key=KEY, base_url=recorder.url, retry=retry)


def sdk(recorder: Recorder) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=KEY, base_url=recorder.url, max_retries=0)


def message(
    stop_reason: types.StopReason,
    *,
    usage: types.Usage | None = None,
    personas: int = 2,
    stop_details: types.RefusalStopDetails | None = None,
) -> dict[str, Any]:
    content: list[types.ContentBlock] = []
    if stop_reason != "refusal":
        reply = json.loads(personas_reply(personas))
        content = [
            types.ToolUseBlock(id="toolu_01", name="record_personas", input=reply, type="tool_use")
        ]
    built = types.Message(
        id="msg_01",
        type="message",
        role="assistant",
        model=MODEL,
        content=content,
        stop_reason=stop_reason,
        stop_sequence=None,
        stop_details=stop_details,
        usage=usage or types.Usage(input_tokens=1200, output_tokens=400),
    )
    return built.model_dump(mode="json", exclude_none=True)


def events(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream of ``reply`` as the API sends it, from the SDK's event models."""
    block = reply["content"][0]
    partial = json.dumps(block["input"])
    start = types.Message.model_validate({**reply, "content": [], "stop_reason": None})
    chunks = [partial[i : i + 400] for i in range(0, len(partial), 400)]
    built: list[Any] = [
        types.RawMessageStartEvent(type="message_start", message=start),
        types.RawContentBlockStartEvent(
            type="content_block_start",
            index=0,
            content_block=types.ToolUseBlock(**{**block, "input": {}}),
        ),
        *(
            types.RawContentBlockDeltaEvent(
                type="content_block_delta",
                index=0,
                delta=types.InputJSONDelta(type="input_json_delta", partial_json=chunk),
            )
            for chunk in chunks
        ),
        types.RawContentBlockStopEvent(type="content_block_stop", index=0),
        types.RawMessageDeltaEvent(
            type="message_delta",
            delta={"stop_reason": reply["stop_reason"], "stop_sequence": None},  # type: ignore[arg-type]
            usage=types.MessageDeltaUsage(output_tokens=reply["usage"]["output_tokens"]),
        ),
        types.RawMessageStopEvent(type="message_stop"),
    ]
    return [event.model_dump(mode="json", exclude_none=True) for event in built]


def error(kind: str, text: str) -> dict[str, Any]:
    objects = {
        "billing_error": types.BillingErrorObject,
        "invalid_request_error": types.InvalidRequestErrorObject,
        "overloaded_error": types.OverloadedErrorObject,
        "api_error": types.APIErrorObject,
    }
    built = types.ErrorResponse(
        type="error", error=objects[kind](type=kind, message=text), request_id="req_01"
    )
    return built.model_dump(mode="json", exclude_none=True)


async def test_the_request_is_the_one_the_sdk_sends(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(message("tool_use")))
    # A temperature in the config is not sent: the SDK has had no such parameter since 1.0.
    await generate(provider(settings, retry, recorder), evidence, temperature=0.3)
    (ours,) = recorder.requests

    recorder.serve(Reply.of(message("tool_use")))
    sdk(recorder).messages.create(**ours.json())
    (theirs,) = recorder.requests

    same_request(ours, theirs, HEADERS)
    assert ours.headers["authorization"] == f"Bearer {KEY}"
    assert "temperature" not in ours.json()


async def test_a_long_generation_is_streamed_as_the_sdk_streams_it(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    reply = message(
        "tool_use", personas=20, usage=types.Usage(input_tokens=900, output_tokens=5000)
    )
    recorder.serve(Reply.events(events(reply)))
    progress = Progress()
    result = await generate(
        provider(settings, retry, recorder), evidence, count=20, progress=progress
    )
    (ours,) = recorder.requests
    assert ours.json()["stream"] is True and ours.json()["max_tokens"] > 4096

    recorder.serve(Reply.events(events(reply)))
    with sdk(recorder).messages.stream(
        **{k: v for k, v in ours.json().items() if k != "stream"}
    ) as stream:
        final = stream.get_final_message()
    (theirs,) = recorder.requests

    same_request(ours, theirs, HEADERS)
    assert len(result.personas) == 20
    assert (result.usage.input_tokens, result.usage.output_tokens) == (900, 5000)
    assert final.stop_reason == "tool_use"
    assert any("tokens received" in stage for stage in progress.stages)


async def test_a_reply_cut_off_at_max_tokens_is_asked_again_with_the_models_limit(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    full = message("tool_use")
    recorder.serve(Reply.of(message("max_tokens")), Reply.events(events(full)))

    result = await generate(provider(settings, retry, recorder), evidence)

    first, second = (r.json() for r in recorder.requests)
    assert second["max_tokens"] > first["max_tokens"]
    assert second["max_tokens"] <= 64_000  # claude-sonnet-4-6 writes at most 64k tokens
    assert second["messages"] == first["messages"]  # the same request, not a repair
    assert len(result.personas) == 2
    assert result.usage.input_tokens == 2400


async def test_a_reply_cut_off_even_with_the_models_limit_is_split_into_smaller_batches(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    cut = message("max_tokens")
    one = Reply.of(message("tool_use", personas=1))
    recorder.serve(Reply.of(cut), Reply.events(events(cut)), one, one)

    result = await generate(provider(settings, retry, recorder), evidence)

    asked = [r.json() for r in recorder.requests]
    counts = [a["tools"][0]["input_schema"]["properties"]["personas"]["minItems"] for a in asked]
    assert counts == [2, 2, 1, 1]  # the same request with more room, then one persona each
    assert asked[1]["max_tokens"] > asked[0]["max_tokens"] == asked[2]["max_tokens"]
    assert "Dana K." not in asked[2]["messages"][0]["content"]
    assert "already written" in asked[3]["messages"][0]["content"]
    assert "Dana K." in asked[3]["messages"][0]["content"]  # asked for someone else
    assert len(result.personas) == 2
    assert result.usage.input_tokens == 4 * 1200  # the cut replies were paid for too


async def test_a_refusal_fails_at_once_with_the_reason_and_the_usage_kept(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    details = types.RefusalStopDetails(type="refusal", category="general_harms", explanation="no")
    recorder.serve(Reply.of(message("refusal", stop_details=details)))

    error_ = await failure(provider(settings, retry, recorder), evidence)

    assert error_.code == "provider_refused"
    assert "general_harms" in error_.message
    assert len(recorder.requests) == 1  # no repair request
    assert error_.usage is not None and error_.usage.input_tokens == 1200


async def test_a_reply_past_the_context_window_is_not_asked_again(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(message("model_context_window_exceeded")))

    # One persona: nothing left to split into smaller requests.
    error_ = await failure(provider(settings, retry, recorder), evidence, count=1)

    assert error_.code == "invalid_output"
    assert "model_context_window_exceeded" in error_.message
    assert len(recorder.requests) == 1


async def test_cache_reads_and_writes_are_counted_and_priced_at_their_rates(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    usage = types.Usage(
        input_tokens=200,
        cache_read_input_tokens=1000,
        cache_creation_input_tokens=500,
        output_tokens=400,
    )
    recorder.serve(Reply.of(message("tool_use", usage=usage)))

    result = await generate(provider(settings, retry, recorder), evidence)

    assert result.usage.input_tokens == 1700
    expected = (200 * 3.0 + 1000 * 0.30 + 500 * 3.75 + 400 * 15.0) / 1e6
    assert result.usage.cost_usd == pytest.approx(expected)
    assert result.usage.cost_usd < cost_usd(MODEL, 1700, 400)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("status", "kind", "text", "code"),
    [
        (400, "billing_error", "Your credit balance is too low", "provider_quota"),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000",
            "context_exceeded",
        ),
        (400, "invalid_request_error", "tools.0: unknown field", "provider_rejected"),
    ],
)
async def test_errors_that_cannot_pass_fail_at_once_with_their_code(
    settings: Settings,
    retry: RetryPolicy,
    recorder: Recorder,
    evidence: list[Evidence],
    status: int,
    kind: str,
    text: str,
    code: str,
) -> None:
    recorder.serve(Reply.of(error(kind, text), status=status))

    error_ = await failure(provider(settings, retry, recorder), evidence)

    assert error_.code == code and text in error_.message
    assert len(recorder.requests) == 1


async def test_x_should_retry_overrides_the_status_either_way(
    settings: Settings,
    retry: RetryPolicy,
    sleep: RecordingSleep,
    recorder: Recorder,
    evidence: list[Evidence],
) -> None:
    recorder.serve(
        Reply.of(error("api_error", "internal"), status=500, **{"x-should-retry": "false"})
    )
    error_ = await failure(provider(settings, retry, recorder), evidence)
    assert error_.code == "provider_unavailable" and len(recorder.requests) == 1

    recorder.serve(
        Reply.of(
            error("invalid_request_error", "try again"), status=400, **{"x-should-retry": "true"}
        ),
        Reply.of(message("tool_use")),
    )
    result = await generate(provider(settings, retry, recorder), evidence)
    assert len(result.personas) == 2 and len(recorder.requests) == 2
