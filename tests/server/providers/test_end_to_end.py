"""Whole generations through PersonaService with provider "openai", against the fake
OpenAI-compatible server on 127.0.0.1 (real sockets, real SQLite, the real runner)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from persona.errors import ProviderNotConfiguredError
from persona.schemas import ExperimentCreate, GenerationConfig, GenerationOverrides
from persona.service import PersonaService
from persona.settings import Settings

from tests.fakes import Content, FakeOpenAIServer, Status

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a local server needs no key
        yield fake


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "research"
    root.mkdir()
    shutil.copy(EXAMPLES / "interviews.csv", root / "interviews.csv")
    return root


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data_dir,
        provider_retry_base_delay=0.0,
        provider_max_retries=3,
        **overrides,
    )


@pytest.fixture
async def service(data_dir: Path) -> AsyncIterator[PersonaService]:
    async with PersonaService(settings_for(data_dir)) as started:
        yield started


async def run_once(service: PersonaService, count: int = 2) -> tuple[str, object]:
    experiment = await service.create_experiment(
        ExperimentCreate(
            name="Checkout study",
            data_sources=["interviews.csv"],
            config=GenerationConfig(provider="openai", persona_count=count),
        )
    )
    started = await service.start_run(experiment.id)
    done = await service.wait_for_run(experiment.id, started.run.id, timeout=60)
    return experiment.id, done


async def test_a_run_with_openai_stores_grounded_personas(
    server: FakeOpenAIServer, service: PersonaService
) -> None:
    experiment_id, run = await run_once(service, count=3)

    assert run.status == "succeeded", run.error
    assert run.config.provider == "openai" and run.progress == 1.0
    assert run.usage.input_tokens > 0 and run.usage.output_tokens > 0
    assert run.usage.cost_usd is not None and run.usage.cost_usd > 0  # gpt-5.4-mini is priced
    stored = (await service.list_personas(experiment_id)).items
    assert len(stored) == 3
    assert {p.id for p in stored} == set(run.persona_ids)
    assert all(p.quotes and all(q.verified for q in p.quotes) for p in stored)
    assert all(p.grounding.score == 1.0 and p.evidence_ids for p in stored)
    evidence = (await service.list_run_evidence(experiment_id, run.id, limit=200)).items
    participant_of = {record.id: record.participant for record in evidence}
    for persona in stored:  # the participants of the evidence the model's persona cites
        assert persona.participants
        assert persona.participants == sorted({participant_of[i] for i in persona.evidence_ids})
    (request,) = server.chat_requests
    assert request.body["model"] == "gpt-5.4-mini"
    assert "authorization" not in request.headers
    assert "Every morning I spend the first hour" in request.body["messages"][1]["content"]


async def test_transient_faults_are_retried_inside_the_run(
    server: FakeOpenAIServer, service: PersonaService
) -> None:
    server.script(Status(429, retry_after="0"), Status(502), Status(503))

    _, run = await run_once(service)

    assert run.status == "succeeded", run.error
    assert len(server.chat_requests) == 4


@pytest.mark.parametrize(
    ("script", "code", "words"),
    [
        ([Status(401, message="bad key")], "provider_auth", "bad key"),
        ([Status(500)] * 4, "provider_unavailable", "HTTP 500"),
        ([Content("no idea"), Content("still no idea")], "invalid_output", "raw output is saved"),
    ],
    ids=["auth", "unavailable", "invalid-output"],
)
async def test_provider_failures_fail_the_run_with_their_code(
    server: FakeOpenAIServer,
    service: PersonaService,
    data_dir: Path,
    script: list[object],
    code: str,
    words: str,
) -> None:
    server.script(*script)  # type: ignore[arg-type]

    experiment_id, run = await run_once(service)

    assert run.status == "failed"
    assert run.error is not None and run.error.code == code
    assert words in run.error.message
    assert (await service.list_personas(experiment_id)).items == []
    if code == "invalid_output":
        raw = (data_dir / ".persona" / "runs" / run.id / "raw_output.txt").read_text()
        assert "no idea" in raw and "still no idea" in raw
        # Both answers were billed: the failed run says what it cost.
        assert run.usage.input_tokens > 0 and run.usage.output_tokens > 0
        assert run.usage.cost_usd is not None and run.usage.cost_usd > 0
    else:
        # No answer came back: nothing was billed.
        assert (run.usage.input_tokens, run.usage.output_tokens, run.usage.cost_usd) == (0, 0, 0)


async def test_evidence_beyond_the_context_is_map_reduced_inside_the_run(
    server: FakeOpenAIServer, data_dir: Path
) -> None:
    settings = settings_for(data_dir, provider_context_tokens=2048)
    async with PersonaService(settings) as service:
        _, run = await run_once(service)

    assert run.status == "succeeded", run.error
    kinds = [r.body["response_format"]["json_schema"]["name"] for r in server.chat_requests]
    assert kinds[-1] == "personas" and kinds.count("persona_notes") >= 2
    assert all(q.verified for p in run.personas for q in p.quotes)


async def test_a_provider_without_its_key_is_refused_before_the_run_starts(
    service: PersonaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    experiment = await service.create_experiment(
        ExperimentCreate(name="s", data_sources=["interviews.csv"])
    )

    with pytest.raises(ProviderNotConfiguredError, match="ANTHROPIC_API_KEY"):
        await service.start_run(experiment.id, GenerationOverrides(provider="anthropic"))

    assert (await service.list_runs(experiment.id)).items == []
    listed = {p.name: p.configured for p in service.list_providers()}
    assert listed["anthropic"] is False


async def test_a_run_asking_for_a_long_reply_streams_it_and_stores_it_whole(
    server: FakeOpenAIServer, service: PersonaService
) -> None:
    experiment_id, run = await run_once(service, count=6)

    assert run.status == "succeeded", run.error
    (request,) = server.chat_requests
    assert request.body["stream"] is True  # 6 personas ask for more than 4,096 tokens
    assert run.usage.output_tokens > 0  # from the stream's closing usage chunk
    assert len((await service.list_personas(experiment_id)).items) == 6
