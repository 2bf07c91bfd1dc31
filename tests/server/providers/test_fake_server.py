"""The OpenAI provider over real loopback sockets, against the fake server's scripted faults."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from persona.errors import ProviderError
from persona.providers._http import RetryPolicy
from persona.providers.openai import OpenAIProvider
from persona.schemas import Evidence, GenerationConfig
from persona.settings import Settings

from tests.fakes import Content, FakeOpenAIServer, Hangup, InvalidJson, Stall, Status, Truncated
from tests.fakes.miscopy import MiscopyingModel, id_tokens, miscopy
from tests.server.providers.conftest import RecordingSleep, personas_json


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def provider_for(
    server: FakeOpenAIServer, settings: Settings, retry: RetryPolicy
) -> OpenAIProvider:
    return OpenAIProvider(settings, api_key="sk-fake", base_url=server.base_url, retry=retry)


async def test_a_mix_of_faults_is_retried_through_to_success(
    server: FakeOpenAIServer, settings: Settings, sleep: RecordingSleep, evidence: list[Evidence]
) -> None:
    server.script(Status(429, retry_after="0"), Status(500), Truncated(), InvalidJson(), Hangup())
    provider = provider_for(server, settings, RetryPolicy(max_retries=5, sleep=sleep))

    result = await provider.generate(evidence, GenerationConfig(provider="openai", persona_count=2))
    await provider.aclose()

    assert len(server.chat_requests) == 6
    assert len(result.personas) == 2
    assert all(q.verified for p in result.personas for q in p.quotes)  # quotes from the prompt
    assert sleep.delays[0] == 0.0  # Retry-After: 0 honoured
    assert len(sleep.delays) == 5
    first = server.chat_requests[0]
    assert first.headers["authorization"] == "Bearer sk-fake"
    assert first.body["response_format"]["json_schema"]["name"] == "personas"


async def test_a_server_slower_than_the_timeout_ends_as_unavailable(
    server: FakeOpenAIServer, tmp_path: Path, sleep: RecordingSleep, evidence: list[Evidence]
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, provider_timeout=0.2)
    server.script(Stall(2.0), Stall(2.0))
    provider = provider_for(server, settings, RetryPolicy(max_retries=1, sleep=sleep))

    with pytest.raises(ProviderError) as caught:
        await provider.generate(evidence, GenerationConfig(provider="openai", persona_count=2))
    await provider.aclose()

    assert caught.value.code == "provider_unavailable"
    assert caught.value.status is None
    assert "no response within 0.2 s" in caught.value.message


async def test_scripted_content_and_statuses_reach_the_provider(
    server: FakeOpenAIServer, settings: Settings, sleep: RecordingSleep, evidence: list[Evidence]
) -> None:
    server.script(Content("no JSON here"), Content(personas_json(2)))
    provider = provider_for(server, settings, RetryPolicy(max_retries=0, sleep=sleep))
    result = await provider.generate(evidence, GenerationConfig(provider="openai", persona_count=2))
    assert [p.name for p in result.personas] == ["Dana K.", "Sam R."]

    server.script(Status(401, message="bad key"))
    with pytest.raises(ProviderError) as caught:
        await provider.generate(evidence, GenerationConfig(provider="openai", persona_count=2))
    await provider.aclose()
    assert (caught.value.code, caught.value.status) == ("provider_auth", 401)
    assert "bad key" in caught.value.message


def test_other_routes(server: FakeOpenAIServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/models").json()["data"][0]["id"] == "fake-model"
        missing = client.post("/embeddings", json={})
    assert missing.status_code == 404
    assert [r.path for r in server.requests] == ["/v1/models", "/v1/embeddings"]


@pytest.mark.parametrize("context", [None, 2560], ids=["direct", "map-reduce"])
async def test_citations_by_alias_map_back_to_the_quoted_records(
    settings: Settings, retry: RetryPolicy, context: int | None
) -> None:
    evidence = [
        Evidence(
            id=f"ev-{n:016x}",
            source="interviews.csv",
            locator=f"row {n + 2}",
            text=" ".join(f"r{n}w{i}" for i in range(30)),
        )
        for n in range(80)
    ]
    settings = settings.model_copy(update={"provider_context_tokens": context})
    with FakeOpenAIServer(default=MiscopyingModel(rate=0.0)) as fake:
        provider = provider_for(fake, settings, retry)
        config = GenerationConfig(provider="openai", persona_count=2)
        result = await provider.generate(evidence, config)
        await provider.aclose()
        prompts = [r.body["messages"][-1]["content"] for r in fake.chat_requests]

    assert (len(prompts) > 3) == (context is not None)
    assert all('"E1"' in p and "ev-" not in p for p in prompts)
    by_text = {e.text: e.id for e in evidence}
    quotes = [q for p in result.personas for q in p.quotes]
    assert quotes and all(q.evidence_ids == [by_text[q.text]] for q in quotes)
    assert all(p.dropped_evidence_ids == 0 for p in result.personas)


def test_the_miscopying_model_gets_tokens_wrong_at_its_rate() -> None:
    rng = random.Random(3)
    assert id_tokens("ev-c955f41bcafde2b4") == [
        *("ev", "-", "c", "955", "f", "41", "bca", "fde", "2", "b", "4")
    ]
    assert id_tokens("E517") == ["E", "517"]
    assert miscopy("ev-c955f41bcafde2b4", 0.0, rng) == "ev-c955f41bcafde2b4"
    wrong = miscopy("E517", 1.0, rng)
    assert len(wrong) == 4 and wrong[0] != "E" and wrong[1:] != "517"
