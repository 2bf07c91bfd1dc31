from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.servers import SEED_BODY

from .conftest import assert_problem, create_local

FINISHED = {"succeeded", "failed", "cancelled"}
RUN_TIMEOUT = 60


async def wait_finished(client: httpx.AsyncClient, location: str) -> dict[str, Any]:
    """Poll a run until it has finished (bounded by RUN_TIMEOUT)."""
    async with asyncio.timeout(RUN_TIMEOUT):
        while True:
            run = (await client.get(location)).json()
            if run["status"] in FINISHED:
                return run
            await asyncio.sleep(0.05)


async def test_generation_with_local_provider_succeeds_with_personas(
    client: httpx.AsyncClient,
) -> None:
    experiment = await create_local(client)

    started = await client.post(f"/experiments/{experiment['id']}/generate")

    assert started.status_code == 202, started.text
    run = started.json()
    assert run["id"].startswith("run-")
    assert run["status"] in {"queued", "running"}
    location = started.headers["location"]
    assert location == f"/experiments/{experiment['id']}/runs/{run['id']}"
    finished = await wait_finished(client, location)
    assert finished["status"] == "succeeded", finished["error"]
    assert len(finished["personas"]) == 3
    assert sorted(p["id"] for p in finished["personas"]) == sorted(finished["persona_ids"])
    for persona in finished["personas"]:
        assert persona["experiment_id"] == experiment["id"]
        assert persona["evidence_ids"]


async def test_overrides_change_the_effective_config(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    started = await client.post(
        f"/experiments/{experiment['id']}/generate", json={"persona_count": 2, "seed": 3}
    )

    assert started.status_code == 202
    assert started.json()["config"]["persona_count"] == 2
    finished = await wait_finished(client, started.headers["location"])
    assert len(finished["personas"]) == 2


async def test_unknown_override_field_is_422(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    response = await client.post(
        f"/experiments/{experiment['id']}/generate", json={"persona_count": 2, "speed": "max"}
    )

    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "speed"]


async def test_generation_for_provider_without_key_is_refused_naming_env_var(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/experiments", json=SEED_BODY)
    assert created.status_code == 201

    response = await client.post(f"/experiments/{created.json()['id']}/generate")

    body = assert_problem(response, 409, "provider_not_configured")
    assert "ANTHROPIC_API_KEY" in body["detail"]
    runs = (await client.get(f"/experiments/{created.json()['id']}/runs")).json()
    assert runs["items"] == []


async def test_generate_for_unknown_experiment_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/experiments/exp-nope/generate"), 404)


async def test_idempotency_key_replays_the_same_run(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    url = f"/experiments/{experiment['id']}/generate"
    headers = {"Idempotency-Key": "key-123"}

    first = await client.post(url, json={"persona_count": 2}, headers=headers)
    replay = await client.post(url, json={"persona_count": 2}, headers=headers)
    other_body = await client.post(url, json={"persona_count": 3}, headers=headers)

    assert first.status_code == 202
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["location"] == first.headers["location"]
    assert_problem(other_body, 409, "idempotency_conflict")
    runs = (await client.get(f"/experiments/{experiment['id']}/runs")).json()
    assert [r["id"] for r in runs["items"]] == [first.json()["id"]]


async def test_empty_idempotency_key_is_422(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    response = await client.post(
        f"/experiments/{experiment['id']}/generate", headers={"Idempotency-Key": ""}
    )

    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_runs_list_filters_by_status_and_pages(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    base = f"/experiments/{experiment['id']}"
    ids = []
    for _ in range(3):
        started = await client.post(f"{base}/generate", json={"persona_count": 2})
        ids.append(started.json()["id"])
        await wait_finished(client, started.headers["location"])

    page = (await client.get(f"{base}/runs", params={"limit": 2})).json()
    rest = (
        await client.get(f"{base}/runs", params={"limit": 2, "cursor": page["next_cursor"]})
    ).json()
    succeeded = (await client.get(f"{base}/runs", params={"status": "succeeded"})).json()
    failed = (await client.get(f"{base}/runs", params={"status": "failed"})).json()

    assert [r["id"] for r in page["items"] + rest["items"]] == list(reversed(ids))
    assert len(succeeded["items"]) == 3
    assert failed["items"] == []
    bad = await client.get(f"{base}/runs", params={"status": "exploded"})
    assert assert_problem(bad, 422)["errors"][0]["loc"] == ["query", "status"]


async def test_runs_of_unknown_experiment_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/experiments/exp-nope/runs"), 404)


async def test_run_of_another_experiment_is_404(client: httpx.AsyncClient) -> None:
    first = await create_local(client)
    second = await create_local(client)
    started = await client.post(f"/experiments/{first['id']}/generate")
    run_id = started.json()["id"]

    assert_problem(await client.get(f"/experiments/{second['id']}/runs/{run_id}"), 404)
    assert_problem(await client.get(f"/experiments/{first['id']}/runs/run-nope"), 404)
    await wait_finished(client, started.headers["location"])


async def start_stalled_run(
    client: httpx.AsyncClient, provider_called: asyncio.Event
) -> tuple[dict[str, Any], str]:
    """An experiment and the location of its run, which is 'running' and stays so."""
    experiment = await create_local(client, config={"provider": "anthropic"})
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    assert started.status_code == 202, started.text
    await asyncio.wait_for(provider_called.wait(), RUN_TIMEOUT)
    location = started.headers["location"]
    assert (await client.get(location)).json()["status"] == "running"
    return experiment, location


async def test_cancel_running_run_then_cancel_again_is_409(
    client: httpx.AsyncClient, stalled_provider: asyncio.Event
) -> None:
    _, location = await start_stalled_run(client, stalled_provider)

    cancelled = await client.post(f"{location}/cancel")

    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    run = (await client.get(location)).json()
    assert run["status"] == "cancelled"
    assert run["personas"] == []
    again = assert_problem(await client.post(f"{location}/cancel"), 409, "conflict")
    assert "cancelled" in again["detail"]


async def test_cancel_finished_run_is_409(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    await wait_finished(client, started.headers["location"])

    assert_problem(await client.post(f"{started.headers['location']}/cancel"), 409)


async def test_cancel_unknown_run_is_404(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    assert_problem(await client.post(f"/experiments/{experiment['id']}/runs/run-x/cancel"), 404)


async def test_delete_during_a_run_cancels_it_and_removes_everything(
    client: httpx.AsyncClient, stalled_provider: asyncio.Event
) -> None:
    experiment, location = await start_stalled_run(client, stalled_provider)
    other = await create_local(client)

    deleted = await client.delete(f"/experiments/{experiment['id']}")

    assert deleted.status_code == 204
    assert_problem(await client.get(location), 404)
    assert_problem(await client.get(f"/experiments/{experiment['id']}/personas"), 404)
    listing = (await client.get("/experiments")).json()
    assert [e["id"] for e in listing["items"]] == [other["id"]]
