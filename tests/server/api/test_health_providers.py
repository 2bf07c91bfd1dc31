from __future__ import annotations

import threading
from pathlib import Path

import httpx
import persona
import pytest
from persona.providers import list_providers
from persona.runtime import DATABASE_THREADS

from .conftest import TOKEN, ClientFactory, assert_problem
from .test_http_edges import break_the_database, restore_the_database


async def test_health_is_ok_with_version_and_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": persona.__version__, "database": "ok"}


async def test_health_is_503_when_the_database_cannot_be_reached(client: httpx.AsyncClient) -> None:
    await client.app.state.service.aclose()  # type: ignore[attr-defined]

    response = await client.get("/health")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "status": "unavailable",
        "version": persona.__version__,
        "database": "unreachable",
    }


async def test_health_needs_no_token(make_client: ClientFactory) -> None:
    client = await make_client(api_token=TOKEN)

    assert (await client.get("/health")).status_code == 200


async def test_providers_list_names_env_vars_and_never_keys(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret-value")

    response = await client.get("/providers")

    assert response.status_code == 200
    providers = {p["name"]: p for p in response.json()}
    assert providers["local"]["configured"] is True
    assert "sk-ant-very-secret-value" not in response.text
    assert response.json() == [p.model_dump(mode="json") for p in list_providers()]
    assert providers["anthropic"]["configured"] is True
    assert providers["anthropic"]["env_var"] == "ANTHROPIC_API_KEY"
    assert providers["openai"]["configured"] is False
    assert providers["openai"]["env_var"] == "OPENAI_API_KEY"


async def test_providers_needs_token_when_auth_is_on(make_client: ClientFactory) -> None:
    client = await make_client(api_token=TOKEN)

    assert_problem(await client.get("/providers"), 401)


async def test_health_is_degraded_not_down_when_requests_cannot_get_through(
    client: httpx.AsyncClient,
) -> None:
    """Every database thread held (as requests waiting on a locked table hold them): the
    database still answers on the probe's own connection, so the replica stays in rotation."""
    parts = client.app.state.service._started  # type: ignore[attr-defined]
    release = threading.Event()
    held = [parts.executor.submit(release.wait, 30) for _ in range(DATABASE_THREADS)]
    try:
        response = await client.get("/health")
    finally:
        release.set()
        for future in held:
            future.result(5)

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "version": persona.__version__,
        "database": "busy",
    }
    assert (await client.get("/health")).json()["database"] == "ok"


@pytest.mark.postgresql_only
async def test_health_is_503_with_retry_after_when_postgresql_refuses_connections(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    break_the_database(client.app, data_dir)
    try:
        response = await client.get("/health")
    finally:
        restore_the_database(client.app)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["database"] == "unreachable"
