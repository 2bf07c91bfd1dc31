"""API keys: created once with their secret, stored as a hash, scoped, revoked at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from persona.access.key_secrets import secret_hash
from persona.access.operations import new_key
from persona.access.principal import Principal
from persona.access.schemas import ApiKeyCreate
from persona.access.scopes import Scope
from persona.api import create_app
from persona.api.deps import RequireScope
from persona.storage import Repository
from sqlalchemy import text

from .conftest import LOCAL_BODY, TOKEN, ClientFactory, assert_problem

ADMIN = {"Authorization": f"Bearer {TOKEN}"}
WriteAccess = RequireScope(Scope.write)
"""What a route outside the API's routers (an ASGI mount's, a plugin's) declares."""


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def create_key(client: httpx.AsyncClient, scope: str, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/keys", json={"name": f"{scope}-key", "scope": scope, **body}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def repository_of(client: httpx.AsyncClient) -> Repository:
    return client.app.state.service._repository  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
async def secured(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client(api_token=TOKEN)


async def test_a_key_is_shown_once_and_listed_without_its_secret(
    secured: httpx.AsyncClient,
) -> None:
    created = await create_key(secured, "write", max_cost_usd=12.5)
    listed = (await secured.get("/keys", headers=ADMIN)).json()["items"]

    assert created["secret"].startswith("psk_")
    assert len(created["secret"]) >= 40
    assert created["prefix"] == created["secret"][:12]
    assert [key["id"] for key in listed] == [created["id"]]
    (key,) = listed
    assert "secret" not in key
    assert created["secret"] not in str(listed)
    assert (key["name"], key["scope"], key["max_cost_usd"], key["spent_usd"]) == (
        "write-key",
        "write",
        12.5,
        0.0,
    )
    assert key["last_used_at"] is None and key["expires_at"] is None


async def test_the_database_never_holds_a_usable_secret(secured: httpx.AsyncClient) -> None:
    created = await create_key(secured, "admin")
    await secured.get("/experiments", headers=bearer(created["secret"]))
    database = secured.app.state.service._started.database  # type: ignore[attr-defined]

    with database.read_connection() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT * FROM api_keys"))]
    stored = " ".join(str(value) for row in rows for value in row)

    assert len(rows) == 1
    assert created["secret"] not in stored
    assert created["secret"][12:] not in stored  # not even the part beyond the shown prefix
    assert secret_hash(created["secret"]) in stored


NEEDED = {"get": "read", "create": "write", "generate": "write", "delete": "write", "keys": "admin"}


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        ("read", {"get"}),
        ("write", {"get", "create", "generate", "delete"}),
        ("admin", {"get", "create", "generate", "delete", "keys"}),
    ],
)
async def test_each_scope_allows_its_operations_and_names_the_one_it_lacks(
    secured: httpx.AsyncClient, scope: str, allowed: set[str]
) -> None:
    key = bearer((await create_key(secured, scope))["secret"])
    experiment = (await secured.post("/experiments", json=LOCAL_BODY, headers=ADMIN)).json()
    calls = {
        "get": secured.get(f"/experiments/{experiment['id']}", headers=key),
        "create": secured.post("/experiments", json=LOCAL_BODY, headers=key),
        "generate": secured.post(f"/experiments/{experiment['id']}/generate", headers=key),
        "keys": secured.get("/keys", headers=key),
    }
    answers = {name: await call for name, call in calls.items()}
    answers["delete"] = await secured.delete(f"/experiments/{experiment['id']}", headers=key)

    for name, response in answers.items():
        if name in allowed:
            assert response.status_code < 300, (name, response.text)
        else:
            body = assert_problem(response, 403, "insufficient_scope")
            assert f"needs scope '{NEEDED[name]}'" in body["detail"], body
            assert f"'{scope}'" in body["detail"]
            assert response.headers["www-authenticate"].startswith('Bearer error="insufficient')


async def test_a_revoked_key_is_refused_at_once_and_stays_listed(
    secured: httpx.AsyncClient,
) -> None:
    created = await create_key(secured, "read")
    key = bearer(created["secret"])
    assert (await secured.get("/experiments", headers=key)).status_code == 200

    revoked = await secured.delete(f"/keys/{created['id']}", headers=ADMIN)
    refused = await secured.get("/experiments", headers=key)
    again = await secured.delete(f"/keys/{created['id']}", headers=ADMIN)

    assert revoked.status_code == 204
    body = assert_problem(refused, 401, "unauthorized")
    assert "revoked" in body["detail"]
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert again.status_code == 204
    (listed,) = (await secured.get("/keys", headers=ADMIN)).json()["items"]
    assert listed["revoked_at"] is not None


async def test_a_key_past_its_expiry_is_refused(secured: httpx.AsyncClient) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1)
    created = await create_key(secured, "read", expires_at=soon.isoformat())
    key = bearer(created["secret"])
    before = await secured.get("/experiments", headers=key)
    await asyncio.sleep(max((soon - datetime.now(UTC)).total_seconds(), 0) + 0.05)

    after = await secured.get("/experiments", headers=key)

    assert before.status_code == 200
    assert "expired" in assert_problem(after, 401, "unauthorized")["detail"]


async def test_a_key_cannot_be_created_already_expired_or_malformed(
    secured: httpx.AsyncClient,
) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    bodies = [
        {"name": "ci", "scope": "read", "expires_at": past},
        {"name": "ci", "scope": "root"},
        {"name": "", "scope": "read"},
        {"name": "a\nb", "scope": "read"},
        {"name": "ci", "scope": "read", "max_cost_usd": -1},
        {"name": "ci", "scope": "read", "secret": "psk_mine"},
    ]
    for body in bodies:
        response = await secured.post("/keys", json=body, headers=ADMIN)
        assert_problem(response, 422)
    assert (await secured.get("/keys", headers=ADMIN)).json()["items"] == []


async def test_an_admin_sets_and_removes_a_keys_spend_cap(secured: httpx.AsyncClient) -> None:
    created = await create_key(secured, "write")

    capped = await secured.patch(f"/keys/{created['id']}", json={"max_cost_usd": 3}, headers=ADMIN)
    cleared = await secured.patch(
        f"/keys/{created['id']}", json={"max_cost_usd": None}, headers=ADMIN
    )
    missing = await secured.patch("/keys/key-nope", json={"max_cost_usd": 1}, headers=ADMIN)
    unsaid = await secured.patch(f"/keys/{created['id']}", json={}, headers=ADMIN)
    await secured.delete(f"/keys/{created['id']}", headers=ADMIN)
    revoked = await secured.patch(f"/keys/{created['id']}", json={"max_cost_usd": 1}, headers=ADMIN)

    assert capped.json()["max_cost_usd"] == 3
    assert cleared.json()["max_cost_usd"] is None
    assert_problem(missing, 404, "not_found")
    assert_problem(unsaid, 422)
    assert "revoked" in assert_problem(revoked, 404, "not_found")["detail"]


async def test_runs_record_the_key_that_started_them_and_add_up_its_spend(
    secured: httpx.AsyncClient,
) -> None:
    created = await create_key(secured, "write", max_cost_usd=5)
    key = bearer(created["secret"])
    experiment = (await secured.post("/experiments", json=LOCAL_BODY, headers=key)).json()
    runs = [
        (await secured.post(f"/experiments/{experiment['id']}/generate", headers=key)).json()
        for _ in range(2)
    ]
    by_bootstrap = await secured.post(f"/experiments/{experiment['id']}/generate", headers=ADMIN)
    database = secured.app.state.service._started.database  # type: ignore[attr-defined]
    with database.write_connection() as connection:  # what a provider's runs would have cost
        for run, cost in zip([*runs, by_bootstrap.json()], [0.25, 0.5, 7.0], strict=True):
            usage = f'{{"input_tokens": 10, "output_tokens": 5, "cost_usd": {cost}}}'
            connection.execute(
                text("UPDATE runs SET usage = :usage WHERE id = :id"),
                {"usage": usage, "id": run["id"]},
            )

    spend = await secured.app.state.service.key_spend(created["id"])  # type: ignore[attr-defined]
    (listed,) = (await secured.get("/keys", headers=ADMIN)).json()["items"]

    assert (spend.key_id, spend.spent_usd, spend.max_cost_usd) == (created["id"], 0.75, 5)
    assert listed["spent_usd"] == 0.75


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Bearer psk_",
        "Bearer sk-live-0123456789abcdef",
        "Bearer psk_" + "a" * 5000,
        "Bearer psk_ spaced out",
        "Token psk_abcdefghijklmnop",
        "Basic dXNlcjpwYXNz",
        "psk_abcdefghijklmnopqrstuvwxyz",
        "Bearer psk_\tabcdefghijklmnop",
    ],
)
async def test_malformed_authorization_headers_get_a_clear_401(
    secured: httpx.AsyncClient, authorization: str
) -> None:
    await create_key(secured, "read")

    response = await secured.get("/experiments", headers={"Authorization": authorization})

    body = assert_problem(response, 401, "unauthorized")
    assert body["detail"]
    assert authorization.split()[-1] not in body["detail"] or len(authorization) < 12


async def test_a_non_ascii_header_gets_a_401(secured: httpx.AsyncClient) -> None:
    headers = [(b"authorization", "Bearer psk_ümlaut-0123456789".encode("latin-1"))]

    response = await secured.get("/experiments", headers=headers)

    assert_problem(response, 401, "unauthorized")


async def test_a_revocation_racing_requests_answers_each_with_200_or_401(
    make_client: ClientFactory,
) -> None:
    # Refusals of the revoked key count as failed attempts: no address limit in the way.
    secured = await make_client(api_token=TOKEN, rate_limit_auth_failures=0)
    created = await create_key(secured, "read")
    key = bearer(created["secret"])

    async def read() -> int:
        return (await secured.get("/experiments", headers=key)).status_code

    reads = [asyncio.create_task(read()) for _ in range(30)]
    revoked = await secured.delete(f"/keys/{created['id']}", headers=ADMIN)
    statuses = await asyncio.gather(*reads)
    after = await read()

    assert revoked.status_code == 204
    assert set(statuses) <= {200, 401}
    assert after == 401


async def test_a_key_made_by_another_process_works_and_its_revocation_holds_here(
    secured: httpx.AsyncClient, make_client: ClientFactory
) -> None:
    other = await make_client(api_token=TOKEN)  # a second replica on the same database
    created = await create_key(other, "read")
    key = bearer(created["secret"])

    served = await secured.get("/experiments", headers=key)
    await other.delete(f"/keys/{created['id']}", headers=ADMIN)
    refused = await secured.get("/experiments", headers=key)

    assert served.status_code == 200
    assert_problem(refused, 401, "unauthorized")


async def test_an_open_server_closes_once_a_key_exists(make_client: ClientFactory) -> None:
    client = await make_client()
    open_answer = await client.get("/experiments")

    created = await client.post("/keys", json={"name": "first", "scope": "admin"})
    closed = await client.get("/experiments")
    with_key = await client.get("/experiments", headers=bearer(created.json()["secret"]))

    assert open_answer.status_code == 200
    assert created.status_code == 201
    assert_problem(closed, 401, "unauthorized")
    assert with_key.status_code == 200


async def test_a_key_created_in_the_database_directly_closes_an_open_server(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    assert (await client.get("/experiments")).status_code == 200
    repository_of(client).create_key(**new_key(ApiKeyCreate(name="cli", scope="read")))
    await asyncio.sleep(1.1)  # how long an open server believes no key exists

    assert_problem(await client.get("/experiments"), 401, "unauthorized")


def spec_operations_needing_more_than(scope: str) -> list[tuple[str, str, str]]:
    """Every (method, path, needed scope) of the spec above ``scope``, with placeholder ids."""
    import json

    from persona.api.spec import openapi_json

    order = ["read", "write", "admin"]
    found = []
    for path, item in json.loads(openapi_json())["paths"].items():
        for method, operation in item.items():
            (requirement,) = operation["security"] or [{"bearerAuth": [None]}]
            (needed,) = requirement["bearerAuth"]
            if needed is not None and order.index(needed) > order.index(scope):
                concrete = path.replace("{", "x-").replace("}", "")
                found.append((method.upper(), concrete, needed))
    return found


@pytest.mark.parametrize("scope", ["read", "write"])
async def test_every_operation_above_a_keys_scope_is_refused_with_403(
    make_client: ClientFactory, scope: str
) -> None:
    client = await make_client(api_token=TOKEN, rate_limit_requests=0)
    key = bearer((await create_key(client, scope))["secret"])
    operations = spec_operations_needing_more_than(scope)

    assert len(operations) >= (12 if scope == "write" else 18)
    for method, path, needed in operations:
        response = await client.request(method, path, headers=key)
        body = assert_problem(response, 403, "insufficient_scope")
        assert f"needs scope '{needed}'" in body["detail"], (method, path)


async def test_the_server_says_at_start_how_requests_are_authenticated(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="persona.api")
    client = await make_client()
    opened = [r for r in caplog.records if r.name == "persona.api"]
    await client.post("/keys", json={"name": "first", "scope": "admin"})
    caplog.clear()
    await make_client()  # a second process on the same database, started now
    closed = [r for r in caplog.records if r.name == "persona.api"]

    assert [(r.levelno, "auth OFF" in r.getMessage()) for r in opened] == [(logging.WARNING, True)]
    assert [r.getMessage() for r in closed] == ["auth on: API keys"]


async def test_require_scope_gives_other_routes_the_same_check(
    make_client: ClientFactory, settings_for: Any
) -> None:
    app = create_app(settings_for(api_token=TOKEN))
    extra = APIRouter()

    @extra.get("/extra")
    async def extra_route(principal: WriteAccess) -> dict[str, str | None]:
        assert isinstance(principal, Principal)
        return {"key": principal.key_name}

    app.include_router(extra)
    client = await make_client(app=app)
    reader = bearer((await create_key(client, "read"))["secret"])
    writer = bearer((await create_key(client, "write"))["secret"])

    assert (await client.get("/extra", headers=writer)).json() == {"key": "write-key"}
    assert_problem(await client.get("/extra", headers=reader), 403, "insufficient_scope")
    assert_problem(await client.get("/extra"), 401, "unauthorized")
