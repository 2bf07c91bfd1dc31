"""GET /experiments/{id} is served from a cache that no commit ever leaves stale."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Hashable

import httpx
import pytest
from persona.api.cache import ResponseCache
from persona.schemas import Health
from sqlalchemy import text

from .conftest import TOKEN, ClientFactory, create_local


def cache_of(client: httpx.AsyncClient) -> ResponseCache:
    cache: ResponseCache = client.app.state.response_cache  # type: ignore[attr-defined]
    return cache


def database_file(client: httpx.AsyncClient) -> str:
    url = client.app.state.settings.effective_database_url  # type: ignore[attr-defined]
    return str(url).removeprefix("sqlite:///")


@pytest.mark.sqlite_only  # the cache follows SQLite's data_version
async def test_a_repeated_read_is_served_from_the_cache(client: httpx.AsyncClient) -> None:
    created = await create_local(client)

    first = await client.get(f"/experiments/{created['id']}")
    second = await client.get(f"/experiments/{created['id']}")

    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert first.json() == created
    assert len(cache_of(client)) == 1


@pytest.mark.sqlite_only  # the cache follows SQLite's data_version
async def test_a_commit_by_another_process_is_seen_at_once(client: httpx.AsyncClient) -> None:
    created = await create_local(client)
    await client.get(f"/experiments/{created['id']}")  # cached

    # Another process sharing the database: its own connection, its own commit.
    with sqlite3.connect(database_file(client)) as other:
        other.execute("UPDATE experiments SET name = ? WHERE id = ?", ("Renamed", created["id"]))

    assert (await client.get(f"/experiments/{created['id']}")).json()["name"] == "Renamed"


async def test_starting_a_run_and_deleting_show_at_once(client: httpx.AsyncClient) -> None:
    created = await create_local(client)
    path = f"/experiments/{created['id']}"
    assert (await client.get(path)).json()["run_count"] == 0

    run = (await client.post(f"{path}/generate")).json()
    assert (await client.get(path)).json()["run_count"] == 1
    for _ in range(200):
        if (await client.get(f"{path}/runs/{run['id']}")).json()["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    after = (await client.get(path)).json()
    assert after["status"] == "succeeded"
    assert after["personas_stored"] == 3

    assert (await client.delete(path)).status_code == 204
    assert (await client.get(path)).status_code == 404


async def test_a_memory_database_is_read_without_the_cache(make_client: ClientFactory) -> None:
    client = await make_client(database_url="sqlite://")
    created = await create_local(client)

    assert (await client.get(f"/experiments/{created['id']}")).json() == created
    assert len(cache_of(client)) == 0


# ----------------------------------------------------------------------- the cache alone


class Versions:
    """A database's data version, moved on by hand."""

    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> Hashable:
        return self.value


def health(status: str) -> Health:
    return Health(status=status, version="1", database="ok")  # type: ignore[arg-type]


async def test_a_new_version_empties_the_cache() -> None:
    versions = Versions()
    cache = ResponseCache(versions)
    reads: list[str] = []

    async def read() -> Health:
        reads.append("read")
        return health("ok")

    await cache.json("k", read)
    await cache.json("k", read)
    versions.value += 1
    await cache.json("k", read)

    assert len(reads) == 2


async def test_a_body_read_while_the_version_moved_on_is_not_kept() -> None:
    versions = Versions()
    cache = ResponseCache(versions)
    reading, release = asyncio.Event(), asyncio.Event()

    async def slow_old_read() -> Health:
        reading.set()
        await release.wait()
        return health("ok")

    async def new_read() -> Health:
        return health("unavailable")

    old = asyncio.create_task(cache.json("k", slow_old_read))
    await reading.wait()
    versions.value += 1  # a commit lands while the old read is in flight
    assert b"unavailable" in await cache.json("other", new_read)
    release.set()
    await old

    assert b"unavailable" in await cache.json("k", new_read)


async def test_the_oldest_entry_makes_room() -> None:
    cache = ResponseCache(Versions(), max_entries=2)

    async def read() -> Health:
        return health("ok")

    for key in ("a", "b", "c"):
        await cache.json(key, read)

    assert len(cache) == 2


# --------------------------------------------------------------------- the cached route


@pytest.mark.sqlite_only  # the cache follows SQLite's data_version
async def test_a_cached_body_is_served_only_to_an_authorised_request(
    make_client: ClientFactory,
) -> None:
    client = await make_client(token=TOKEN, api_token=TOKEN)
    created = await create_local(client)
    path = f"/experiments/{created['id']}"
    routed = await client.get(path)  # through the route: now cached
    assert len(cache_of(client)) == 1

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = await client.get(path, headers={"Authorization": "", **headers})
        assert refused.status_code == 401, headers
        assert refused.headers["www-authenticate"].startswith("Bearer")

    cached = await client.get(path)
    assert cached.status_code == 200
    assert cached.content == routed.content
    for header in ("content-type", "content-length"):
        assert cached.headers[header] == routed.headers[header]
    assert cached.headers["x-request-id"] != routed.headers["x-request-id"]


async def test_only_a_get_of_the_experiment_itself_is_answered_from_the_cache(
    client: httpx.AsyncClient,
) -> None:
    created = await create_local(client)
    path = f"/experiments/{created['id']}"
    await client.get(path)

    assert (await client.head(path)).status_code == 405
    assert (await client.get(f"{path}/runs")).json()["items"] == []
    assert (await client.get(f"{path}/")).status_code in (307, 404)


async def test_a_write_by_another_connection_is_seen_and_postgresql_caches_nothing(
    client: httpx.AsyncClient, database_backend: str
) -> None:
    created = await create_local(client)
    await client.get(f"/experiments/{created['id']}")
    renamed = "renamed behind the server's back"
    service = client.app.state.service  # type: ignore[attr-defined]
    with service._repository.db.engine.begin() as connection:  # another writer
        connection.execute(
            text("UPDATE experiments SET name = :name WHERE id = :id"),
            {"name": renamed, "id": created["id"]},
        )

    after = (await client.get(f"/experiments/{created['id']}")).json()

    assert after["name"] == renamed
    assert len(cache_of(client)) == (1 if database_backend == "sqlite" else 0)
