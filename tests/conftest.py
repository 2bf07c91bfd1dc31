"""Fixtures for every test: a clean environment, and where the shipped example data lives.

respx stands in for the LLM providers' APIs at the transport their clients send through
(aiohttp's pool under httpx), so ``respx.mock`` catches provider requests as it would at
httpcore's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx.mocks


class AiohttpTransportMocker(respx.mocks.AbstractRequestMocker):
    """respx patching ``httpx_aiohttp.AiohttpTransport``, which takes and gives httpx's own
    request and response."""

    name = "httpx-aiohttp"
    targets = ["httpx_aiohttp.transport.AiohttpTransport"]
    target_methods = ["handle_async_request"]

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> httpx.Request:
        request: httpx.Request = kwargs["request"]
        return request

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> httpx.Response:
        return httpx_response


respx.mocks.DEFAULT_MOCKER = AiohttpTransportMocker.name

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO_ROOT / "examples"

# Keys that would make tests depend on the machine they run on.
_PROVIDER_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PERSONA_* setting or provider key leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("PERSONA_") or name in _PROVIDER_KEYS:
            monkeypatch.delenv(name)


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES_DIR
