"""A reply cut off even at the model's largest output: the work is split into smaller requests,
never repaired at the same size. Requests go to respx standing in for OpenAI, whose fake model
cuts off its reply (``finish_reason: length``) when a request asks for too much."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from persona.errors import ProviderError
from persona.schemas import Evidence

from tests.fakes import model_answer
from tests.server.generation.conftest import generate

URL = "https://api.openai.com/v1/chat/completions"
RECORD = re.compile(r'^\{"id": "E\d+"', re.MULTILINE)


class CuttingModel:
    """Answers as the fake model does, but cuts off a reply asking for more than
    ``max_personas`` personas, or notes on more than ``max_records`` records."""

    def __init__(self, max_personas: int = 100, max_records: int = 1000) -> None:
        self.max_personas = max_personas
        self.max_records = max_records
        self.asked: list[tuple[str, int, str]] = []
        """Every request: what it asked for (personas or notes), how many, and its prompt."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        prompt = body["messages"][-1]["content"]
        schema = body["response_format"]["json_schema"]["schema"]
        if "notes" in schema["properties"]:
            asked = ("notes", len(RECORD.findall(prompt)), prompt)
            cut = asked[1] > self.max_records
        else:
            asked = ("personas", schema["properties"]["personas"]["minItems"], prompt)
            cut = asked[1] > self.max_personas
        self.asked.append(asked)
        text = model_answer(prompt, schema)
        return httpx.Response(
            200,
            json={
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text[: len(text) // 2]}
                        if cut
                        else {"role": "assistant", "content": text},
                        "finish_reason": "length" if cut else "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5},
            },
        )


def evidence(records: int, words: int = 12) -> list[Evidence]:
    return [
        Evidence(
            id=f"ev-{n}",
            source="s.txt",
            locator=f"line {n}",
            participant=f"P{n}",
            text=" ".join(f"w{n}x{i}" for i in range(words)),
        )
        for n in range(records)
    ]


@respx.mock
async def test_personas_cut_off_are_asked_for_in_halves_each_told_who_is_written(
    tmp_path: Path,
) -> None:
    model = CuttingModel(max_personas=2)
    respx.post(URL).mock(side_effect=model)

    # A small context keeps each reply short enough to be read whole rather than streamed.
    result = await generate(evidence(8), tmp_path, count=5, context=12_000)

    assert [count for _, count, _ in model.asked] == [5, 3, 2, 1, 2]
    assert len(result.personas) == 5
    assert result.usage.output_tokens == 5 * 5  # every request is paid for, the cut ones too
    _, _, two, one, last_two = model.asked
    for earlier, later in ((two, one), (two, last_two), (one, last_two)):
        for persona in model_answer_of(earlier)["personas"]:
            assert persona["name"] in later[2]  # asked for people other than these
    assert "already written" not in two[2]  # the first batch has nobody to differ from


def model_answer_of(asked: tuple[str, int, str]) -> Any:
    """The fake model's reply to a request that was not cut off."""
    prompt = asked[2]
    schema = {"properties": {"personas": {"minItems": asked[1]}}}
    return json.loads(model_answer(prompt, schema))


@respx.mock
async def test_one_persona_cut_off_fails_as_cut_off_without_repair(tmp_path: Path) -> None:
    model = CuttingModel(max_personas=0)
    respx.post(URL).mock(side_effect=model)

    with pytest.raises(ProviderError) as caught:
        await generate(evidence(4), tmp_path, count=1, context=12_000)

    assert caught.value.code == "invalid_output" and "output limit" in caught.value.message
    assert len(model.asked) == 1


@respx.mock
async def test_notes_cut_off_are_taken_from_each_half_of_the_chunk(tmp_path: Path) -> None:
    model = CuttingModel(max_records=2)
    respx.post(URL).mock(side_effect=model)

    data = evidence(60, words=20)
    result = await generate(data, tmp_path, count=1, context=2048)

    notes = [count for kind, count, prompt in model.asked if "<evidence>" in prompt]
    cut = [count for count in notes if count > 2]
    assert cut, "no chunk was large enough to be cut: the test proves nothing"
    # Every record was condensed exactly once, in requests small enough not to be cut.
    assert sum(count for count in notes if count <= 2) == len(data)
    assert len(result.personas) == 1
