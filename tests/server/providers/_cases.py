"""Each LLM provider's API as respx sees it: where requests go, what the documented success
body looks like, and where the prompt and the reply schema sit in a request."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from persona.providers._chat import ChatProvider
from persona.providers._http import RetryPolicy
from persona.providers.anthropic import AnthropicProvider
from persona.providers.gemini import GeminiProvider
from persona.providers.ollama import OllamaProvider
from persona.providers.openai import OpenAIProvider
from persona.settings import Settings

KEY = "sk-test-secret-key-123"


@dataclass(frozen=True)
class ApiCase:
    name: str
    url: str | re.Pattern[str]
    env: dict[str, str]
    """Environment that configures it."""
    build: Callable[[Settings, RetryPolicy], ChatProvider]
    success: Callable[[str, int, int], dict[str, Any]]
    """The documented 200 body carrying reply text and token counts."""
    prompt_of: Callable[[dict[str, Any]], str]
    schema_of: Callable[[dict[str, Any]], dict[str, Any]]
    error_body: dict[str, Any]

    def __str__(self) -> str:
        return self.name


def body_of(request: httpx.Request) -> dict[str, Any]:
    return dict(json.loads(request.content))


# --------------------------------------------------------------------------- OpenAI


def _openai_success(text: str, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1_727_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        },
        "system_fingerprint": "fp_test",
    }


OPENAI = ApiCase(
    name="openai",
    url="https://api.openai.com/v1/chat/completions",
    env={"OPENAI_API_KEY": KEY},
    build=lambda settings, retry: OpenAIProvider(settings, api_key=KEY, retry=retry),
    success=_openai_success,
    prompt_of=lambda body: body["messages"][-1]["content"],
    schema_of=lambda body: body["response_format"]["json_schema"]["schema"],
    error_body={
        "error": {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    },
)


# --------------------------------------------------------------------------- Anthropic


def _anthropic_success(text: str, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """A forced tool call when the text is a JSON object, else a plain text block."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        name = "record_persona_notes" if "notes" in value else "record_personas"
        content: list[dict[str, Any]] = [
            {"type": "tool_use", "id": "toolu_01", "name": name, "input": value}
        ]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": text}]
        stop = "end_turn"
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


ANTHROPIC = ApiCase(
    name="anthropic",
    url="https://api.anthropic.com/v1/messages",
    env={"ANTHROPIC_API_KEY": KEY},
    build=lambda settings, retry: AnthropicProvider(settings, api_key=KEY, retry=retry),
    success=_anthropic_success,
    prompt_of=lambda body: body["messages"][-1]["content"],
    schema_of=lambda body: body["tools"][0]["input_schema"],
    error_body={
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    },
)


# --------------------------------------------------------------------------- Gemini


def _gemini_success(text: str, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": input_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": input_tokens + output_tokens,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }


GEMINI = ApiCase(
    name="gemini",
    url=re.compile(r"https://generativelanguage\.googleapis\.com/v1/models/[^/:]+:generateContent"),
    env={"GEMINI_API_KEY": KEY},
    build=lambda settings, retry: GeminiProvider(settings, api_key=KEY, retry=retry),
    success=_gemini_success,
    prompt_of=lambda body: body["contents"][-1]["parts"][0]["text"],
    schema_of=lambda body: body["generationConfig"]["responseJsonSchema"],
    error_body={
        "error": {
            "code": 401,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "UNAUTHENTICATED",
        }
    },
)


# --------------------------------------------------------------------------- Ollama


def _ollama_success(text: str, input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "model": "llama3.1",
        "created_at": "2025-01-01T00:00:00.000000Z",
        "message": {"role": "assistant", "content": text},
        "done_reason": "stop",
        "done": True,
        "total_duration": 4_883_583_458,
        "load_duration": 1_334_875,
        "prompt_eval_count": input_tokens,
        "prompt_eval_duration": 342_546_000,
        "eval_count": output_tokens,
        "eval_duration": 4_535_599_000,
    }


OLLAMA = ApiCase(
    name="ollama",
    url="http://127.0.0.1:11434/api/chat",
    env={},
    # With the context set, the provider does not ask /api/show, which respx does not serve.
    build=lambda settings, retry: OllamaProvider(
        settings
        if settings.provider_context_tokens
        else settings.model_copy(update={"provider_context_tokens": 8192}),
        retry=retry,
    ),
    success=_ollama_success,
    prompt_of=lambda body: body["messages"][-1]["content"],
    schema_of=lambda body: body["format"],
    error_body={"error": "unauthorized"},
)

ALL = [OPENAI, ANTHROPIC, GEMINI, OLLAMA]
