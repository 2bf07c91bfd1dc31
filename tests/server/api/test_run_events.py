"""The events of a run as a JSON page: every state change in order, paged by event id."""

from __future__ import annotations

import httpx

from .conftest import assert_problem, create_local
from .test_runs import wait_finished


async def test_a_succeeded_run_lists_its_events_in_order(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    finished = await wait_finished(client, started.headers["location"])

    response = await client.get(f"{started.headers['location']}/events")

    assert response.status_code == 200, response.text
    page = response.json()
    types = [event["type"] for event in page["items"]]
    assert types[:2] == ["run.queued", "run.started"]
    assert types[-1] == "run.succeeded"
    assert set(types[2:-1]) <= {"run.progress"}
    assert [event["id"] for event in page["items"]] == list(range(1, len(types) + 1))
    assert page["items"][1]["data"] == {"attempt": 1}
    assert sorted(page["items"][-1]["data"]["persona_ids"]) == sorted(finished["persona_ids"])
    assert page["next_after"] is None


async def test_events_page_after_an_id(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    await wait_finished(client, started.headers["location"])
    events = f"{started.headers['location']}/events"

    first = (await client.get(events, params={"limit": 1})).json()
    rest = (await client.get(events, params={"after": first["next_after"]})).json()

    assert [event["id"] for event in first["items"]] == [1]
    assert first["next_after"] == 1
    assert rest["items"][0]["id"] == 2
    assert rest["items"][-1]["type"] == "run.succeeded"


async def test_events_of_an_unknown_run_are_404(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    response = await client.get(f"/experiments/{experiment['id']}/runs/run-nope/events")

    assert_problem(response, 404)
