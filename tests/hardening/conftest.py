"""Shared fixtures for the hardening tests: the real app, on a temporary data directory,
with a bearer token, reached in-process through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from persona.api import create_app
from persona.settings import Settings

TOKEN = "hardening-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# Environment that would make the app depend on the machine it runs on.
_MACHINE_ENV = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
)


@pytest.fixture
def make_settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Settings on ``data_dir`` with the test token; keyword arguments override fields."""
    for name in _MACHINE_ENV:
        monkeypatch.delenv(name, raising=False)

    def build(**overrides: Any) -> Settings:
        fields: dict[str, Any] = {"data_dir": data_dir, "api_token": TOKEN, **overrides}
        return Settings(_env_file=None, **fields)

    return build


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> FastAPI:
    """The real app with the test token; its lifespan is not started (see ``api``)."""
    return create_app(make_settings())


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An authorized httpx client for ``app``, its lifespan (and so its service) running."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
            headers=AUTH,
        ) as client,
    ):
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body
