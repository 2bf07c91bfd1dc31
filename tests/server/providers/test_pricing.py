"""Prices and context windows per model."""

from __future__ import annotations

import pytest
from persona.providers.pricing import (
    canonical_model,
    context_window,
    cost_usd,
    max_output_tokens,
    price_of,
)


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


def test_cached_input_and_cache_writes_are_billed_at_their_own_rates() -> None:
    # claude-sonnet-4-6: $3 input, $0.30 cache read, $3.75 cache write, $15 output
    cost = cost_usd(
        "claude-sonnet-4-6", 3_000, 1_000, cached_input_tokens=1_000, cache_write_tokens=1_000
    )
    assert cost == pytest.approx((1_000 * 3.0 + 1_000 * 0.30 + 1_000 * 3.75 + 1_000 * 15.0) / 1e6)
    # OpenAI charges no more than input for a cache write
    assert cost_usd("gpt-5.4-mini", 1_000, 0, cache_write_tokens=1_000) == cost_usd(
        "gpt-5.4-mini", 1_000, 0
    )
    # counts that exceed the input are capped, never billed below zero input
    assert cost_usd("gpt-5.4-mini", 1_000, 0, cached_input_tokens=5_000) == pytest.approx(
        1_000 * 0.075 / 1e6
    )


def test_output_limits() -> None:
    assert max_output_tokens("claude-sonnet-4-6") == 64_000
    assert max_output_tokens("gpt-5.4-mini-2026-03-17") == 128_000
    assert max_output_tokens("mystery-model") is None
