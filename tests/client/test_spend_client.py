"""The clients' estimate and a budget's refusal, against the real app served on loopback with
the fake OpenAI server behind it."""

from __future__ import annotations

from collections.abc import Iterator

import persona_client as pc
import pytest

from tests.fakes import FakeOpenAIServer, serving_openai

from .conftest import AppFactory
from .test_against_app import async_client, sync_client

BODY = {
    "name": "Spend",
    "data_sources": ["./interviews.csv"],
    "config": {"provider": "openai", "persona_count": 2, "max_cost_usd": 0.05},
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with serving_openai(monkeypatch) as server:
        yield server


def test_sync_estimate_and_a_refused_start(make_app: AppFactory, fake: FakeOpenAIServer) -> None:
    with sync_client(make_app()) as client:
        experiment = client.experiments.create(**BODY)  # type: ignore[arg-type]

        estimate = client.experiments.estimate(experiment.id)
        local = client.experiments.estimate(experiment.id, provider="local", persona_count=1)
        with pytest.raises(pc.ConflictError) as refused:
            client.runs.start(experiment.id)

    assert estimate.strategy == "direct" and estimate.requests == 1
    assert estimate.cost_usd_max is not None and estimate.cost_usd_max > 0.05
    assert [b.remaining_usd for b in estimate.budgets] == [0.05]
    assert local.strategy == "offline" and local.cost_usd_max == 0.0
    assert refused.value.code == "budget_exceeded"
    assert "max_cost_usd" in str(refused.value)
    assert fake.chat_requests == []


async def test_async_estimate(make_app: AppFactory, fake: FakeOpenAIServer) -> None:
    async with async_client(make_app()) as client:
        experiment = await client.experiments.create(**BODY)  # type: ignore[arg-type]
        estimate = await client.experiments.estimate(experiment.id, persona_count=4)
        assert (await client.experiments.get(experiment.id)).spent_usd == 0.0

    assert estimate.provider == "openai" and estimate.prompt_tokens > 0
    assert estimate.counted_with == "tokenizer"
    assert fake.chat_requests == []
