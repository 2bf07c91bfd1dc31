"""A key across what it touches: the budget of the runs it starts, and the stream tickets it
mints (which act as the key, and end with it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes import FakeOpenAIServer, serving_openai

from .conftest import LOCAL_BODY, TOKEN, ClientFactory, assert_problem
from .test_keys import ADMIN, bearer, create_key
from .test_runs import wait_finished

STREAM = {"Accept": "text/event-stream"}
OPENAI_BODY = {
    "name": "Priced runs",
    "data_sources": ["interviews.csv"],
    "config": {"provider": "openai", "persona_count": 2},
}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with serving_openai(monkeypatch) as server:
        yield server


@pytest.fixture
async def secured(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client(api_token=TOKEN)


async def test_a_keys_cap_is_a_budget_of_the_runs_it_starts_and_estimates(
    secured: httpx.AsyncClient, fake: FakeOpenAIServer
) -> None:
    capped = await create_key(secured, "write", max_cost_usd=0.01)
    roomy = await create_key(secured, "write", max_cost_usd=500)
    as_capped = bearer(capped["secret"])
    experiment = (await secured.post("/experiments", json=OPENAI_BODY, headers=as_capped)).json()
    path = f"/experiments/{experiment['id']}"

    estimate = (await secured.post(f"{path}/estimate", json={}, headers=as_capped)).json()
    refused = await secured.post(f"{path}/generate", json={}, headers=as_capped)
    started = await secured.post(f"{path}/generate", json={}, headers=bearer(roomy["secret"]))

    budget_name = f"key {capped['id']}'s max_cost_usd"
    assert [budget["name"] for budget in estimate["budgets"]] == [budget_name]
    assert estimate["budgets"][0]["limit_usd"] == 0.01
    problem = assert_problem(refused, 409, "budget_exceeded")
    assert budget_name in problem["detail"]
    assert started.status_code == 202, started.text
    run = started.json()
    assert 0 < run["spend_cap_usd"] <= 500
    keys = {key["id"]: key for key in (await secured.get("/keys", headers=ADMIN)).json()["items"]}
    assert keys[capped["id"]]["spent_usd"] == 0.0


async def _finished_local_run(client: httpx.AsyncClient) -> str:
    experiment = (await client.post("/experiments", json=LOCAL_BODY, headers=ADMIN)).json()
    started = await client.post(f"/experiments/{experiment['id']}/generate", headers=ADMIN)
    assert started.status_code == 202, started.text
    location: str = started.headers["location"]
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as polling:
        polling.headers.update(ADMIN)
        await wait_finished(polling, location)
    return location


async def test_a_read_key_mints_a_ticket_that_ends_with_the_key(
    secured: httpx.AsyncClient,
) -> None:
    location = await _finished_local_run(secured)
    reader = await create_key(secured, "read")
    minted = await secured.post(f"{location}/stream-tickets", headers=bearer(reader["secret"]))
    assert minted.status_code == 201, minted.text
    ticket: dict[str, Any] = minted.json()

    opened = await secured.get(ticket["url"], headers=STREAM)
    revoked = await secured.delete(f"/keys/{reader['id']}", headers=ADMIN)
    after_revocation = await secured.get(ticket["url"], headers=STREAM)

    assert opened.status_code == 200 and "event: run.succeeded" in opened.text
    assert revoked.status_code == 204
    assert "Invalid stream ticket" in assert_problem(after_revocation, 401)["detail"]
    assert ticket["ticket"].startswith(f"k.{reader['id']}.")


async def test_a_ticket_of_a_key_cannot_be_passed_off_as_another_keys(
    secured: httpx.AsyncClient,
) -> None:
    location = await _finished_local_run(secured)
    first, second = await create_key(secured, "read"), await create_key(secured, "read")
    minted = (
        await secured.post(f"{location}/stream-tickets", headers=bearer(first["secret"]))
    ).json()
    signed = minted["ticket"].removeprefix(f"k.{first['id']}.")

    swapped = await secured.get(
        f"{location}/events", params={"ticket": f"k.{second['id']}.{signed}"}, headers=STREAM
    )
    unsigned_bootstrap = await secured.get(
        f"{location}/events", params={"ticket": signed}, headers=STREAM
    )

    assert_problem(swapped, 401)
    assert_problem(unsigned_bootstrap, 401)
