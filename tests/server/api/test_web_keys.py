"""The web interface with API keys: sign in with one, its scope decides what a page may do,
and revoking it ends its sessions at once."""

from __future__ import annotations

import httpx
import pytest
from persona.web.pages import signing
from sqlalchemy import text

from ._web_cases import post_form
from .conftest import TOKEN, ClientFactory
from .test_keys import ADMIN, create_key


@pytest.fixture
async def guarded(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client(api_token=TOKEN)


async def sign_in(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    return await post_form(client, "/signin", data={"token": secret, "next": "/"})


async def test_a_read_key_sees_pages_and_is_refused_changes_with_a_clear_message(
    guarded: httpx.AsyncClient,
) -> None:
    experiment = (await guarded.post("/experiments", json=_LOCAL, headers=ADMIN)).json()
    key = await create_key(guarded, "read")

    signed = await sign_in(guarded, key["secret"])
    page = await guarded.get(f"/ui/experiments/{experiment['id']}")
    start = await post_form(guarded, f"/ui/experiments/{experiment['id']}/runs")

    assert signed.status_code == 303
    assert guarded.cookies[signing.COOKIE_NAME].startswith(f"k:{key['id']}:")
    assert page.status_code == 200
    assert start.status_code == 403
    assert "need a key of scope &#39;write&#39;" in start.text
    runs = (await guarded.get(f"/experiments/{experiment['id']}/runs", headers=ADMIN)).json()
    assert runs["items"] == []


async def test_a_write_key_starts_runs_from_the_interface_and_they_record_it(
    guarded: httpx.AsyncClient,
) -> None:
    experiment = (await guarded.post("/experiments", json=_LOCAL, headers=ADMIN)).json()
    key = await create_key(guarded, "write")
    await sign_in(guarded, key["secret"])

    start = await post_form(guarded, f"/ui/experiments/{experiment['id']}/runs")

    assert start.status_code == 303
    (run,) = (await guarded.get(f"/experiments/{experiment['id']}/runs", headers=ADMIN)).json()[
        "items"
    ]
    database = guarded.app.state.service._started.database  # type: ignore[attr-defined]
    with database.read_connection() as connection:
        key_id = connection.execute(
            text("SELECT key_id FROM runs WHERE id = :id"), {"id": run["id"]}
        ).scalar()
    assert key_id == key["id"]


async def test_revoking_a_key_ends_its_sessions_at_once(guarded: httpx.AsyncClient) -> None:
    key = await create_key(guarded, "read")
    await sign_in(guarded, key["secret"])
    assert (await guarded.get("/")).status_code == 200

    await guarded.delete(f"/keys/{key['id']}", headers=ADMIN)

    assert (await guarded.get("/")).status_code == 303


async def test_a_forged_or_unknown_key_session_is_no_session(guarded: httpx.AsyncClient) -> None:
    key = await create_key(guarded, "admin")
    await sign_in(guarded, key["secret"])
    real = guarded.cookies[signing.COOKIE_NAME]
    forged = [
        real[:-2] + ("AA" if real[-2:] != "AA" else "BB"),
        real.replace(key["id"], "key-someoneelse0"),
        "k:" + key["id"],
        "k::",
    ]
    for cookie in forged:
        guarded.cookies.clear()
        guarded.cookies.set(signing.COOKIE_NAME, cookie)
        assert (await guarded.get("/")).status_code == 303, cookie


async def test_a_server_with_keys_and_no_token_asks_for_a_key(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    created = await client.post("/keys", json={"name": "first", "scope": "write"})

    refused = await client.get("/")
    wrong = await sign_in(client, "psk_" + "n" * 40)
    signed = await sign_in(client, created.json()["secret"])

    assert refused.status_code == 303
    assert wrong.status_code == 401 and "not accepted" in wrong.text
    assert signed.status_code == 303
    assert (await client.get("/")).status_code == 200


_LOCAL = {
    "name": "Interface study",
    "data_sources": ["interviews.csv"],
    "config": {"provider": "local", "persona_count": 2, "seed": 1},
}


async def test_the_interfaces_changes_are_audited_under_the_apis_operation_names(
    guarded: httpx.AsyncClient,
) -> None:
    experiment = (await guarded.post("/experiments", json=_LOCAL, headers=ADMIN)).json()
    reader = await create_key(guarded, "read")
    writer = await create_key(guarded, "write")
    await sign_in(guarded, reader["secret"])
    await post_form(guarded, f"/ui/experiments/{experiment['id']}/runs")
    await sign_in(guarded, writer["secret"])
    await post_form(guarded, f"/ui/experiments/{experiment['id']}/runs")
    await guarded.app.state.service._started.writes.drain()  # type: ignore[attr-defined]

    log = (await guarded.get("/audit", params={"operation_id": "startRun"}, headers=ADMIN)).json()

    assert [(e["key_name"], e["status"]) for e in log["items"]] == [
        ("write-key", 303),
        ("read-key", 403),
    ]
    assert log["items"][0]["target_ids"] == {"experiment_id": experiment["id"]}
    signins = (await guarded.get("/audit", params={"operation_id": "signIn"}, headers=ADMIN)).json()
    assert [e["status"] for e in signins["items"]] == [303, 303]
