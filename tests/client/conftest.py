"""Shared fixtures of the client tests: payloads shaped as the server sends them, and a
recorder of the client's pauses so retry and poll delays are checked without sleeping."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import persona_client._client as client_module
import pytest
from fastapi import FastAPI
from persona.api import create_app
from persona.settings import Settings

NOW = "2025-01-01T12:00:00Z"


class PayloadFactory(Protocol):
    def __call__(self, status: str = ..., /, **changes: Any) -> dict[str, Any]: ...


class ProblemFactory(Protocol):
    def __call__(
        self, status: int, title: str, detail: str | None = None, /, **extra: Any
    ) -> httpx.Response: ...


@pytest.fixture
def run_payload() -> PayloadFactory:
    def make(status: str = "queued", /, **changes: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": "run-abc",
            "experiment_id": "exp-abc",
            "status": status,
            "config": {"provider": "local", "persona_count": 3},
            "progress": 0.0,
            "created_at": NOW,
        }
        return payload | changes

    return make


@pytest.fixture
def experiment_payload() -> PayloadFactory:
    def make(experiment_id: str = "exp-abc", /, **changes: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": experiment_id,
            "name": "Checkout research Q3",
            "status": "created",
            "data_sources": ["interviews.csv"],
            "config": {"provider": "local", "persona_count": 3},
            "created_at": NOW,
            "updated_at": NOW,
        }
        return payload | changes

    return make


@pytest.fixture
def problem_response() -> ProblemFactory:
    def make(status: int, title: str, detail: str | None = None, /, **extra: Any) -> httpx.Response:
        body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, **extra}
        if detail is not None:
            body["detail"] = detail
        headers = {"Content-Type": "application/problem+json"}
        return httpx.Response(status, json=body, headers=headers)

    return make


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's retry and poll pauses, recorded instead of slept."""
    recorded: list[float] = []

    async def async_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(client_module, "_sleep", recorded.append)
    monkeypatch.setattr(client_module, "_async_sleep", async_sleep)
    return recorded


ROOT = Path(__file__).resolve().parents[2]
AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppFactory:
    """A fresh app on a temporary data directory holding the example interviews."""
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    for key in ("PERSONA_API_TOKEN", "PERSONA_DATABASE_URL", "PERSONA_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(ROOT / "examples" / "interviews.csv", data_dir / "interviews.csv")

    def build(**settings: Any) -> FastAPI:
        return create_app(Settings(data_dir=data_dir, _env_file=None, **settings))  # type: ignore[call-arg]

    return build
