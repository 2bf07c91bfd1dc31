"""OpenAI Chat Completions, and any server that speaks it (vLLM, LM Studio, Ollama's /v1).

``OPENAI_BASE_URL`` points it at a compatible server. ``OPENAI_API_KEY`` is required for
every server except one on this machine (127.0.0.1, ::1, localhost): local servers usually
take no key, and a remote one that needs none is rare enough to set a dummy key for.
Structured output: ``response_format`` of type ``json_schema`` with ``strict: false``
(strict mode cannot express free-form demographics, and several compatible servers accept
only the non-strict form).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from persona.generation.chunking import TokenBudget
from persona.generation.pipeline import Completion
from persona.generation.prompt import ChatPrompt
from persona.providers._chat import ChatProvider, count
from persona.providers._http import JsonApi, RetryPolicy
from persona.schemas import GenerationConfig
from persona.settings import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"


def is_loopback_url(url: str) -> bool:
    """True when ``url`` names this machine: localhost or a loopback address."""
    host = (urlsplit(url if "://" in url else f"http://{url}").hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keyless_configured() -> bool:
    """A local compatible server needs no key: OPENAI_BASE_URL set to a loopback address."""
    base_url = os.environ.get(BASE_URL_ENV, "")
    return bool(base_url) and is_loopback_url(base_url)


class OpenAIProvider(ChatProvider):
    name = "openai"
    default_model: ClassVar[str] = "gpt-4o-mini"
    default_context_tokens: ClassVar[int] = 128_000

    def __init__(
        self,
        settings: Settings,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        api = JsonApi(
            self.name,
            base_url,
            headers=headers,
            timeout=settings.provider_timeout,
            retry=retry or RetryPolicy.from_settings(settings),
            transport=transport,
        )
        super().__init__(settings, api)

    @classmethod
    def from_env(cls, settings: Settings) -> OpenAIProvider:
        return cls(
            settings,
            api_key=os.environ.get(API_KEY_ENV) or None,
            base_url=os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        )

    async def _complete(
        self, prompt: ChatPrompt, *, model: str, config: GenerationConfig, budget: TokenBudget
    ) -> Completion:
        body: dict[str, Any] = {
            "model": model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": prompt.schema_name,
                    "schema": prompt.schema,
                    "strict": False,
                },
            },
        }
        if config.temperature is not None:
            body["temperature"] = config.temperature
        if config.seed is not None:
            body["seed"] = config.seed
        response = await self.api.post("/chat/completions", body)
        return self._read(response)

    def _read(self, response: dict[str, Any]) -> Completion:
        choices = response.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._unexpected(response, "choices")
        message = choices[0].get("message") or {}
        text = message.get("content") or message.get("refusal") or ""
        usage = response.get("usage") or {}
        return Completion(
            text=text if isinstance(text, str) else str(text),
            input_tokens=count(usage.get("prompt_tokens")),
            output_tokens=count(usage.get("completion_tokens")),
        )
