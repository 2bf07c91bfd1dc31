"""The real app around the real service, on a temporary data directory, through httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from persona.api import create_app
from persona.settings import Settings

from tests.fakes.stalled import stalled_anthropic

TOKEN = "s3cret-token-for-tests"

LOCAL_BODY: dict[str, Any] = {
    "name": "Checkout research, offline",
    "data_sources": ["interviews.csv"],
    "config": {"provider": "local", "persona_count": 3, "seed": 7},
}

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
def settings_for(data_dir: Path, database_url: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values = {"data_dir": data_dir, "database_url": database_url, **overrides}
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
async def make_client(
    settings_for: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ClientFactory]:
    """Build an app (lifespan running) and an httpx client for it; torn down at the end."""
    for key in (
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "PERSONA_API_TOKEN",
        "PERSONA_DATABASE_URL",
    ):
        monkeypatch.delenv(key, raising=False)
    stack: list[tuple[Any, httpx.AsyncClient]] = []

    async def build(
        *, app: FastAPI | None = None, token: str | None = None, **settings: Any
    ) -> httpx.AsyncClient:
        app = app or create_app(settings_for(**settings))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
            headers=headers,
        )
        client.app = app  # type: ignore[attr-defined]
        stack.append((lifespan, client))
        return client

    yield build
    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
def stalled_provider(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[asyncio.Event]:
    """Anthropic's API, configured but never answering: its runs stay 'running'.

    The event is set once a run has called it."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with stalled_anthropic() as called:
        yield called


@pytest.fixture
async def client(make_client: ClientFactory) -> httpx.AsyncClient:
    """No token configured: auth is off."""
    return await make_client()


async def create_local(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/experiments", json={**LOCAL_BODY, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status, carrying the request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code
    return body
