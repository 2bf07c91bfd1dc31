from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from persona.generation.provider import GenerationResult
from persona.providers._http import RetryPolicy
from persona.providers.openai import OpenAIProvider
from persona.schemas import Evidence, GenerationConfig
from persona.settings import Settings

PERSONA: dict[str, Any] = {
    "name": "Ana P.",
    "title": "Weekly planner",
    "summary": [
        {"text": "A teacher who plans each week ahead on paper.", "evidence_ids": ["ev-1"]},
        {"text": "Calendars that do not sync get in the way.", "evidence_ids": ["ev-2"]},
    ],
    "demographics": {"role": "teacher"},
    "goals": [{"text": "Plan the week ahead", "evidence_ids": ["ev-1"]}],
    "pain_points": [{"text": "Calendars that do not sync", "evidence_ids": ["ev-2"]}],
    "behaviours": [{"text": "Uses a paper notebook", "evidence_ids": ["ev-1"]}],
    "quotes": [{"text": "I always plan my week on Sunday evening", "evidence_ids": ["ev-1"]}],
    "evidence_ids": ["ev-1", "ev-2"],
}

NOTE: dict[str, Any] = {
    "theme": "Planning ritual",
    "summary": "Plans the week on Sunday with paper.",
    "participants": ["Ana"],
    "evidence_ids": ["ev-1"],
    "quotes": [{"text": "I always plan my week on Sunday evening", "evidence_ids": ["ev-1"]}],
}


@pytest.fixture
def evidence() -> list[Evidence]:
    texts = [
        "I always plan my week on Sunday evening with a paper notebook.",
        "It is frustrating when the shared calendar does not sync with my phone.",
        "I check the school portal every morning before the first class.",
    ]
    return [
        Evidence(
            id=f"ev-{n}",
            source="notes.md",
            locator=f"line {n}",
            participant="Ana",
            text=text,
            attributes={"role": "teacher"},
        )
        for n, text in enumerate(texts, start=1)
    ]


async def no_sleep(_: float) -> None:
    return None


async def generate(
    evidence: list[Evidence], tmp_path: Path, count: int = 1, context: int | None = None
) -> GenerationResult:
    """A run of the openai provider (its API mocked by the test) with ``context`` tokens."""
    settings = Settings(_env_file=None, data_dir=tmp_path, provider_context_tokens=context)
    provider = OpenAIProvider(settings, api_key="k", retry=RetryPolicy(sleep=no_sleep))
    try:
        return await provider.generate(
            evidence, GenerationConfig(provider="openai", persona_count=count)
        )
    finally:
        await provider.aclose()
