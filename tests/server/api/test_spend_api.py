"""Estimates and budgets over HTTP: the real app and service, the fake OpenAI server behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import Content, FakeOpenAIServer, serving_openai

from .conftest import ClientFactory
from .test_runs import wait_finished

MANY_TOKENS = 1_000_000


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with serving_openai(monkeypatch) as server:
        yield server


def body(**config: Any) -> dict[str, Any]:
    return {
        "name": "Spend over HTTP",
        "data_sources": ["interviews.csv"],
        "config": {"provider": "openai", "persona_count": 2, **config},
    }


async def test_estimate_returns_the_plan_and_sends_nothing(
    make_client: ClientFactory, fake: FakeOpenAIServer
) -> None:
    client = await make_client()
    experiment = (await client.post("/experiments", json=body(max_cost_usd=3))).json()
    assert experiment["config"]["max_cost_usd"] == 3.0 and experiment["spent_usd"] == 0.0

    response = await client.post(f"/experiments/{experiment['id']}/estimate", json={})

    assert response.status_code == 200, response.text
    estimate = response.json()
    assert estimate["strategy"] == "direct" and estimate["requests"] == 1
    assert estimate["prompt_tokens"] > 0 and estimate["counted_with"] == "tokenizer"
    assert 0 < estimate["cost_usd_min"] < estimate["cost_usd_max"]
    assert estimate["budgets"] == [
        {
            "name": f"experiment {experiment['id']}'s max_cost_usd",
            "limit_usd": 3.0,
            "spent_usd": 0.0,
            "reserved_usd": 0.0,
            "remaining_usd": 3.0,
        }
    ]
    assert fake.chat_requests == []
    # Overrides are those of a run: the local provider is free.
    local = await client.post(
        f"/experiments/{experiment['id']}/estimate", json={"provider": "local"}
    )
    assert local.json()["strategy"] == "offline" and local.json()["cost_usd_max"] == 0.0


async def test_an_over_budget_run_is_a_409_problem_naming_the_budget(
    make_client: ClientFactory, fake: FakeOpenAIServer
) -> None:
    client = await make_client()
    experiment = (await client.post("/experiments", json=body(max_cost_usd=0.01))).json()

    response = await client.post(f"/experiments/{experiment['id']}/generate", json={})

    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "budget_exceeded"
    assert f"experiment {experiment['id']}'s max_cost_usd" in problem["detail"]
    assert "may cost up to $" in problem["detail"] and "gpt-5.4-mini" in problem["detail"]
    assert fake.chat_requests == []
    runs = (await client.get(f"/experiments/{experiment['id']}/runs")).json()
    assert runs["items"] == []


async def test_spend_and_the_cap_show_on_the_experiment_and_the_run(
    make_client: ClientFactory, fake: FakeOpenAIServer
) -> None:
    client = await make_client()
    experiment = (await client.post("/experiments", json=body(max_cost_usd=1))).json()
    fake.script(Content("not JSON at all", completion_tokens=MANY_TOKENS))

    started = await client.post(f"/experiments/{experiment['id']}/generate", json={})
    run = await wait_finished(client, started.headers["Location"])

    assert run["status"] == "failed" and run["error"]["code"] == "budget_exceeded"
    assert run["spend_cap_usd"] == 1.0 and run["usage"]["output_tokens"] == MANY_TOKENS
    assert len(fake.chat_requests) == 1
    shown = (await client.get(f"/experiments/{experiment['id']}")).json()
    assert shown["spent_usd"] == pytest.approx(run["usage"]["cost_usd"])
    listed = (await client.get("/experiments")).json()["items"]
    assert listed[0]["spent_usd"] == pytest.approx(run["usage"]["cost_usd"])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0", "greater than 0"),
        ("-1", "greater than 0"),
        ('"5"', "valid number"),
        ("true", "number"),
        ("NaN", "finite number"),  # Python's JSON reader takes NaN and Infinity
        ("Infinity", "finite number"),
        ("1000001", "less than or equal to 1000000"),
    ],
)
async def test_a_budget_that_is_not_a_positive_number_is_refused(
    make_client: ClientFactory, value: str, problem: str
) -> None:
    client = await make_client()
    raw = json.dumps(body()).replace(
        '"persona_count": 2', f'"persona_count": 2, "max_cost_usd": {value}'
    )

    response = await client.post(
        "/experiments", content=raw, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "config", "max_cost_usd"] and problem in error["msg"]
    assert (await client.get("/experiments")).json()["items"] == []


async def test_estimate_errors_are_problems(make_client: ClientFactory) -> None:
    client = await make_client()
    missing = await client.post("/experiments/exp-nope/estimate", json={})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    experiment = (await client.post("/experiments", json=body())).json()
    path = f"/experiments/{experiment['id']}/estimate"

    unknown = await client.post(path, json={"max_cost_usd": 1})
    unconfigured = await client.post(path, json={})

    assert unknown.status_code == 422  # a budget is the experiment's, not a run's override
    assert unconfigured.status_code == 409
    assert unconfigured.json()["code"] == "provider_not_configured"
