"""The part every LLM provider shares: model choice, token budget, usage and cost.

A provider subclasses ``ChatProvider`` and writes one method, ``_complete``, that turns a
``ChatPrompt`` into its API's request and reads the reply and token counts from its API's
response. Everything else (what to ask, parsing, repair, map-reduce, grounding) lives in
``persona.generation.pipeline`` and is the same for all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from persona.errors import ProviderError
from persona.generation.chunking import TokenBudget, output_tokens_for
from persona.generation.pipeline import Completion, LLMGeneration
from persona.generation.prompt import ChatPrompt
from persona.providers._http import JsonApi
from persona.providers.base import GenerationResult, ProgressCallback
from persona.providers.pricing import context_window, cost_usd
from persona.schemas import Evidence, GenerationConfig, Usage
from persona.settings import Settings


class ChatProvider(ABC):
    """A provider that writes personas with an LLM behind an HTTP API."""

    name: str
    default_model: ClassVar[str]
    default_context_tokens: ClassVar[int]
    """Used for a model missing from the table in ``pricing`` (and not set in settings)."""
    max_output_tokens: ClassVar[int] = 32_000
    grounds_personas: ClassVar[bool] = True
    """The pipeline checks every quote and citation against the evidence, so the runner
    does not check them a second time."""

    def __init__(self, settings: Settings, api: JsonApi) -> None:
        self.settings = settings
        self.api = api

    def context_tokens(self, model: str) -> int:
        return (
            self.settings.provider_context_tokens
            or context_window(model)
            or self.default_context_tokens
        )

    def budget(self, model: str, persona_count: int) -> TokenBudget:
        context = self.context_tokens(model)
        output = output_tokens_for(persona_count, context, self.max_output_tokens)
        return TokenBudget(context_tokens=context, output_tokens=output)

    async def generate(
        self,
        evidence: Sequence[Evidence],
        config: GenerationConfig,
        *,
        progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        model = config.model or self.default_model
        budget = self.budget(model, config.persona_count)

        async def complete(prompt: ChatPrompt) -> Completion:
            return await self._complete(prompt, model=model, config=config, budget=budget)

        generation = LLMGeneration(
            complete, label=f"{self.name} model {model}", budget=budget, progress=progress
        )
        try:
            personas = await generation.personas(evidence, config.persona_count)
        except ProviderError as err:
            err.usage = _priced(model, generation.usage)
            raise
        return GenerationResult(personas=personas, usage=_priced(model, generation.usage))

    @abstractmethod
    async def _complete(
        self, prompt: ChatPrompt, *, model: str, config: GenerationConfig, budget: TokenBudget
    ) -> Completion:
        """Send one prompt to the API and return the model's reply and the tokens counted."""

    async def aclose(self) -> None:
        await self.api.aclose()

    def _unexpected(self, response: Mapping[str, Any], what: str) -> ProviderError:
        """The error for a 2xx response that lacks what the API documents."""
        return ProviderError(
            f"{self.name} answered without {what}",
            code="invalid_output",
            raw_output=str(response)[:10_000],
        )


def _priced(model: str, usage: Usage) -> Usage:
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=cost_usd(model, usage.input_tokens, usage.output_tokens),
    )


def count(value: Any) -> int:
    """A token count from a response field that may be missing or null."""
    return value if isinstance(value, int) and value >= 0 else 0
