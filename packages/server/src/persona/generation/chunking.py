"""Token budgeting: how much a request may hold, and cutting evidence into chunks that fit.

Token counts are estimated from characters (no tokenizer is downloaded); the estimate is
deliberately generous, so a request judged to fit does fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from persona.schemas import Evidence

T = TypeVar("T")

CHARS_PER_TOKEN = 3.5
"""English averages about 4 characters a token; 3.5 leaves room for JSON and other scripts."""

MIN_CHUNK_TOKENS = 256
"""A chunk smaller than this would cut evidence into useless scraps: the model is too small."""


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def output_tokens_for(persona_count: int, context_tokens: int, cap: int) -> int:
    """Room to reserve for a reply: about 900 tokens a persona, within a third of the context."""
    wanted = 1024 + 900 * persona_count
    return max(512, min(wanted, context_tokens // 3, cap))


@dataclass(frozen=True)
class TokenBudget:
    """What one request to one model may hold."""

    context_tokens: int
    output_tokens: int

    @property
    def margin(self) -> int:
        """Slack for the estimate and for the provider's own framing of messages."""
        return max(128, self.context_tokens // 50)

    @property
    def input_limit(self) -> int:
        """The largest prompt (estimated tokens) that leaves room for the reply."""
        return self.context_tokens - self.output_tokens - self.margin

    def fits(self, text: str) -> bool:
        return estimate_tokens(text) <= self.input_limit


class ChunkTooLargeError(ValueError):
    """A single record cannot be made to fit a chunk."""


def _split_point(text: str) -> int:
    """Where to cut ``text`` in two: the white space nearest the middle, else the middle."""
    middle = len(text) // 2
    left = text.rfind(" ", 0, middle)
    right = text.find(" ", middle)
    candidates = [i for i in (left, right) if 0 < i < len(text) - 1]
    return min(candidates, key=lambda i: abs(i - middle)) if candidates else middle


def split_evidence(
    item: Evidence, max_tokens: int, render: Callable[[Evidence], str]
) -> list[Evidence]:
    """``item`` as it is when it fits ``max_tokens``, else pieces of its text under its own id."""
    if estimate_tokens(render(item)) <= max_tokens:
        return [item]
    if len(item.text) < 2:
        raise ChunkTooLargeError(
            f"evidence {item.id!r} does not fit a chunk of {max_tokens} tokens even without text"
        )
    cut = _split_point(item.text)
    halves = (item.text[:cut], item.text[cut:])
    return [
        piece
        for half in halves
        for piece in split_evidence(item.model_copy(update={"text": half}), max_tokens, render)
    ]


def pack(lines: Sequence[str], max_tokens: int) -> list[list[str]]:
    """Consecutive lines grouped into as few chunks of at most ``max_tokens`` as greedy packing
    gives; a line longer than ``max_tokens`` is a ChunkTooLargeError."""
    return pack_sized(lines, [estimate_tokens(line) for line in lines], max_tokens)


def pack_sized(items: Sequence[T], sizes: Sequence[int], max_tokens: int) -> list[list[T]]:
    """``pack`` for records whose rendered lines are ``sizes`` tokens long: records are rendered
    per request (with that request's aliases), so a chunk holds records, not lines."""
    chunks: list[list[T]] = []
    current: list[T] = []
    used = 0
    for item, tokens in zip(items, sizes, strict=True):
        size = tokens + 1  # the newline that joins it
        if size > max_tokens:
            raise ChunkTooLargeError(f"a record of about {size} tokens exceeds {max_tokens}")
        if current and used + size > max_tokens:
            chunks.append(current)
            current, used = [], 0
        current.append(item)
        used += size
    if current:
        chunks.append(current)
    return chunks
