"""The shared LLM pipeline's edges: repair when the request is full, map-reduce failures,
contexts too small to use. Requests go to respx standing in for OpenAI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from persona.errors import InsufficientEvidenceError, ProviderError
from persona.generation.chunking import TokenBudget, estimate_tokens
from persona.generation.parsing import Note
from persona.generation.pipeline import Completion, LLMGeneration, _shortened
from persona.generation.prompt import ChatPrompt, persona_prompt, render_note
from persona.providers.openai import OpenAIProvider
from persona.schemas import Evidence
from persona.settings import Settings

from tests.fakes import model_answer
from tests.server.generation.conftest import PERSONA, generate

URL = "https://api.openai.com/v1/chat/completions"


def reply(text: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        },
    )


def prompt_and_schema(request: httpx.Request) -> tuple[str, dict[str, Any]]:
    body = json.loads(request.content)
    return body["messages"][-1]["content"], body["response_format"]["json_schema"]["schema"]


def budget_at(context: int) -> TokenBudget:
    settings = Settings(_env_file=None, provider_context_tokens=context)
    return OpenAIProvider(settings, api_key="k").budget("m", 1)


def long_evidence(records: int, words: int = 60) -> list[Evidence]:
    return [
        Evidence(
            id=f"ev-{n}",
            source="s.txt",
            locator=f"line {n}",
            text=" ".join(f"w{n}x{i}" for i in range(words)),
        )
        for n in range(records)
    ]


async def test_no_evidence_is_refused_before_any_request(tmp_path: Path) -> None:
    with respx.mock, pytest.raises(InsufficientEvidenceError, match="no evidence"):
        await generate([], tmp_path)  # any request would fail: none is mocked


@respx.mock
async def test_a_repair_leaves_out_the_original_when_both_would_not_fit(tmp_path: Path) -> None:
    budget = OpenAIProvider(
        Settings(_env_file=None, provider_context_tokens=4096), api_key="k"
    ).budget("m", 1)
    records = 1
    while budget.fits(persona_prompt(long_evidence(records + 1), 1, 0).text):
        records += 1
    evidence = long_evidence(records)  # the single request is as full as it may be
    route = respx.post(URL).mock(side_effect=[reply("no JSON at all"), reply(json.dumps(PERSONA))])

    result = await generate(evidence, tmp_path, context=4096)

    assert route.call_count == 2
    repair, _ = prompt_and_schema(route.calls[1].request)
    assert repair.startswith("A reply that had to be JSON in the shape below could not be used")
    assert "<evidence>" not in repair
    assert result.personas[0].name == "Ana P."


@respx.mock
async def test_one_record_larger_than_the_context_is_split_under_its_id(tmp_path: Path) -> None:
    evidence = long_evidence(1, words=3000)
    notes_requests: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        prompt, schema = prompt_and_schema(request)
        if "notes" in schema["properties"]:
            notes_requests.append(prompt)
        return reply(model_answer(prompt, schema))

    respx.post(URL).mock(side_effect=answer)

    result = await generate(evidence, tmp_path, context=2048)

    evidence_chunks = [p for p in notes_requests if "<evidence>" in p]
    assert len(evidence_chunks) > 3
    # Every piece keeps its record's alias (each request names it E1), so it maps back.
    assert all('"id": "E1"' in prompt and '"id": "E2"' not in prompt for prompt in evidence_chunks)
    assert result.personas[0].evidence_ids == ["ev-0"]
    assert all(q.verified for q in result.personas[0].quotes)


@respx.mock
async def test_a_failure_while_condensing_stops_the_run_with_its_own_error(
    tmp_path: Path,
) -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            return httpx.Response(401, json={"error": {"message": "key revoked"}})
        return reply(model_answer(*prompt_and_schema(request)))

    respx.post(URL).mock(side_effect=answer)

    with pytest.raises(ProviderError) as caught:
        await generate(long_evidence(60), tmp_path, context=2048)

    assert caught.value.code == "provider_auth"
    assert "key revoked" in caught.value.message


@pytest.mark.parametrize(
    ("notes", "message"),
    [
        (lambda prompt: {"notes": []}, "returned no notes for any chunk"),
        (
            lambda prompt: {
                "notes": [{"theme": "t", "summary": prompt[-1500:], "evidence_ids": ["ev-1"]}] * 2
            },
            "did not shorten the notes",
        ),
    ],
    ids=["none", "not-shorter"],
)
@respx.mock
async def test_notes_that_cannot_be_reduced_end_as_invalid_output(
    tmp_path: Path, notes: Callable[[str], dict[str, Any]], message: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        prompt, schema = prompt_and_schema(request)
        if "notes" in schema["properties"]:
            return reply(json.dumps(notes(prompt)))
        return reply(model_answer(prompt, schema))

    respx.post(URL).mock(side_effect=answer)

    with pytest.raises(ProviderError, match=message) as caught:
        await generate(long_evidence(40), tmp_path, context=2048)
    assert caught.value.code == "invalid_output"


async def test_a_context_too_small_for_the_instructions_sends_nothing() -> None:
    sent: list[ChatPrompt] = []

    async def complete(prompt: ChatPrompt) -> Completion:
        sent.append(prompt)
        return Completion("{}")

    generation = LLMGeneration(
        complete,
        label="acme model tiny",
        budget=TokenBudget(context_tokens=1200, output_tokens=512),
    )

    with pytest.raises(ProviderError) as caught:
        await generation.personas(long_evidence(20), 2)

    assert caught.value.code == "context_exceeded"
    assert "context window of acme model tiny (1200 tokens) is too small" in caught.value.message
    assert "PERSONA_PROVIDER_CONTEXT_TOKENS" in caught.value.message
    assert sent == []


async def test_a_note_too_long_to_pass_on_is_shortened_keeping_its_ids() -> None:
    evidence = long_evidence(30)
    rounds: list[ChatPrompt] = []

    async def complete(prompt: ChatPrompt) -> Completion:
        if prompt.kind == "notes" and "<evidence>" in prompt.user:
            lines = prompt.user.split("<evidence>\n")[1].splitlines()[:-1]
            first = json.loads(lines[0])
            note = {
                "theme": "everything",
                "summary": "long-winded " * 800,
                "evidence_ids": [json.loads(line)["id"] for line in lines],
                "quotes": [{"text": " ".join(first["text"].split()[:2]), "evidence_ids": ["E1"]}],
            }
            return Completion(json.dumps({"notes": [note]}))
        rounds.append(prompt)
        return Completion(model_answer(prompt.user, prompt.schema))

    generation = LLMGeneration(complete, label="m", budget=budget_at(2048))
    personas = await generation.personas(evidence, 1)

    assert "long-winded" in rounds[0].user and "long-winded " * 400 not in rounds[0].user
    passed_on = {evidence_id for prompt in rounds for evidence_id in prompt.aliases.values()}
    assert passed_on == {e.id for e in evidence}  # the shortened notes kept their ids
    assert set(personas[0].evidence_ids) <= {e.id for e in evidence}
    assert all(q.verified for q in personas[0].quotes)


@respx.mock
async def test_a_runaway_reply_is_cut_to_fit_the_repair_request(tmp_path: Path) -> None:
    runaway = "Let me think. " * 4000
    route = respx.post(URL).mock(side_effect=[reply(runaway), reply(json.dumps(PERSONA))])

    result = await generate(long_evidence(3), tmp_path, context=4096)

    repair, schema = prompt_and_schema(route.calls[1].request)
    budget = OpenAIProvider(
        Settings(_env_file=None, provider_context_tokens=4096), api_key="k"
    ).budget("m", 1)
    assert "Let me think." in repair and "[cut]" in repair
    assert budget.fits(repair + json.dumps(schema))
    assert result.personas[0].name == "Ana P."


def test_a_note_is_shortened_summary_first_then_quotes_then_ids() -> None:
    note = Note(
        theme="t" * 300,
        summary="s" * 2000,
        evidence_ids=[f"ev-{n:04d}" for n in range(40)],
        quotes=[{"text": "q" * 200, "evidence_ids": ["ev-0000"]}] * 3,  # type: ignore[list-item]
    )

    roomy = _shortened(note, 1000)
    tight = _shortened(note, 150)
    tightest = _shortened(note, 5)

    assert roomy.quotes == note.quotes and roomy.evidence_ids == note.evidence_ids
    assert len(roomy.summary) < len(note.summary)
    assert tight.quotes == [] and len(tight.theme) == 80 and 1 < len(tight.evidence_ids) < 40
    assert tight.evidence_ids == note.evidence_ids[: len(tight.evidence_ids)]
    assert estimate_tokens(render_note(tight)) <= 150
    assert tightest.evidence_ids == ["ev-0000"]  # never fewer than one


class Scripted:
    """A ``Complete`` function answering from a script and keeping every prompt it is sent."""

    def __init__(self, *completions: Completion) -> None:
        self.completions = list(completions)
        self.prompts: list[ChatPrompt] = []

    async def __call__(self, prompt: ChatPrompt) -> Completion:
        self.prompts.append(prompt)
        return self.completions.pop(0)


def one_record() -> list[Evidence]:
    return [Evidence(id="ev-1", source="s.txt", locator="line 1", text="I hate long forms.")]


async def test_a_reply_cut_at_its_limit_is_asked_again_with_the_most_room_that_fits() -> None:
    budget = TokenBudget(context_tokens=16_000, output_tokens=1_000)
    complete = Scripted(
        Completion('{"personas": [', 10, 1_000, stop="truncated", stop_reason="length"),
        Completion(json.dumps({"personas": [PERSONA]}), 10, 1_500),
    )
    generation = LLMGeneration(complete, label="m", budget=budget, max_output_tokens=64_000)

    await generation.personas(one_record(), 1)

    first, second = complete.prompts
    room = budget.context_tokens - estimate_tokens(first.text) - budget.margin
    assert (first.max_output_tokens, second.max_output_tokens) == (1_000, room)
    assert second.user == first.user  # asked again, not repaired
    assert generation.usage.output_tokens == 2_500


async def test_a_reply_cut_with_no_more_room_to_give_fails_without_a_second_request() -> None:
    budget = TokenBudget(context_tokens=16_000, output_tokens=1_000)
    complete = Scripted(Completion('{"personas": [', 10, 1_000, stop="truncated"))
    generation = LLMGeneration(complete, label="m", budget=budget, max_output_tokens=1_000)

    with pytest.raises(ProviderError) as caught:
        await generation.personas(one_record(), 1)

    assert caught.value.code == "invalid_output" and "output limit" in caught.value.message
    assert len(complete.prompts) == 1


async def test_a_refusal_fails_at_once_with_its_reason_and_usage_counted() -> None:
    budget = TokenBudget(context_tokens=16_000, output_tokens=1_000)
    complete = Scripted(Completion("", 10, 3, stop="refused", stop_reason="content_filter"))
    generation = LLMGeneration(complete, label="m", budget=budget)

    with pytest.raises(ProviderError) as caught:
        await generation.personas(one_record(), 1)

    assert caught.value.code == "provider_refused" and "content_filter" in caught.value.message
    assert len(complete.prompts) == 1 and generation.usage.output_tokens == 3


async def test_tokens_received_are_reported_in_the_current_stage() -> None:
    stages: list[tuple[float, str]] = []

    async def progress(fraction: float, stage: str) -> None:
        stages.append((fraction, stage))

    budget = TokenBudget(context_tokens=16_000, output_tokens=1_000)
    generation = LLMGeneration(Scripted(), label="m", budget=budget, progress=progress)
    await generation._report(0.1, "writing personas")
    await generation.tokens_received(2_000)

    assert stages[-1] == (0.1, "writing personas (2000 tokens received)")
