"""Budgets against a real `persona serve` process on SQLite and PostgreSQL, its provider the
loopback fake of an OpenAI-compatible server: an over-estimate run is refused before any
request, and a run is stopped at its cap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import Content, FakeOpenAIServer
from tests.servers import clean_env, running_server, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def api(
    data_dir: Path, server_database: dict[str, str], fake: FakeOpenAIServer
) -> Iterator[httpx.Client]:
    env = clean_env(OPENAI_BASE_URL=fake.base_url, **server_database)
    with (
        running_server(data_dir, env) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        yield client


def budgeted(api: httpx.Client, max_cost_usd: float) -> dict[str, Any]:
    body = {
        "name": f"budget {max_cost_usd}",
        "data_sources": ["interviews.csv"],
        "config": {"provider": "openai", "persona_count": 2, "max_cost_usd": max_cost_usd},
    }
    response = api.post("/experiments", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_budget_refuses_an_over_estimate_run_and_stops_a_run_at_its_cap(
    api: httpx.Client, fake: FakeOpenAIServer
) -> None:
    tight = budgeted(api, 0.01)
    refused = api.post(f"/experiments/{tight['id']}/generate")
    assert refused.status_code == 409
    assert refused.json()["code"] == "budget_exceeded"
    assert f"experiment {tight['id']}'s max_cost_usd" in refused.json()["detail"]
    assert fake.chat_requests == []

    capped = budgeted(api, 1.0)
    fake.script(Content("not JSON", completion_tokens=1_000_000))  # $4.50: past the cap
    started = api.post(f"/experiments/{capped['id']}/generate")
    assert started.status_code == 202, started.text
    run = wait_for(api, started.headers["location"], {"succeeded", "failed"})

    assert run["status"] == "failed" and run["error"]["code"] == "budget_exceeded"
    assert run["usage"]["output_tokens"] == 1_000_000
    assert len(fake.chat_requests) == 1  # the repair request was never sent
    spent = api.get(f"/experiments/{capped['id']}").json()["spent_usd"]
    assert spent == pytest.approx(run["usage"]["cost_usd"])
    again = api.post(f"/experiments/{capped['id']}/generate")
    assert again.status_code == 409 and len(fake.chat_requests) == 1
