"""Anthropic's Messages API, with the reply forced through a tool whose input is the schema.

Forced tool use is Anthropic's documented way to get JSON of a given shape: the model must
call the one tool offered, and the tool's ``input`` is the structured reply.
``ANTHROPIC_BASE_URL`` overrides the endpoint (a proxy or gateway), as in Anthropic's SDKs.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from persona.generation.chunking import TokenBudget
from persona.generation.pipeline import Completion
from persona.generation.prompt import ChatPrompt
from persona.providers._chat import ChatProvider, count
from persona.schemas import GenerationConfig

API_VERSION = "2023-06-01"
MAX_TEMPERATURE = 1.0
"""Anthropic accepts 0..1; a higher configured temperature is sent as 1."""


class AnthropicProvider(ChatProvider, provider="anthropic"):
    default_context_tokens: ClassVar[int] = 200_000

    def headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-api-key": str(api_key), "anthropic-version": API_VERSION}

    async def _complete(
        self, prompt: ChatPrompt, *, model: str, config: GenerationConfig, budget: TokenBudget
    ) -> Completion:
        tool = f"record_{prompt.schema_name}"
        body: dict[str, Any] = {
            "model": model,
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
        if config.temperature is not None:
            body["temperature"] = min(config.temperature, MAX_TEMPERATURE)
        response = await self.api.post("/v1/messages", body)
        return self._read(response, tool)

    def _read(self, response: dict[str, Any], tool: str) -> Completion:
        blocks = response.get("content")
        if not isinstance(blocks, list):
            raise self._unexpected(response, "content")
        text = _tool_input(blocks, tool)
        if text is None:
            text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        usage = response.get("usage") or {}
        return Completion(
            text=text,
            input_tokens=count(usage.get("input_tokens")),
            output_tokens=count(usage.get("output_tokens")),
        )


def _tool_input(blocks: list[Any], tool: str) -> str | None:
    """The forced tool call's input as JSON text, or None when the model wrote text instead."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_use" and block.get("name") == tool:
            return json.dumps(block.get("input"), ensure_ascii=False)
    return None
