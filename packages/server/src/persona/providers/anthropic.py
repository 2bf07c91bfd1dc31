"""Anthropic's Messages API, with the reply forced through a tool whose input is the schema.

Forced tool use is Anthropic's documented way to get JSON of a given shape: the model must
call the one tool offered, and the tool's ``input`` is the structured reply.
``ANTHROPIC_BASE_URL`` overrides the endpoint (a proxy or gateway), as in Anthropic's SDKs.

Requests are what the anthropic SDK 2.x sends: the key as a bearer token, its API version, and
no temperature (the SDK has had none since 1.0). A request whose output would take longer than
the configured timeout to write is streamed, as the SDK requires for long requests, with a time
limit derived from the output asked for; the tokens received are reported as they arrive.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from persona.generation.pipeline import Completion, Stop
from persona.generation.prompt import ChatPrompt
from persona.providers._chat import ChatCall, ChatProvider, count
from persona.providers._streaming import StreamedReply, TokensReceived

API_VERSION = "2026-10-21"

STOPS: dict[str, Stop] = {
    "max_tokens": "truncated",
    "model_context_window_exceeded": "exhausted",
    "refusal": "refused",
}
"""Anything else (end_turn, tool_use, stop_sequence, pause_turn) ends a complete reply."""


class AnthropicProvider(ChatProvider, provider="anthropic"):
    default_context_tokens: ClassVar[int] = 200_000

    def headers(self, api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}", "anthropic-version": API_VERSION}

    async def _complete(self, prompt: ChatPrompt, call: ChatCall) -> Completion:
        tool = f"record_{prompt.schema_name}"
        body: dict[str, Any] = {
            "model": call.model,
            "max_tokens": prompt.max_output_tokens,
            "system": prompt.system,
            "messages": [{"role": "user", "content": prompt.user}],
            "tools": [
                {
                    "name": tool,
                    "description": f"Record the {prompt.kind} written from the research data.",
                    "input_schema": prompt.schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": tool},
        }
        response = await self._exchange("/v1/messages", body, prompt, call)
        return self._read(response, tool)

    def streamed_reply(self, received: TokensReceived) -> StreamedReply:
        return StreamedMessage(received)

    def _read(self, response: dict[str, Any], tool: str) -> Completion:
        blocks = response.get("content")
        if not isinstance(blocks, list):
            raise self._unexpected(response, "content")
        text = _tool_input(blocks, tool)
        if text is None:
            text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        usage = response.get("usage") or {}
        cached = count(usage.get("cache_read_input_tokens"))
        written = count(usage.get("cache_creation_input_tokens"))
        reason = str(response.get("stop_reason") or "end_turn")
        details = response.get("stop_details") or {}
        explained = [str(details[k]) for k in ("category", "explanation") if details.get(k)]
        return Completion(
            text=text,
            # Anthropic counts cache reads and writes apart from the other input tokens.
            input_tokens=count(usage.get("input_tokens")) + cached + written,
            output_tokens=count(usage.get("output_tokens")),
            stop=STOPS.get(reason, "complete"),
            stop_reason=": ".join([reason, *explained]),
            cached_input_tokens=cached,
            cache_write_tokens=written,
        )


class StreamedMessage(StreamedReply):
    """A Message put together from its stream's events, as the SDK's accumulator does."""

    def _begin(self) -> None:
        self._message: dict[str, Any] = {"content": [], "usage": {}}
        self._partial_json: dict[int, list[str]] = {}
        self._stopped = False

    def finished(self) -> bool:
        return self._stopped

    async def add(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self._begin()
            self._message = {"usage": {}, **(event.get("message") or {}), "content": []}
        elif kind == "content_block_start":
            self._message["content"].append(dict(event.get("content_block") or {}))
        elif kind == "content_block_delta":
            await self._delta(int(event.get("index", 0)), event.get("delta") or {})
        elif kind == "message_stop":
            self._stopped = True
        elif kind == "message_delta":
            self._message.update(event.get("delta") or {})
            self._message["usage"] = {
                **(self._message.get("usage") or {}),
                **(event.get("usage") or {}),
            }

    async def _delta(self, index: int, delta: dict[str, Any]) -> None:
        piece = str(delta.get("partial_json") or delta.get("text") or "")
        if delta.get("type") == "input_json_delta":
            self._partial_json.setdefault(index, []).append(piece)
        elif delta.get("type") == "text_delta" and index < len(self._message["content"]):
            block = self._message["content"][index]
            block["text"] = block.get("text", "") + piece
        await self.received(piece)

    def assembled(self) -> dict[str, Any]:
        """The Message as a non-streamed request would have returned it."""
        for index, pieces in self._partial_json.items():
            if index < len(self._message["content"]):
                text = "".join(pieces)
                try:
                    self._message["content"][index]["input"] = json.loads(text) if text else {}
                except ValueError:
                    # A reply cut off mid-JSON: kept as text, for the stop reason to explain.
                    self._message["content"][index] = {"type": "text", "text": text}
        return self._message


def _tool_input(blocks: list[Any], tool: str) -> str | None:
    """The forced tool call's input as JSON text, or None when the model wrote text instead."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_use" and block.get("name") == tool:
            return json.dumps(block.get("input"), ensure_ascii=False)
    return None
