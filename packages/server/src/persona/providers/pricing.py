"""What models cost and how much they can read: list prices and context windows per known model.

Prices are USD per million tokens (input, output), standard tier, from the providers' public
price lists. A dated or ``-latest`` snapshot of a known model has the model's price; an
unknown model has no price (``None``), never a guessed one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelPrice:
    input_per_million: float
    output_per_million: float


PRICES: dict[str, ModelPrice] = {
    # Anthropic
    "claude-opus-4-5": ModelPrice(5.0, 25.0),
    "claude-opus-4-1": ModelPrice(15.0, 75.0),
    "claude-opus-4": ModelPrice(15.0, 75.0),
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0),
    "claude-sonnet-4": ModelPrice(3.0, 15.0),
    "claude-3-7-sonnet": ModelPrice(3.0, 15.0),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0),
    "claude-3-5-haiku": ModelPrice(0.8, 4.0),
    # OpenAI
    "gpt-5": ModelPrice(1.25, 10.0),
    "gpt-5-mini": ModelPrice(0.25, 2.0),
    "gpt-5-nano": ModelPrice(0.05, 0.40),
    "gpt-4.1": ModelPrice(2.0, 8.0),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60),
    "gpt-4.1-nano": ModelPrice(0.10, 0.40),
    "gpt-4o": ModelPrice(2.50, 10.0),
    "gpt-4o-mini": ModelPrice(0.15, 0.60),
    # Google
    "gemini-2.5-pro": ModelPrice(1.25, 10.0),
    "gemini-2.5-flash": ModelPrice(0.30, 2.50),
    "gemini-2.5-flash-lite": ModelPrice(0.10, 0.40),
    "gemini-2.0-flash": ModelPrice(0.10, 0.40),
    "gemini-2.0-flash-lite": ModelPrice(0.075, 0.30),
}

CONTEXT_WINDOWS: dict[str, int] = {
    "claude-opus-4-5": 200_000,
    "claude-opus-4-1": 200_000,
    "claude-opus-4": 200_000,
    "claude-sonnet-4-5": 200_000,
    "claude-sonnet-4": 200_000,
    "claude-3-7-sonnet": 200_000,
    "claude-haiku-4-5": 200_000,
    "claude-3-5-haiku": 200_000,
    "gpt-5": 400_000,
    "gpt-5-mini": 400_000,
    "gpt-5-nano": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gemini-2.5-pro": 1_048_576,
    "gemini-2.5-flash": 1_048_576,
    "gemini-2.5-flash-lite": 1_048_576,
    "gemini-2.0-flash": 1_048_576,
    "gemini-2.0-flash-lite": 1_048_576,
}

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


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """What ``model`` charges for these tokens, or None when its price is unknown."""
    price = price_of(model)
    if price is None:
        return None
    cost = (
        input_tokens * price.input_per_million + output_tokens * price.output_per_million
    ) / 1_000_000
    return round(cost, 6)
