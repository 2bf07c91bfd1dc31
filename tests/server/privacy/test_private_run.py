"""A run with provider "openai" and privacy on, against the loopback fake OpenAI server that
records every request: nothing planted reaches it, and what is stored is in the participants'
own words. On SQLite and PostgreSQL (the ``service`` fixture)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from persona.errors import NotFoundError
from persona.schemas import ExperimentCreate, GenerationConfig, PrivacyConfig
from persona.service import PersonaService
from sqlalchemy import text

from tests.fakes import FakeOpenAIServer
from tests.server.privacy._planted import FRAGMENTS, PLANTED, SOURCES, write_sources


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        yield fake


@pytest.fixture
def planted_dir(research_dir: Path) -> Path:
    write_sources(research_dir)
    return research_dir


def _privacy(pseudonymize: bool | None) -> PrivacyConfig:
    return PrivacyConfig(pseudonymize=pseudonymize, names=["Northwind Traders"], phone_region="US")


async def _run(service: PersonaService, pseudonymize: bool | None) -> tuple[str, object]:
    experiment = await service.create_experiment(
        ExperimentCreate(
            name="Sign-in study",
            data_sources=SOURCES,
            config=GenerationConfig(
                provider="openai", persona_count=2, privacy=_privacy(pseudonymize)
            ),
        )
    )
    started = await service.start_run(experiment.id)
    return experiment.id, await service.wait_for_run(experiment.id, started.run.id, timeout=60)


def _pseudonym_rows(service: PersonaService, experiment_id: str) -> int:
    with service._repository.db.read_connection() as connection:
        statement = text("SELECT count(*) FROM pseudonyms WHERE experiment_id = :e")
        return int(connection.execute(statement, {"e": experiment_id}).scalar_one())


async def test_nothing_planted_reaches_the_provider_and_personas_keep_the_real_words(
    server: FakeOpenAIServer,
    planted_dir: Path,
    service: PersonaService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="persona")
    experiment_id, run = await _run(service, pseudonymize=True)

    assert run.status == "succeeded", run.error
    sent = [json.dumps(r.body, ensure_ascii=False) for r in server.chat_requests]
    assert sent
    for body in sent:
        for values in PLANTED.values():
            for value in values:
                assert value not in body
        for fragment in FRAGMENTS:
            assert fragment.casefold() not in body.casefold()
    assert "Participant A" in sent[0] and "[email 1]" in sent[0]

    evidence = (await service.list_run_evidence(experiment_id, run.id, limit=200)).items
    text_of = {record.id: record.text for record in evidence}
    personas = (await service.list_personas(experiment_id)).items
    quotes = [q for p in personas for q in p.quotes]
    assert quotes
    for quote in quotes:  # verified exactly when verbatim in the original record
        assert quote.verified
        assert any(quote.text in text_of[i] for i in quote.evidence_ids), quote.text
    joined = json.dumps([p.model_dump(mode="json") for p in personas])
    assert "[email" not in joined and "Participant " not in joined and "[phone" not in joined
    assert "dana.whitfield@northwind.example.com" in joined  # the way back
    assert {p for persona in personas for p in persona.participants} <= set(PLANTED["participant"])

    assert run.privacy is not None and run.privacy.pseudonymized
    counts = {k.kind: k for k in run.privacy.kinds}
    for kind in ("email", "phone", "url", "ip", "card", "iban", "participant"):
        assert counts[kind].values == len(PLANTED[kind]), kind
    assert counts["name"].values == len(PLANTED["name"])
    assert run.privacy.records == len(evidence) and run.privacy.records_affected == len(evidence)

    events = await service.list_run_events(experiment_id, run.id)
    told = caplog.text + json.dumps([e.model_dump(mode="json") for e in events.items])
    assert events.items and not any(v in told for vs in PLANTED.values() for v in vs)

    assert _pseudonym_rows(service, experiment_id) == sum(len(v) for v in PLANTED.values())
    await service.delete_experiment(experiment_id)
    assert _pseudonym_rows(service, experiment_id) == 0
    with pytest.raises(NotFoundError):
        await service.get_experiment(experiment_id)


async def test_a_second_run_reuses_the_pseudonyms(
    server: FakeOpenAIServer, planted_dir: Path, service: PersonaService
) -> None:
    experiment_id, first = await _run(service, pseudonymize=True)
    first_bodies = [json.dumps(r.body) for r in server.chat_requests]
    started = await service.start_run(experiment_id)
    second = await service.wait_for_run(experiment_id, started.run.id, timeout=60)

    assert first.status == second.status == "succeeded"
    later = [json.dumps(r.body) for r in server.chat_requests[len(first_bodies) :]]
    assert later and later[0] == first_bodies[0]  # the same pseudonyms, so the same request
    assert _pseudonym_rows(service, experiment_id) == sum(len(v) for v in PLANTED.values())


async def test_off_for_a_loopback_server_by_default_and_the_report_says_so(
    server: FakeOpenAIServer, planted_dir: Path, service: PersonaService
) -> None:
    experiment_id, run = await _run(service, pseudonymize=None)

    assert run.status == "succeeded", run.error
    assert run.privacy is not None and not run.privacy.pseudonymized
    assert "off by default" in run.privacy.reason
    assert "dana.whitfield@northwind.example.com" in json.dumps(server.chat_requests[0].body)
    assert _pseudonym_rows(service, experiment_id) == 0


async def test_ner_without_its_model_fails_the_run_before_anything_is_sent(
    server: FakeOpenAIServer, planted_dir: Path, service: PersonaService
) -> None:
    experiment = await service.create_experiment(
        ExperimentCreate(
            name="Sign-in study",
            data_sources=SOURCES,
            config=GenerationConfig(
                provider="openai", privacy=PrivacyConfig(pseudonymize=True, ner=True)
            ),
        )
    )
    started = await service.start_run(experiment.id)
    run = await service.wait_for_run(experiment.id, started.run.id, timeout=60)

    assert run.status == "failed" and run.error is not None
    assert run.error.code == "ner_unavailable"
    assert "python -m spacy download en_core_web_lg" in run.error.message
    assert server.chat_requests == []
