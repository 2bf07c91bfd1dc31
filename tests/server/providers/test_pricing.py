"""Prices and context windows per model."""

from __future__ import annotations

import pytest
from persona.providers.pricing import canonical_model, context_window, cost_usd, price_of


@pytest.mark.parametrize(
    ("model", "canonical"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("models/gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("openai/GPT-4.1-mini", "gpt-4.1-mini"),
        ("gpt-5-nano", "gpt-5-nano"),
        ("llama3.1:8b", "llama3.1:8b"),
    ],
)
def test_snapshots_and_prefixes_map_to_the_model(model: str, canonical: str) -> None:
    assert canonical_model(model) == canonical


def test_cost_is_per_million_tokens_input_and_output() -> None:
    # claude-sonnet-4-5: $3 in, $15 out per million tokens
    assert cost_usd("claude-sonnet-4-5-20250929", 1_000_000, 0) == 3.0
    assert cost_usd("claude-sonnet-4-5-20250929", 12_000, 3_000) == pytest.approx(0.081)
    assert cost_usd("gpt-4o-mini", 2_000_000, 1_000_000) == pytest.approx(0.90)


def test_a_model_that_is_not_known_has_no_price() -> None:
    assert cost_usd("llama3.1", 1000, 1000) is None
    assert cost_usd("gpt-4o-mini-but-not-really", 1000, 1000) is None
    assert price_of("gpt-4o-mini") != price_of("gpt-4o")  # the longer name is its own model


def test_context_windows() -> None:
    assert context_window("claude-sonnet-4-5-20250929") == 200_000
    assert context_window("gpt-4o-mini") == 128_000
    assert context_window("mystery-model") is None
