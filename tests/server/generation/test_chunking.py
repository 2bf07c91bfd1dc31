"""Token budgets and chunks that always fit."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from persona.generation.chunking import (
    ChunkTooLargeError,
    TokenBudget,
    estimate_tokens,
    output_tokens_for,
    pack,
    split_evidence,
)
from persona.generation.prompt import render_evidence
from persona.schemas import Evidence


def test_estimate_rounds_up_at_three_and_a_half_characters_a_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abc") == 1
    assert estimate_tokens("x" * 35) == 10
    assert estimate_tokens("x" * 36) == 11


def test_output_room_grows_with_personas_within_a_third_of_the_context_and_the_cap() -> None:
    assert output_tokens_for(1, 200_000, 32_000) == 1924
    assert output_tokens_for(20, 200_000, 32_000) == 19_024
    assert output_tokens_for(20, 200_000, 8_000) == 8_000
    assert output_tokens_for(5, 9_000, 32_000) == 3_000
    assert output_tokens_for(5, 1_000, 32_000) == 512  # never less than a useful reply


def test_budget_leaves_room_for_the_reply_and_a_margin() -> None:
    budget = TokenBudget(context_tokens=10_000, output_tokens=3_000)
    assert budget.margin == 200
    assert budget.input_limit == 6_800
    assert budget.fits("x" * int(6_800 * 3.5))
    assert not budget.fits("x" * (int(6_800 * 3.5) + 1))
    assert TokenBudget(context_tokens=2_048, output_tokens=512).margin == 128


def make(text: str, **fields: object) -> Evidence:
    return Evidence(id="ev-big", source="t.md", locator="line 1-900", text=text, **fields)  # type: ignore[arg-type]


def test_a_record_that_fits_is_left_whole() -> None:
    item = make("short words")
    assert split_evidence(item, 100, render_evidence) == [item]


@given(
    words=st.lists(st.text(alphabet='abcdeé"\n', min_size=1, max_size=30), max_size=300),
    room=st.integers(min_value=40, max_value=400),
)
def test_a_large_record_is_cut_into_pieces_that_fit_and_keep_its_id(
    words: list[str], room: int
) -> None:
    item = make(" ".join(words) or "x", participant="P1", attributes={"role": "nurse"})
    pieces = split_evidence(item, room, render_evidence)
    assert "".join(p.text for p in pieces) == item.text
    assert all(estimate_tokens(render_evidence(p)) <= room for p in pieces)
    assert {(p.id, p.participant, p.locator) for p in pieces} == {("ev-big", "P1", "line 1-900")}


def test_pieces_are_cut_at_white_space() -> None:
    item = make(" ".join(f"word{n}" for n in range(400)))
    pieces = split_evidence(item, 60, render_evidence)
    assert len(pieces) > 4
    assert all(p.text.split()[0].startswith("word") for p in pieces)
    assert all(word.startswith("word") for p in pieces for word in p.text.split())


def test_a_record_whose_ids_alone_do_not_fit_is_an_error() -> None:
    item = make("some text", attributes={"note": "x" * 400})
    with pytest.raises(ChunkTooLargeError, match="ev-big"):
        split_evidence(item, 50, render_evidence)


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=300), max_size=80),
    limit=st.integers(min_value=87, max_value=2_000),
)
def test_packing_keeps_order_and_every_chunk_within_the_limit(sizes: list[int], limit: int) -> None:
    lines = ["y" * size for size in sizes]
    chunks = pack(lines, limit)
    assert [line for chunk in chunks for line in chunk] == lines
    for chunk in chunks:
        assert chunk and sum(estimate_tokens(line) + 1 for line in chunk) <= limit
    for first, second in itertools.pairwise(chunks):  # greedy: nothing would fit
        used = sum(estimate_tokens(line) + 1 for line in first)
        assert used + estimate_tokens(second[0]) + 1 > limit


def test_a_line_larger_than_a_chunk_is_an_error() -> None:
    with pytest.raises(ChunkTooLargeError, match="exceeds 10"):
        pack(["x" * 100], 10)
