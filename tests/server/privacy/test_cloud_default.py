"""Runs with provider "anthropic" (its HTTP API mocked with respx, answered by the fake
model): pseudonymised by default, and sent as it is only when the experiment turns privacy
off, which the run's report records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from persona.schemas import ExperimentCreate, GenerationConfig, PrivacyConfig, RunDetail
from persona.service import PersonaService

from tests.fakes import model_answer
from tests.server.privacy._planted import PLANTED, SOURCES, write_sources

MESSAGES = "https://api.anthropic.com/v1/messages"


@pytest.fixture
def anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Anthropic's API answering like a model that reads the prompt; yields the bodies sent."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content.decode())
        body = json.loads(request.content)
        text = model_answer(body["messages"][0]["content"], body["tools"][0]["input_schema"])
        return httpx.Response(
            200,
            json={
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 100, "output_tokens": 100},
            },
        )

    with respx.mock(assert_all_called=False) as mock:
        mock.post(MESSAGES).mock(side_effect=answer)
        yield sent


async def _run(service: PersonaService, pseudonymize: bool | None) -> RunDetail:
    experiment = await service.create_experiment(
        ExperimentCreate(
            name="Sign-in study",
            data_sources=SOURCES,
            config=GenerationConfig(
                provider="anthropic",
                persona_count=2,
                privacy=PrivacyConfig(pseudonymize=pseudonymize, names=["Northwind Traders"]),
            ),
        )
    )
    started = await service.start_run(experiment.id)
    return await service.wait_for_run(experiment.id, started.run.id, timeout=60)


async def test_a_cloud_provider_gets_pseudonyms_by_default(
    anthropic: list[str], research_dir: Path, service: PersonaService
) -> None:
    write_sources(research_dir)

    run = await _run(service, pseudonymize=None)

    assert run.status == "succeeded", run.error
    assert run.privacy is not None and run.privacy.pseudonymized
    assert run.privacy.reason == "on by default: anthropic is not on this machine"
    assert anthropic and not any(
        value in body for body in anthropic for values in PLANTED.values() for value in values
    )


async def test_turning_privacy_off_for_a_cloud_provider_is_recorded_on_the_run(
    anthropic: list[str], research_dir: Path, service: PersonaService
) -> None:
    write_sources(research_dir)

    run = await _run(service, pseudonymize=False)

    assert run.status == "succeeded", run.error
    assert run.privacy is not None and not run.privacy.pseudonymized
    assert "turns it off although anthropic is not on this machine" in run.privacy.reason
    assert "dana.whitfield@northwind.example.com" in anthropic[0]
    stored = await service.get_run(run.experiment_id, run.id)
    assert stored.privacy == run.privacy
