"""Event streams a browser can use: stream tickets instead of the token, 204 once nothing can
follow, Last-Event-ID allowed cross-origin, tickets kept out of the access log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from persona.api import tickets
from persona.api.logs import loggable_target

from .conftest import LOCAL_BODY, TOKEN, ClientFactory, assert_problem
from .test_runs import wait_finished

AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}
STREAM = {"Accept": "text/event-stream"}
ORIGIN = "https://app.example"


async def _finished_run(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    experiment = (await client.post("/experiments", json=LOCAL_BODY, headers=headers)).json()
    started = await client.post(f"/experiments/{experiment['id']}/generate", headers=headers)
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as polling:
        polling.headers.update(headers)
        run = await wait_finished(polling, location)
    return {"location": location, **run}


async def _mint(client: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await client.post(path, headers=AUTHORIZED)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_stream_resumed_after_the_terminal_event_is_204(
    client: httpx.AsyncClient,
) -> None:
    run = await _finished_run(client, {})
    events = f"{run['location']}/events"
    last = (await client.get(events, params={"limit": 200})).json()["items"][-1]
    assert last["type"] == "run.succeeded"

    after_last = await client.get(events, headers={**STREAM, "Last-Event-ID": str(last["id"])})
    before_last = await client.get(events, headers={**STREAM, "Last-Event-ID": str(last["id"] - 1)})

    assert after_last.status_code == 204 and after_last.content == b""
    assert before_last.status_code == 200
    assert f"id: {last['id']}" in before_last.text and "event: run.succeeded" in before_last.text


async def test_a_run_ticket_opens_that_runs_stream_and_no_other(
    make_client: ClientFactory,
) -> None:
    client = await make_client(api_token=TOKEN)
    run = await _finished_run(client, AUTHORIZED)
    other = await _finished_run(client, AUTHORIZED)
    minted = await _mint(client, f"{run['location']}/stream-tickets")

    opened = await client.get(minted["url"], headers=STREAM)
    reopened = await client.get(minted["url"], headers=STREAM)  # an EventSource reconnecting
    elsewhere = await client.get(
        f"{other['location']}/events", params={"ticket": minted["ticket"]}, headers=STREAM
    )
    experiment = run["location"].rsplit("/runs/", 1)[0]
    whole_experiment = await client.get(f"{experiment}/events", params={"ticket": minted["ticket"]})
    forged = await client.get(
        f"{run['location']}/events", params={"ticket": minted["ticket"][:-2] + "xx"}
    )

    with_token_too = await client.get(
        f"{other['location']}/events",
        params={"ticket": minted["ticket"]},
        headers={**AUTHORIZED, **STREAM},
    )

    assert minted["url"].startswith(f"{run['location']}/events?ticket=")
    assert with_token_too.status_code == 200, "an Authorization header decides alone"
    assert opened.status_code == reopened.status_code == 200
    assert "event: run.succeeded" in opened.text
    assert "event: run.succeeded" in reopened.text
    for refused in (elsewhere, whole_experiment, forged):
        problem = assert_problem(refused, 401)
        assert "Invalid stream ticket" in problem["detail"]


async def test_an_experiment_ticket_opens_the_experiments_events(
    make_client: ClientFactory,
) -> None:
    client = await make_client(api_token=TOKEN)
    run = await _finished_run(client, AUTHORIZED)
    experiment = run["location"].rsplit("/runs/", 1)[0]
    minted = await _mint(client, f"{experiment}/stream-tickets")

    page = await client.get(minted["url"])
    one_run = await client.get(f"{run['location']}/events", params={"ticket": minted["ticket"]})

    assert page.status_code == 200, page.text
    assert page.json()["items"][-1]["type"] == "run.succeeded"
    assert_problem(one_run, 401)


async def test_minting_needs_the_token_and_an_existing_run(make_client: ClientFactory) -> None:
    client = await make_client(api_token=TOKEN)
    run = await _finished_run(client, AUTHORIZED)
    experiment = run["location"].rsplit("/runs/", 1)[0]

    without_token = await client.post(f"{run['location']}/stream-tickets")
    unknown_run = await client.post(
        f"{experiment}/runs/run-nope/stream-tickets", headers=AUTHORIZED
    )
    unknown_experiment = await client.post(
        "/experiments/exp-nope/stream-tickets", headers=AUTHORIZED
    )
    query_token = await client.get(f"{run['location']}/events", params={"token": TOKEN})

    assert_problem(without_token, 401)
    assert_problem(unknown_run, 404)
    assert_problem(unknown_experiment, 404)
    assert "not accepted" in assert_problem(query_token, 401)["detail"]


async def test_an_expired_ticket_is_refused_saying_how_to_resume(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(api_token=TOKEN)
    run = await _finished_run(client, AUTHORIZED)
    minted = await _mint(client, f"{run['location']}/stream-tickets")
    monkeypatch.setattr(tickets, "TICKET_SECONDS", -1)

    expired = await client.get(minted["url"], headers=STREAM)

    assert "expired" in assert_problem(expired, 401)["detail"]
    assert "?after=" in expired.json()["detail"]


def test_the_access_log_hides_a_ticket() -> None:
    logged = loggable_target("/experiments/e/runs/r/events", b"ticket=abc.def&after=3")
    assert logged == "/experiments/e/runs/r/events?ticket=%2A%2A%2A&after=3"


async def test_a_cross_origin_stream_may_resume_with_last_event_id(
    make_client: ClientFactory,
) -> None:
    client = await make_client(cors_origins=[ORIGIN])
    preflight = await client.options(
        "/experiments/e/runs/r/events",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "last-event-id",
        },
    )
    assert preflight.status_code == 204
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "last-event-id" in allowed
