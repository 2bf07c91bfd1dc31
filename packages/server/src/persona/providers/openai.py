"""OpenAI Chat Completions, and any server that speaks it (vLLM, LM Studio, Ollama's /v1).

``OPENAI_BASE_URL`` points it at a compatible server, whose context window is what the server
reports (vLLM's ``max_model_len``, Ollama's ``/api/show``), else the known size of the model,
else ``PERSONA_PROVIDER_CONTEXT_TOKENS``; a run on a server that says nothing about a model
nobody knows fails asking for the setting rather than guessing. ``OPENAI_API_KEY`` is required for
every server except one on this machine (127.0.0.1, ::1, localhost): local servers usually
take no key, and a remote one that needs none is rare enough to set a dummy key for.
Structured output: ``response_format`` of type ``json_schema`` with ``strict: false``
(strict mode cannot express free-form demographics, and several compatible servers accept
only the non-strict form). A long generation is streamed (``stream_options.include_usage``
asks for the usage in a last chunk) and put back together as the completion it stands for.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar
from urllib.parse import urlsplit

from persona.errors import ProviderError
from persona.generation.pipeline import Completion, Stop
from persona.generation.prompt import ChatPrompt
from persona.providers import provider_spec
from persona.providers._chat import ChatCall, ChatProvider, count
from persona.providers._served import ollama_context, remembered, vllm_context
from persona.providers._streaming import StreamedReply, TokensReceived, text_of
from persona.providers.pricing import context_window


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
    base_url = provider_spec("openai").configured_base_url()
    return base_url is not None and is_loopback_url(base_url)


class OpenAIProvider(ChatProvider, provider="openai"):
    default_context_tokens: ClassVar[int] = 128_000
    limits_output: ClassVar[bool] = False
    """No max_completion_tokens: on reasoning models it also caps the reasoning."""

    def headers(self, api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    @property
    def compatible(self) -> bool:
        """Whether the endpoint is a compatible server rather than OpenAI's own API."""
        return self.api.base_url != str(self.spec.base_url).rstrip("/")

    async def served_context(self, model: str) -> int | None:
        if not self.compatible:
            return None
        base = self.api.base_url

        async def ask() -> int | None:
            listed = await vllm_context(self.api, f"{base}/models", model)
            return listed or await ollama_context(self.api, base.removesuffix("/v1"), model)

        return await remembered(base, model, ask)

    def context_tokens(self, model: str, served: int | None = None) -> int:
        known = self.settings.provider_context_tokens or served or context_window(model)
        if self.compatible and not known:
            raise ProviderError(
                f"the server at {self.api.base_url} does not say how much context {model!r} "
                "holds, and it is not a model Persona knows: set PERSONA_PROVIDER_CONTEXT_TOKENS",
                code="provider_not_configured",
            )
        return super().context_tokens(model, served)

    async def _complete(self, prompt: ChatPrompt, call: ChatCall) -> Completion:
        model, config = call.model, call.config
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
        response = await self._exchange("/chat/completions", body, prompt, call)
        return self._read(response)

    def streaming(self, path: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return path, {**body, "stream": True, "stream_options": {"include_usage": True}}

    def streamed_reply(self, received: TokensReceived) -> StreamedReply:
        return StreamedCompletion(received)

    def _read(self, response: dict[str, Any]) -> Completion:
        choices = response.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._unexpected(response, "choices")
        message = choices[0].get("message") or {}
        usage = response.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        refusal = message.get("refusal")
        finish = str(choices[0].get("finish_reason") or "stop")
        stop: Stop = _STOPS.get(finish, "complete")
        if refusal:
            stop = "refused"
        text = message.get("content") or ""
        return Completion(
            text=text if isinstance(text, str) else str(text),
            input_tokens=count(usage.get("prompt_tokens")),
            output_tokens=count(usage.get("completion_tokens")),
            stop=stop,
            stop_reason=str(refusal) if refusal else finish,
            cached_input_tokens=count(details.get("cached_tokens")),
            cache_write_tokens=count(details.get("cache_write_tokens")),
        )


_STOPS: dict[str, Stop] = {
    # No output limit is sent: a reply cut at "length" reached the model's own ceiling.
    "length": "exhausted",
    "content_filter": "refused",
}


class StreamedCompletion(StreamedReply):
    """A chat completion put together from its chunks: the first choice's content and refusal
    deltas joined, its last finish reason, and the usage of the closing chunk."""

    def _begin(self) -> None:
        self._content: list[str] = []
        self._refusal: list[str] = []
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None

    def finished(self) -> bool:
        return self._finish is not None

    async def add(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("usage"), dict):
            self._usage = event["usage"]
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content, refusal = text_of(delta.get("content")), text_of(delta.get("refusal"))
            self._content.append(content)
            self._refusal.append(refusal)
            self._finish = choice.get("finish_reason") or self._finish
            await self.received(content + refusal)

    def assembled(self) -> dict[str, Any]:
        message = {"content": "".join(self._content), "refusal": "".join(self._refusal) or None}
        return {
            "choices": [{"index": 0, "message": message, "finish_reason": self._finish}],
            "usage": self._usage,
        }
