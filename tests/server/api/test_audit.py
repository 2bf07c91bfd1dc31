"""The audit log: every state-changing request, never a body or a secret; admin only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from persona.storage.audit import AuditRecord
from sqlalchemy import text

from .conftest import LOCAL_BODY, TOKEN, ClientFactory, assert_problem
from .test_keys import ADMIN, bearer, create_key, repository_of


@pytest.fixture
async def secured(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client(api_token=TOKEN)


async def entries(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    await client.app.state.service._started.writes.drain()  # type: ignore[attr-defined]
    response = await client.get("/audit", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_each_state_changing_request_is_recorded_with_who_what_and_outcome(
    secured: httpx.AsyncClient,
) -> None:
    writer = await create_key(secured, "write")
    reader = await create_key(secured, "read")
    created = await secured.post(
        "/experiments",
        json=LOCAL_BODY,
        headers={**bearer(writer["secret"]), "X-Request-ID": "req-1"},
    )
    experiment_id = created.json()["id"]
    await secured.get(f"/experiments/{experiment_id}", headers=bearer(reader["secret"]))
    refused = await secured.delete(
        f"/experiments/{experiment_id}", headers=bearer(reader["secret"])
    )
    deleted = await secured.delete(
        f"/experiments/{experiment_id}", headers=bearer(writer["secret"])
    )

    log = await entries(secured)

    assert (refused.status_code, deleted.status_code) == (403, 204)
    assert [(e["operation_id"], e["key_name"], e["status"]) for e in log] == [
        ("deleteExperiment", "write-key", 204),
        ("deleteExperiment", "read-key", 403),
        ("createExperiment", "write-key", 201),
        ("createKey", "bootstrap token", 201),
        ("createKey", "bootstrap token", 201),
    ]
    assert log[0]["target_ids"] == {"experiment_id": experiment_id}
    assert log[0]["key_id"] == writer["id"]
    assert log[2]["request_id"] == "req-1"
    assert log[-1]["key_id"] is None
    # Deleting the experiment left its entries.
    assert len(await entries(secured, operation_id="createExperiment")) == 1


async def test_no_body_secret_or_source_text_is_stored(secured: httpx.AsyncClient) -> None:
    key = await create_key(secured, "admin")
    inline = {"name": "notes.txt", "content": "P1: a confidential remark about payroll."}
    body = {**LOCAL_BODY, "name": "Secret project", "data_sources": [inline]}
    await secured.post("/experiments", json=body, headers=bearer(key["secret"]))
    await secured.post("/keys", json={"name": "x", "scope": "read"}, headers=bearer(key["secret"]))
    await entries(secured)
    database = secured.app.state.service._started.database  # type: ignore[attr-defined]

    with database.read_connection() as connection:
        stored = " ".join(
            str(value)
            for row in connection.execute(text("SELECT * FROM audit_log"))
            for value in row
        )

    assert "createExperiment" in stored
    for secret in (key["secret"], TOKEN, "confidential", "Secret project", "payroll"):
        assert secret not in stored


async def test_unauthenticated_attempts_are_recorded_without_a_key(
    secured: httpx.AsyncClient,
) -> None:
    await secured.post("/experiments", json=LOCAL_BODY, headers=bearer("psk_" + "x" * 40))

    (entry,) = await entries(secured, operation_id="createExperiment")

    assert (entry["status"], entry["key_id"], entry["key_name"]) == (401, None, None)


async def test_the_log_filters_by_key_operation_and_time_and_pages(
    secured: httpx.AsyncClient,
) -> None:
    key = await create_key(secured, "write")
    for _ in range(3):
        await secured.post("/experiments", json=LOCAL_BODY, headers=bearer(key["secret"]))
    everything = await entries(secured)
    middle = datetime.fromisoformat(everything[1]["created_at"])

    by_key = await entries(secured, key_id=key["id"])
    by_operation = await entries(secured, operation_id="createKey")
    since = await entries(secured, since=middle.isoformat())
    until = await entries(secured, until=middle.isoformat())
    first = (await secured.get("/audit", params={"limit": 2}, headers=ADMIN)).json()
    rest = await entries(secured, limit=2, cursor=first["next_cursor"])

    assert len(everything) == 4
    assert [e["id"] for e in by_key] == [e["id"] for e in everything[:3]]
    assert [e["operation_id"] for e in by_operation] == ["createKey"]
    assert [e["id"] for e in since] == [e["id"] for e in everything[:2]]
    assert [e["id"] for e in until] == [e["id"] for e in everything[2:]]
    assert [e["id"] for e in first["items"] + rest] == [e["id"] for e in everything]


async def test_only_admin_keys_read_the_log_and_bad_filters_are_422(
    secured: httpx.AsyncClient,
) -> None:
    writer = await create_key(secured, "write")

    refused = await secured.get("/audit", headers=bearer(writer["secret"]))
    naive = await secured.get("/audit", params={"since": "2026-01-01T00:00:00"}, headers=ADMIN)
    number = await secured.get("/audit", params={"until": "0.5"}, headers=ADMIN)
    cursor = await secured.get("/audit", params={"cursor": "not-a-cursor"}, headers=ADMIN)

    assert_problem(refused, 403, "insufficient_scope")
    assert_problem(naive, 422)
    assert "ISO 8601" in assert_problem(number, 422)["detail"]
    assert_problem(cursor, 422)


async def test_entries_past_the_retention_are_pruned(make_client: ClientFactory) -> None:
    client = await make_client(api_token=TOKEN, audit_retention_days=30)
    now = datetime.now(UTC)
    repository_of(client).record_audit(
        [
            AuditRecord(f"aud-{age}", now - timedelta(days=age), None, None, "deleteRun", 204, None)
            for age in (40, 10)
        ]
    )

    await client.post("/experiments", json=LOCAL_BODY, headers=ADMIN)  # writes, and prunes
    await asyncio.sleep(0)

    assert [e["id"] for e in await entries(client)][1:] == ["aud-10"]
