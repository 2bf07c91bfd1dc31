"""Shared fixtures of the client tests: payloads shaped as the server sends them, and a
recorder of the client's pauses so retry and poll delays are checked without sleeping."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
import persona_client._client as client_module
import pytest

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
