"""The webhooks API over HTTP: create (secret shown once), list, get, rotate, deliveries,
delete; URLs that are not plain http(s) or point into private networks are refused."""

from __future__ import annotations

import httpx
import pytest

from .conftest import ClientFactory, assert_problem


@pytest.fixture
async def hooks(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client(webhook_allow_private=True)


async def test_a_webhook_is_created_with_its_secret_shown_once(hooks: httpx.AsyncClient) -> None:
    created = await hooks.post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "events": ["run.succeeded", "run.failed"]},
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert body["events"] == ["run.failed", "run.succeeded"] and body["enabled"] is True
    listed = (await hooks.get("/webhooks")).json()["items"]
    fetched = (await hooks.get(f"/webhooks/{body['id']}")).json()
    assert [hook["id"] for hook in listed] == [body["id"]]
    assert "secret" not in listed[0] and "secret" not in fetched
    assert fetched == {key: value for key, value in body.items() if key != "secret"}


async def test_rotate_gives_a_new_secret_and_delete_removes_the_webhook(
    hooks: httpx.AsyncClient,
) -> None:
    body = {"url": "https://127.0.0.1/hooks", "events": ["*"], "description": "ops"}
    created = (await hooks.post("/webhooks", json=body)).json()
    url = f"/webhooks/{created['id']}"

    rotated = await hooks.post(f"{url}/rotate-secret")
    deliveries = await hooks.get(f"{url}/deliveries")
    deleted = await hooks.delete(url)

    assert rotated.status_code == 200 and rotated.json()["secret"] != created["secret"]
    assert created["events"] == ["*"] and created["description"] == "ops"
    assert deliveries.json() == {"items": [], "next_cursor": None}
    assert deleted.status_code == 204
    assert_problem(await hooks.get(url), 404)
    assert_problem(await hooks.post(f"{url}/deliveries/run-x:1/redeliver"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "http://user:pw@example.com/", "events": ["*"]}, "url"),
        ({"url": "https:///nohost", "events": ["*"]}, "url"),
        ({"url": "https://example.com/", "events": []}, "events"),
        ({"url": "https://example.com/", "events": ["run.exploded"]}, "events"),
    ],
)
async def test_bad_webhooks_are_refused_naming_the_field(
    hooks: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await hooks.post("/webhooks", json=body)

    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"][:2] == ["body", field]
    assert (await hooks.get("/webhooks")).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://[fd00:ec2::254]/",
    ],
)
async def test_private_targets_are_refused_unless_allowed(
    make_client: ClientFactory, url: str
) -> None:
    client = await make_client()

    response = await client.post("/webhooks", json={"url": url, "events": ["*"]})

    problem = assert_problem(response, 422)
    assert "PERSONA_WEBHOOK_ALLOW_PRIVATE" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", "url"]
