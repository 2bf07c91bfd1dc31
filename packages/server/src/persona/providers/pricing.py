"""What models cost, how much they can read and how much they can write, per known model.

Prices are USD per million tokens, standard tier, from the providers' public price lists:
input, output, input read from the prompt cache, and input written to it (Anthropic's 5-minute
cache write; OpenAI and Gemini cache implicitly and charge no more than input for a write). A
dated or ``-latest`` snapshot of a known model has the model's price; an unknown model has no
price (``None``), never a guessed one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelPrice:
    input_per_million: float
    output_per_million: float
    cached_input_per_million: float
    cache_write_per_million: float | None = None
    """None: a cache write costs what input costs."""


def _anthropic(input_price: float, output_price: float) -> ModelPrice:
    """Anthropic's cache reads cost a tenth of input and 5-minute writes a quarter more."""
    return ModelPrice(input_price, output_price, input_price / 10, input_price * 1.25)


PRICES: dict[str, ModelPrice] = {
    # Anthropic
    "claude-sonnet-4-6": _anthropic(3.0, 15.0),
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-1": _anthropic(15.0, 75.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-sonnet-4-5": _anthropic(3.0, 15.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-3-7-sonnet": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "claude-3-5-haiku": _anthropic(0.8, 4.0),
    # OpenAI
    "gpt-5.5": ModelPrice(5.0, 30.0, 0.50),
    "gpt-5.4": ModelPrice(2.50, 15.0, 0.25),
    "gpt-5.4-mini": ModelPrice(0.75, 4.50, 0.075),
    "gpt-5": ModelPrice(1.25, 10.0, 0.125),
    "gpt-5-mini": ModelPrice(0.25, 2.0, 0.025),
    "gpt-5-nano": ModelPrice(0.05, 0.40, 0.005),
    "gpt-4.1": ModelPrice(2.0, 8.0, 0.50),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60, 0.10),
    "gpt-4.1-nano": ModelPrice(0.10, 0.40, 0.025),
    "gpt-4o": ModelPrice(2.50, 10.0, 1.25),
    "gpt-4o-mini": ModelPrice(0.15, 0.60, 0.075),
    # Google
    "gemini-3.5-flash": ModelPrice(1.50, 9.0, 0.15),
    "gemini-2.5-pro": ModelPrice(1.25, 10.0, 0.125),
    "gemini-2.5-flash": ModelPrice(0.30, 2.50, 0.03),
    "gemini-2.5-flash-lite": ModelPrice(0.10, 0.40, 0.01),
    "gemini-2.0-flash": ModelPrice(0.10, 0.40, 0.025),
    "gemini-2.0-flash-lite": ModelPrice(0.075, 0.30, 0.075),
}

CONTEXT_WINDOWS: dict[str, int] = {
    "claude-sonnet-4-6": 200_000,
    "claude-opus-4-5": 200_000,
    "claude-opus-4-1": 200_000,
    "claude-opus-4": 200_000,
    "claude-sonnet-4-5": 200_000,
    "claude-sonnet-4": 200_000,
    "claude-3-7-sonnet": 200_000,
    "claude-haiku-4-5": 200_000,
    "claude-3-5-haiku": 200_000,
    "gpt-5.4": 400_000,
    "gpt-5.4-mini": 400_000,
    "gpt-5": 400_000,
    "gpt-5-mini": 400_000,
    "gpt-5-nano": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gemini-3.5-flash": 1_048_576,
    "gemini-2.5-pro": 1_048_576,
    "gemini-2.5-flash": 1_048_576,
    "gemini-2.5-flash-lite": 1_048_576,
    "gemini-2.0-flash": 1_048_576,
    "gemini-2.0-flash-lite": 1_048_576,
}

MAX_OUTPUT_TOKENS: dict[str, int] = {
    "claude-sonnet-4-6": 64_000,
    "claude-opus-4-5": 64_000,
    "claude-opus-4-1": 32_000,
    "claude-opus-4": 32_000,
    "claude-sonnet-4-5": 64_000,
    "claude-sonnet-4": 64_000,
    "claude-3-7-sonnet": 64_000,
    "claude-haiku-4-5": 64_000,
    "claude-3-5-haiku": 8_192,
    "gpt-5.4": 128_000,
    "gpt-5.4-mini": 128_000,
    "gpt-5": 128_000,
    "gpt-5-mini": 128_000,
    "gpt-5-nano": 128_000,
    "gpt-4.1": 32_768,
    "gpt-4.1-mini": 32_768,
    "gpt-4.1-nano": 32_768,
    "gpt-4o": 16_384,
    "gpt-4o-mini": 16_384,
    "gemini-3.5-flash": 65_536,
    "gemini-2.5-pro": 65_536,
    "gemini-2.5-flash": 65_536,
    "gemini-2.5-flash-lite": 65_536,
    "gemini-2.0-flash": 8_192,
    "gemini-2.0-flash-lite": 8_192,
}
"""The most tokens one reply may hold: a reply cut off at a smaller limit is asked again with
up to this much room."""

# A snapshot suffix: -20250929, -2024-08-06, -latest, -001, -preview-09-2025.
_SNAPSHOT = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2}|latest|\d{3}|preview(?:-[\d-]+)?)$")


def canonical_model(model: str) -> str:
    """``model`` without a provider prefix (``models/``, ``openai/``) or a snapshot suffix."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    while True:
        stripped = _SNAPSHOT.sub("", name)
        if stripped == name:
            return name
        name = stripped


def price_of(model: str) -> ModelPrice | None:
    return PRICES.get(canonical_model(model))


def context_window(model: str) -> int | None:
    return CONTEXT_WINDOWS.get(canonical_model(model))


def max_output_tokens(model: str) -> int | None:
    return MAX_OUTPUT_TOKENS.get(canonical_model(model))


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    *,
    cached_input_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> float | None:
    """What ``model`` charges for these tokens, or None when its price is unknown.

    ``input_tokens`` counts every input token; ``cached_input_tokens`` and
    ``cache_write_tokens`` say how many of them are billed at the cache's rates."""
    price = price_of(model)
    if price is None:
        return None
    cached = min(cached_input_tokens, input_tokens)
    written = min(cache_write_tokens, input_tokens - cached)
    write_rate = price.cache_write_per_million or price.input_per_million
    cost = (
        (input_tokens - cached - written) * price.input_per_million
        + cached * price.cached_input_per_million
        + written * write_rate
        + output_tokens * price.output_per_million
    ) / 1_000_000
    return round(cost, 6)
