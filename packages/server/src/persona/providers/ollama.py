"""Ollama's native chat API (/api/chat) on a local or LAN server; no key.

``OLLAMA_HOST`` names the server (``127.0.0.1:11434`` when unset). The JSON Schema goes in
``format`` (Ollama 0.5+ constrains the reply to it), and ``num_ctx`` is set to the context
size the budget assumes, since Ollama otherwise cuts long prompts silently at its small
default. That size is ``PERSONA_PROVIDER_CONTEXT_TOKENS`` when set, else the model's context
length as ``/api/show`` reports it, else 8,192. A long generation is streamed (one JSON object
a line, the last with ``done_reason`` and the counts) and put back together as the reply.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar
from urllib.parse import urlsplit

from persona.errors import InvalidInputError
from persona.generation.pipeline import Completion
from persona.generation.prompt import ChatPrompt
from persona.providers import provider_spec
from persona.providers._chat import ChatCall, ChatProvider, count
from persona.providers._served import ollama_context, remembered
from persona.providers._streaming import StreamedReply, TokensReceived, text_of

DEFAULT_PORT = 11434


def base_url_from_host(host: str | None) -> str:
    """A base URL from an ``OLLAMA_HOST`` value, read as Ollama's own clients read it.

    Without a scheme the port defaults to 11434 (``0.0.0.0``, ``gpu-box:8000``); with one,
    to the scheme's (``https://ollama.example.com``).
    """
    spec = provider_spec("ollama")
    value = (host or "").strip().rstrip("/")
    if not value:
        return str(spec.base_url)
    if "://" in value:
        return value
    if _is_ipv6(value):
        return f"http://[{value.strip('[]')}]:{DEFAULT_PORT}"
    parts = urlsplit(f"http://{value}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port == -1 or not parts.hostname:
        raise InvalidInputError(
            f"{spec.base_url_env}={value!r} is not a host, host:port or URL",
            location=["environment", str(spec.base_url_env)],
        )
    if port is not None:
        return f"http://{value}"
    return f"http://{parts.hostname}:{DEFAULT_PORT}{parts.path}"


def _is_ipv6(value: str) -> bool:
    try:
        return ipaddress.ip_address(value.strip("[]")).version == 6
    except ValueError:
        return False


class OllamaProvider(ChatProvider, provider="ollama"):
    default_context_tokens: ClassVar[int] = 8_192

    @classmethod
    def endpoint(cls, configured: str | None) -> str:
        return base_url_from_host(configured)

    async def served_context(self, model: str) -> int | None:
        base = self.api.base_url
        return await remembered(base, model, lambda: ollama_context(self.api, base, model))

    async def _complete(self, prompt: ChatPrompt, call: ChatCall) -> Completion:
        model, config = call.model, call.config
        options: dict[str, Any] = {
            "num_ctx": call.budget.context_tokens,
            "num_predict": prompt.max_output_tokens,
        }
        if config.temperature is not None:
            options["temperature"] = config.temperature
        if config.seed is not None:
            options["seed"] = config.seed
        body = {
            "model": model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            # As the ollama SDK sends it: no tools offered.
            "tools": [],
            "stream": False,
            "format": prompt.schema,
            "options": options,
        }
        return self._read(await self._exchange("/api/chat", body, prompt, call))

    def streamed_reply(self, received: TokensReceived) -> StreamedReply:
        return StreamedChat(received)

    def _read(self, response: dict[str, Any]) -> Completion:
        message = response.get("message")
        if not isinstance(message, dict):
            raise self._unexpected(response, "message")
        done = str(response.get("done_reason") or "stop")
        return Completion(
            text=str(message.get("content") or ""),
            input_tokens=count(response.get("prompt_eval_count")),
            output_tokens=count(response.get("eval_count")),
            # num_predict set the limit: a reply cut at "length" may get more room.
            stop="truncated" if done == "length" else "complete",
            stop_reason=done,
        )


class StreamedChat(StreamedReply):
    """A chat reply put together from its lines: the message's content joined, and the last
    line's ``done_reason`` and counts."""

    ndjson = True

    def _begin(self) -> None:
        self._content: list[str] = []
        self._last: dict[str, Any] = {}

    def finished(self) -> bool:
        return self._last.get("done") is True

    async def add(self, event: dict[str, Any]) -> None:
        piece = text_of((event.get("message") or {}).get("content"))
        self._content.append(piece)
        self._last = event
        await self.received(piece)

    def assembled(self) -> dict[str, Any]:
        if not self._last:
            return {}
        return {**self._last, "message": {"role": "assistant", "content": "".join(self._content)}}
