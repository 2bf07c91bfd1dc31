"""The part every LLM provider shares: model choice, token budget, usage and cost.

A provider subclasses ``ChatProvider``, naming its entry in the registry
(``class AnthropicProvider(ChatProvider, provider="anthropic")``), and writes one method,
``_complete``, that turns a ``ChatPrompt`` into its API's request and reads the reply and
token counts from its API's response (and ``headers`` when its key travels in a header), and
``streamed_reply``, what puts its stream back together as that response: ``_exchange`` streams a
request whose output is long (``streaming`` says how the API is asked for a stream).
The constructor, reading the key and endpoint from the environment, and everything else
(what to ask, parsing, repair, map-reduce, grounding, in ``persona.generation.pipeline``)
are the same for all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import httpx

from persona.errors import ProviderError, ProviderNotConfiguredError
from persona.generation.chunking import TokenBudget, output_tokens_for
from persona.generation.pipeline import Completion, LLMGeneration
from persona.generation.prompt import ChatPrompt
from persona.generation.provider import GenerationResult, ProgressCallback
from persona.providers import ProviderSpec, provider_spec
from persona.providers._http import JsonApi, RetryPolicy
from persona.providers._streaming import StreamedReply, TokensReceived
from persona.providers.pricing import context_window, cost_usd, max_output_tokens
from persona.schemas import Evidence, GenerationConfig, Usage
from persona.settings import Settings
from persona.spend.budgets import SpendGuard


@dataclass(frozen=True)
class ChatCall:
    """What one run asks of every request it sends: the model, the run's config, the token
    budget, and where to report a streamed reply's progress."""

    model: str
    config: GenerationConfig
    budget: TokenBudget
    received: TokensReceived


TIMEOUT_OUTPUT_TOKENS = 4_096
"""The output the configured provider timeout is meant for: a request asking for more gets
proportionally longer. At the default 120 s this is about the Anthropic SDK's own reckoning (an
hour per 128k tokens): 19,024 tokens get 557 s where the SDK expects 535 s."""


class ChatProvider(ABC):
    """A provider that writes personas with an LLM behind an HTTP API."""

    name: str
    spec: ClassVar[ProviderSpec]
    """The provider's entry in the registry: default model, key variables, endpoint."""
    default_model: ClassVar[str]
    default_context_tokens: ClassVar[int]
    """Used for a model missing from the table in ``pricing`` (and not set in settings)."""
    max_output_tokens: ClassVar[int] = 32_000
    """What a run plans a reply to hold at most; a model may allow more
    (``pricing.MAX_OUTPUT_TOKENS``), which a reply cut off at its limit is asked again with."""
    limits_output: ClassVar[bool] = True
    """Whether a request sets the most tokens its reply may hold (``prompt.max_output_tokens``);
    a provider whose requests set none may reply with up to the model's output limit."""
    grounds_personas: ClassVar[bool] = True
    """The pipeline checks every quote and citation against the evidence, so the runner
    does not check them a second time."""

    def __init_subclass__(cls, *, provider: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = provider_spec(provider)
        if spec.default_model is None or spec.base_url is None:
            raise TypeError(f"the registry gives {provider!r} no default model or endpoint")
        cls.spec, cls.name, cls.default_model = spec, provider, spec.default_model

    def __init__(
        self,
        settings: Settings,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if api_key is None and self.spec.needs_key:
            raise ProviderNotConfiguredError(self.name, self.spec.env_vars[0])
        self.settings = settings
        self.api = JsonApi(
            self.name,
            base_url or self.endpoint(None),
            headers=self.headers(api_key),
            timeout=settings.provider_timeout,
            retry=retry or RetryPolicy.from_settings(settings),
            transport=transport,
        )

    @classmethod
    def from_env(cls, settings: Settings) -> Self:
        """The provider as the environment configures it: its key and endpoint variables."""
        configured = cls.spec.configured_base_url()
        return cls(settings, api_key=cls.spec.api_key(), base_url=cls.endpoint(configured))

    @classmethod
    def endpoint(cls, configured: str | None) -> str:
        """The base URL for a configured value (None when unset): the registry's default."""
        return configured or str(cls.spec.base_url)

    def headers(self, api_key: str | None) -> dict[str, str]:
        """The headers every request carries, the key among them; none by default."""
        return {}

    def context_tokens(self, model: str, served: int | None = None) -> int:
        """The context window to plan with: the setting, else what the server says (``served``),
        else the known size of ``model``, else the provider's default."""
        return (
            self.settings.provider_context_tokens
            or served
            or context_window(model)
            or self.default_context_tokens
        )

    async def served_context(self, model: str) -> int | None:
        """The context window the server reports for ``model``, for servers that say; None
        for the providers' own APIs, whose models' sizes are in ``pricing``."""
        return None

    def output_limit(self, model: str) -> int:
        """The most tokens one reply of ``model`` may hold."""
        return max_output_tokens(model) or self.max_output_tokens

    def request_timeout(self, max_tokens: int) -> float:
        """How long a request asking for up to ``max_tokens`` may take: the configured timeout,
        longer in proportion for more output than ``TIMEOUT_OUTPUT_TOKENS``."""
        return self.settings.provider_timeout * max(1.0, max_tokens / TIMEOUT_OUTPUT_TOKENS)

    def streams(self, max_tokens: int) -> bool:
        """Whether a request for up to ``max_tokens`` is streamed: when writing its output may
        take longer than the configured timeout, as the Anthropic SDK requires of long requests
        (a connection silent for minutes is cut by proxies, and a stream shows progress)."""
        return self.request_timeout(max_tokens) > self.settings.provider_timeout

    async def _exchange(
        self, path: str, body: dict[str, Any], prompt: ChatPrompt, call: ChatCall
    ) -> dict[str, Any]:
        """The API's response to ``body``: posted, or streamed and put back together as the
        same response when the output asked for is long; either way within a time limit that
        grows with that output."""
        time_limit = self.request_timeout(prompt.max_output_tokens)
        if not self.streams(prompt.max_output_tokens):
            return await self.api.post(path, body, time_limit=time_limit)
        reply = self.streamed_reply(call.received)
        stream_path, stream_body = self.streaming(path, body)
        await self.api.stream(
            stream_path,
            stream_body,
            time_limit=time_limit,
            on_event=reply.add,
            on_start=reply.restart,
            finished=reply.finished,
            ndjson=reply.ndjson,
        )
        return reply.assembled()

    def streaming(self, path: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The path and body that ask for ``body``'s reply as a stream."""
        return path, {**body, "stream": True}

    @abstractmethod
    def streamed_reply(self, received: TokensReceived) -> StreamedReply:
        """What puts this API's stream back together, reporting tokens to ``received``."""

    def budget(self, model: str, persona_count: int, served: int | None = None) -> TokenBudget:
        context = self.context_tokens(model, served)
        output = output_tokens_for(persona_count, context, self.max_output_tokens)
        return TokenBudget(context_tokens=context, output_tokens=output)

    async def generate(
        self,
        evidence: Sequence[Evidence],
        config: GenerationConfig,
        *,
        progress: ProgressCallback | None = None,
        spend_cap_usd: float | None = None,
    ) -> GenerationResult:
        model = config.model or self.default_model
        served = None if self.settings.provider_context_tokens else await self.served_context(model)
        budget = self.budget(model, config.persona_count, served)

        async def complete(prompt: ChatPrompt) -> Completion:
            return await self._complete(
                prompt, ChatCall(model, config, budget, generation.tokens_received)
            )

        generation = LLMGeneration(
            complete,
            label=f"{self.name} model {model}",
            budget=budget,
            max_output_tokens=max(budget.output_tokens, self.output_limit(model)),
            progress=progress,
            before_request=None
            if spend_cap_usd is None
            else SpendGuard(spend_cap_usd, lambda: _priced(model, generation)).check,
        )
        try:
            personas = await generation.personas(evidence, config.persona_count)
        except ProviderError as err:
            err.usage = _priced(model, generation)
            raise
        return GenerationResult(personas=personas, usage=_priced(model, generation))

    @abstractmethod
    async def _complete(self, prompt: ChatPrompt, call: ChatCall) -> Completion:
        """Send one prompt to the API and return the model's reply, why it ended and the
        tokens counted (telling ``call.received`` as a streamed reply arrives)."""

    async def aclose(self) -> None:
        await self.api.aclose()

    def _unexpected(self, response: Mapping[str, Any], what: str) -> ProviderError:
        """The error for a 2xx response that lacks what the API documents."""
        return ProviderError(
            f"{self.name} answered without {what}",
            code="invalid_output",
            raw_output=str(response)[:10_000],
        )


def _priced(model: str, generation: LLMGeneration) -> Usage:
    usage = generation.usage
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=cost_usd(
            model,
            usage.input_tokens,
            usage.output_tokens,
            cached_input_tokens=generation.cached_input_tokens,
            cache_write_tokens=generation.cache_write_tokens,
        ),
    )


def count(value: Any) -> int:
    """A token count from a response field that may be missing or null."""
    return value if isinstance(value, int) and value >= 0 else 0
