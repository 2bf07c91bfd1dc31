"""The text normalisation quotes are compared under, and a map back to the original text.

Quotes match evidence up to case, Unicode compatibility forms, curly quote marks, dashes and
runs of white space. :func:`normalize` is the fast form used for comparing; :func:`mapped`
gives the same string with, for every character of it, the characters of the original it
came from, so that a match in the normalised text can be shown in the original.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_QUOTE_MARKS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)
EDGE_PUNCT = " \"'.,;:!?-()[]"
"""Characters a quote may start or end with that are not part of what it quotes."""


def normalize(text: str) -> str:
    """Fold case, Unicode forms, curly quotes, dashes and runs of white space."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():  # ASCII has nothing to translate: skipping it saves a copy
        text = text.translate(_QUOTE_MARKS)
    # split() cuts at what \s matches (str.isspace) and drops it at both ends, in one pass
    # over the string where a regular expression substitution matches run by run.
    return " ".join(text.split()).casefold()


def needle(quote: str) -> str:
    """What is searched for: the normalised quote without quote marks and punctuation around
    it (empty when nothing is left)."""
    return normalize(quote).strip(EDGE_PUNCT)


@dataclass(frozen=True)
class MappedText:
    """``text`` (equal to ``normalize(original)``) and, for its character ``i``, the original
    characters ``starts[i]`` (inclusive) to ``ends[i]`` (exclusive) it came from."""

    text: str
    starts: list[int]
    ends: list[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original characters behind ``text[start:end]`` (``start < end``)."""
        return self.starts[start], self.ends[end - 1]

    def whole_characters(self, start: int, end: int) -> bool:
        """True when ``text[start:end]`` neither starts nor ends inside what one original
        character became (``ß`` becomes ``ss``: one ``s`` of it is not a match for ``s``)."""
        opens = start == 0 or self.starts[start - 1] != self.starts[start]
        closes = end == len(self.text) or self.starts[end] != self.starts[end - 1]
        return opens and closes


def mapped(original: str) -> MappedText:
    """``normalize(original)`` with the offset map back to ``original``.

    Each cluster (a character and what composes with it) is normalised on its own, which
    gives the same result as normalising the whole text for all but exotic scripts; when it
    does not, every character maps to the whole original text, which is still true if vague.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    space: tuple[int, int] | None = None  # a run of white space not yet written
    for start, end in _clusters(original):
        piece = unicodedata.normalize("NFKC", original[start:end])
        for char in piece.translate(_QUOTE_MARKS).casefold():
            if char.isspace():  # what \s matches in normalize
                space = (start, end) if space is None else (space[0], end)
                continue
            if space is not None and chars:
                chars.append(" ")
                starts.append(space[0])
                ends.append(space[1])
            space = None
            chars.append(char)
            starts.append(start)
            ends.append(end)
    text = "".join(chars)
    expected = normalize(original)
    if text != expected:
        return MappedText(expected, [0] * len(expected), [len(original)] * len(expected))
    return MappedText(text, starts, ends)


def _clusters(text: str) -> list[tuple[int, int]]:
    """``text`` cut where normalising the parts apart gives what normalising them together
    does: before every character that neither is a combining mark nor composes with the
    characters before it."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for position in range(1, len(text) + 1):
        if position < len(text) and _joins(text[start:position], text[position]):
            continue
        bounds.append((start, position))
        start = position
    return bounds


def _joins(cluster: str, char: str) -> bool:
    if char < "\x80":  # nothing composes with a following ASCII character
        return False
    if unicodedata.combining(char):
        return True
    together = unicodedata.normalize("NFKC", cluster + char)
    return together != unicodedata.normalize("NFKC", cluster) + unicodedata.normalize("NFKC", char)
