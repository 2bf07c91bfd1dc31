"""Google's Gemini API (generateContent), with a JSON response constrained by a schema.

The schema goes in ``responseJsonSchema`` (plain JSON Schema) rather than ``responseSchema``
(an OpenAPI subset that cannot express free-form demographics). The key is read from
``GEMINI_API_KEY``, else ``GOOGLE_API_KEY``, and sent in the ``x-goog-api-key`` header so it
never appears in a URL or a log line.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from persona.errors import ProviderError
from persona.generation.chunking import TokenBudget
from persona.generation.pipeline import Completion
from persona.generation.prompt import ChatPrompt
from persona.providers._chat import ChatProvider, count
from persona.schemas import GenerationConfig

SEED_MODULUS = 2**31
"""Gemini's seed is a 32-bit integer; larger configured seeds are folded into its range."""


class GeminiProvider(ChatProvider, provider="gemini"):
    default_context_tokens: ClassVar[int] = 1_048_576

    def headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": str(api_key)}

    async def _complete(
        self, prompt: ChatPrompt, *, model: str, config: GenerationConfig, budget: TokenBudget
    ) -> Completion:
        # No maxOutputTokens: on thinking models it also caps the thinking, which would cut
        # replies short; the budget already reserves room for the reply.
        generation: dict[str, Any] = {
            "responseMimeType": "application/json",
            "responseJsonSchema": prompt.schema,
        }
        if config.temperature is not None:
            generation["temperature"] = config.temperature
        if config.seed is not None:
            generation["seed"] = config.seed % SEED_MODULUS
        body = {
            "systemInstruction": {"parts": [{"text": prompt.system}]},
            "contents": [{"role": "user", "parts": [{"text": prompt.user}]}],
            "generationConfig": generation,
        }
        model_path = quote(model.removeprefix("models/"), safe="")
        response = await self.api.post(f"/models/{model_path}:generateContent", body)
        return self._read(response)

    def _read(self, response: dict[str, Any]) -> Completion:
        candidates = response.get("candidates")
        if not candidates:
            blocked = (response.get("promptFeedback") or {}).get("blockReason")
            if blocked:
                raise ProviderError(
                    f"gemini blocked the prompt ({blocked})", code="provider_rejected"
                )
            raise self._unexpected(response, "candidates")
        parts = ((candidates[0] or {}).get("content") or {}).get("parts") or []
        answer = [p for p in parts if isinstance(p, dict) and not p.get("thought")]
        text = "".join(str(p.get("text", "")) for p in answer)
        usage = response.get("usageMetadata") or {}
        return Completion(
            text=text,
            input_tokens=count(usage.get("promptTokenCount")),
            # Thinking tokens are billed as output.
            output_tokens=count(usage.get("candidatesTokenCount"))
            + count(usage.get("thoughtsTokenCount")),
        )
