"""Ollama: Persona's /api/chat requests against ollama 0.6's, and its reading of replies built
from the SDK's own models."""

from __future__ import annotations

from typing import Any

import ollama
from persona.providers._http import RetryPolicy
from persona.providers.ollama import OllamaProvider
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
from tests.server.providers.conftest import personas_json

HEADERS = ("content-type",)


def provider(settings: Settings, retry: RetryPolicy, recorder: Recorder) -> OllamaProvider:
    return OllamaProvider(settings, base_url=recorder.url, retry=retry)


def chat(done_reason: str = "stop", text: str | None = None) -> dict[str, Any]:
    built = ollama.ChatResponse(
        model="llama3.1",
        created_at="2026-12-01T00:00:00Z",
        done=True,
        done_reason=done_reason,
        prompt_eval_count=1200,
        eval_count=400,
        message=ollama.Message(role="assistant", content=personas_json() if text is None else text),
    )
    return built.model_dump(mode="json", exclude_none=True)


async def test_the_request_is_the_one_the_sdk_sends(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(chat()))
    await generate(provider(settings, retry, recorder), evidence, temperature=0.5, seed=3)
    (ours,) = recorder.requests

    recorder.serve(Reply.of(chat()))
    body = ours.json()
    ollama.Client(host=recorder.url).chat(
        model=body["model"],
        messages=body["messages"],
        format=body["format"],
        options=body["options"],
        stream=body["stream"],
    )
    (theirs,) = recorder.requests

    same_request(ours, theirs, HEADERS)


async def test_a_reply_cut_at_num_predict_is_asked_again_with_more_room(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(chat("length", '{"personas": [')), Reply.of(chat()))

    result = await generate(provider(settings, retry, recorder), evidence)

    first, second = (r.json() for r in recorder.requests)
    assert second["options"]["num_predict"] > first["options"]["num_predict"]
    assert second["messages"] == first["messages"]  # the same request, not a repair
    assert len(result.personas) == 2


async def test_a_reply_cut_again_with_the_most_room_fails_once(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    recorder.serve(Reply.of(chat("length", '{"personas": [')))

    # One persona: nothing left to split into smaller requests.
    error_ = await failure(provider(settings, retry, recorder), evidence, count=1)

    assert error_.code == "invalid_output" and "output limit" in error_.message
    assert len(recorder.requests) == 2  # the first request and the one with more room


async def test_the_context_window_is_what_api_show_reports_asked_once(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    shown = {"model_info": {"general.architecture": "qwen2", "qwen2.context_length": 40960}}
    recorder.about["/api/show"] = Reply.of(shown)
    recorder.serve(Reply.of(chat()))

    await generate(provider(settings, retry, recorder), evidence)
    await generate(provider(settings, retry, recorder), evidence)

    assert [r.json()["options"]["num_ctx"] for r in recorder.requests] == [40960, 40960]
    (lookup,) = recorder.lookups  # the second run used the answer kept from the first
    assert lookup.json() == {"model": "llama3.1"}


def lines(done_reason: str = "stop", text: str | None = None) -> list[dict[str, Any]]:
    """A reply as ``/api/chat`` streams it: a line per piece, then one with the counts."""

    def line(content: str, **done: Any) -> dict[str, Any]:
        built = ollama.ChatResponse(
            model="llama3.1",
            created_at="2026-12-01T00:00:00Z",
            done=bool(done),
            message=ollama.Message(role="assistant", content=content),
            **done,
        )
        return built.model_dump(mode="json", exclude_none=True)

    body = personas_reply(LONG_RUN) if text is None else text
    counts = {"done_reason": done_reason, "prompt_eval_count": 1200, "eval_count": 400}
    return [*(line(piece) for piece in pieces(body)), line("", **counts)]


def large_context(recorder: Recorder) -> None:
    """The model holds enough context for a reply long enough to be streamed."""
    shown = {"model_info": {"general.architecture": "llama", "llama.context_length": 131072}}
    recorder.about["/api/show"] = Reply.of(shown)


async def test_a_long_generation_is_streamed_as_the_sdk_streams_it(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    large_context(recorder)
    recorder.serve(Reply.lines(lines()))
    progress = Progress()
    result = await generate(
        provider(settings, retry, recorder), evidence, count=LONG_RUN, progress=progress
    )
    (ours,) = recorder.requests

    recorder.serve(Reply.lines(lines()))
    body = ours.json()
    parts = ollama.Client(host=recorder.url).chat(
        model=body["model"],
        messages=body["messages"],
        format=body["format"],
        options=body["options"],
        stream=True,
    )
    last = list(parts)[-1]
    (theirs,) = recorder.requests

    same_request(ours, theirs, HEADERS)
    assert body["stream"] is True and body["options"]["num_predict"] > 4096
    assert last.done_reason == "stop"
    read_in_full(result, progress)


async def test_an_error_line_mid_stream_is_retried_and_the_stream_read_afresh(
    settings: Settings, retry: RetryPolicy, recorder: Recorder, evidence: list[Evidence]
) -> None:
    whole = lines()
    broken = [*whole[:3], {"error": "an error was encountered while running the model"}]
    large_context(recorder)
    recorder.serve(Reply.lines(broken), Reply.lines(whole))

    result = await generate(provider(settings, retry, recorder), evidence, count=LONG_RUN)

    assert len(recorder.requests) == 2
    assert len(result.personas) == LONG_RUN
    assert result.usage.output_tokens == 400
