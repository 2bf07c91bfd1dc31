"""The conformance suite: Persona's requests compared with the official SDKs' (pinned in
hatch.toml), and Persona's reading of replies built from the SDKs' own response models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from persona.errors import ProviderError
from persona.generation.provider import GenerationResult
from persona.providers._chat import ChatProvider
from persona.schemas import Evidence, GenerationConfig

from tests.fakes.recorder import Recorded, Recorder
from tests.server.providers.conftest import personas_json

LONG_RUN = 20
"""Personas asked of a run whose reply is long enough to be streamed."""


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with Recorder() as running:
        yield running


class Progress:
    """A progress callback that keeps every stage it is told."""

    def __init__(self) -> None:
        self.stages: list[str] = []

    async def __call__(self, fraction: float, stage: str) -> None:
        self.stages.append(stage)


async def generate(
    provider: ChatProvider,
    evidence: list[Evidence],
    *,
    count: int = 2,
    progress: Progress | None = None,
    **fields: Any,
) -> GenerationResult:
    config = GenerationConfig(provider=provider.name, persona_count=count, **fields)  # type: ignore[arg-type]
    try:
        return await provider.generate(evidence, config, progress=progress)
    finally:
        await provider.aclose()


async def failure(provider: ChatProvider, evidence: list[Evidence], **fields: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await generate(provider, evidence, **fields)
    return caught.value


def same_request(ours: Recorded, theirs: Recorded, headers: tuple[str, ...]) -> None:
    """Persona's request and the SDK's agree on path, the headers that matter and body."""
    assert (ours.method, ours.path) == (theirs.method, theirs.path)
    assert {h: ours.headers.get(h) for h in headers} == {h: theirs.headers.get(h) for h in headers}
    assert ours.json() == theirs.json()


def read_in_full(result: GenerationResult, progress: Progress) -> None:
    """A long run's streamed reply was read whole: every persona, the usage its last event
    counted (1,200 in, 400 out), and the tokens received reported on the way."""
    assert len(result.personas) == LONG_RUN
    assert (result.usage.input_tokens, result.usage.output_tokens) == (1200, 400)
    assert any(stage.endswith("tokens received)") for stage in progress.stages)


def personas_reply(count: int) -> str:
    """A well-formed reply of ``count`` personas (the two of ``personas_json`` in turn)."""
    reply = json.loads(personas_json(min(count, 2)))
    reply["personas"] = [reply["personas"][i % 2] for i in range(count)]
    return json.dumps(reply)


def pieces(text: str, size: int = 400) -> list[str]:
    """``text`` cut into the pieces a stream would carry it in."""
    return [text[i : i + size] for i in range(0, len(text), size)]
