"""The events of a run as a JSON page: every state change in order, paged by event id."""

from __future__ import annotations

import json

import httpx
from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder

from .conftest import LOCAL_BODY, TOKEN, ClientFactory, assert_problem, create_local
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


# --------------------------------------------------------------------------- streams


def _parsed(response: httpx.Response) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [decoder.decode(line) for line in response.text.splitlines()]
    return [event for event in events if event is not None and event.data]


async def test_a_finished_runs_stream_is_its_events_as_server_sent_events(
    client: httpx.AsyncClient,
) -> None:
    experiment = await create_local(client)
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    await wait_finished(client, started.headers["location"])
    url = f"{started.headers['location']}/events"
    page = (await client.get(url, params={"limit": 200})).json()

    response = await client.get(url, headers={"Accept": "text/event-stream"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert response.text.startswith(": events follow\nretry: 2000\n")
    sent = _parsed(response)
    assert [json.loads(event.data) for event in sent] == page["items"]
    assert [event.event for event in sent] == [item["type"] for item in page["items"]]
    assert [event.id for event in sent] == [str(item["id"]) for item in page["items"]]


async def test_a_stream_resumes_after_last_event_id(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    await wait_finished(client, started.headers["location"])
    url = f"{started.headers['location']}/events"

    resumed = await client.get(
        url,
        params={"after": 1},  # the header wins over the query
        headers={"Accept": "text/event-stream", "Last-Event-ID": "3"},
    )

    ids = [int(event.id) for event in _parsed(resumed)]
    assert ids[0] == 4
    assert ids == list(range(4, 4 + len(ids)))


async def test_bad_stream_requests_get_problems_not_streams(make_client: ClientFactory) -> None:
    client = await make_client(api_token=TOKEN)
    stream = {"Accept": "text/event-stream"}
    authorized = {"Authorization": f"Bearer {TOKEN}", **stream}
    experiment = (await client.post("/experiments", json=LOCAL_BODY, headers=authorized)).json()
    base = f"/experiments/{experiment['id']}"

    assert_problem(await client.get(f"{base}/runs/run-nope/events", headers=stream), 401)
    assert_problem(await client.get(f"{base}/events", headers=stream), 401)
    assert_problem(await client.get(f"{base}/runs/run-nope/events", headers=authorized), 404)
    bad_id = await client.get(
        f"{base}/runs/run-nope/events", headers={**authorized, "Last-Event-ID": "x"}
    )
    assert "must be the id of an event" in assert_problem(bad_id, 422)["detail"]
    bad_key = await client.get(f"{base}/events", headers={**authorized, "Last-Event-ID": "x:y"})
    assert "not the id of an event" in assert_problem(bad_key, 422)["detail"]


async def test_an_experiments_events_are_paged_in_order_by_key(
    client: httpx.AsyncClient,
) -> None:
    experiment = await create_local(client)
    for _ in range(2):
        started = await client.post(f"/experiments/{experiment['id']}/generate")
        await wait_finished(client, started.headers["location"])
    url = f"/experiments/{experiment['id']}/events"

    everything = (await client.get(url, params={"limit": 200})).json()["items"]
    first = (await client.get(url, params={"limit": 3})).json()
    rest = (await client.get(url, params={"after": first["next_after"], "limit": 200})).json()

    assert len({item["run_id"] for item in everything}) == 2
    assert first["items"] + rest["items"] == everything
    assert first["next_after"] == f"{everything[2]['run_id']}:{everything[2]['id']}"
    assert rest["next_after"] is None
    missing = await client.get(url, params={"after": "run-gone:1"})
    assert assert_problem(missing, 422)["errors"][0]["loc"] == ["query", "after"]
