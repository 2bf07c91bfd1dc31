"""A persona's name and title: deterministic, distinct, readable."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import TYPE_CHECKING

from persona.generation.local.profiles import most_common
from persona.generation.local.sections import feeling_words
from persona.sources.columns import role_rank

if TYPE_CHECKING:
    from persona.generation.local.corpus import Corpus
    from persona.generation.local.segments import Segment

FILLER_WORDS = frozenset({
    "actually", "basically", "honestly", "just", "like", "really", "maybe", "okay", "ok",
    "yeah", "yes", "guess", "think", "thing", "things", "lot", "lots", "stuff", "kind", "sort",
    "way", "pretty", "bit", "little", "sure", "know", "mean", "right", "good", "want", "need",
    "don", "doesn", "didn", "isn", "ll", "ve", "re", "time", "got", "make", "use", "using",
    "used", "says", "said", "let", "lets", "ones", "near", "inside", "outside", "matters",
    "hand", "hour", "hours", "day", "days", "week", "weeks", "month", "months", "year", "years",
    "minute", "minutes", "morning", "today", "tomorrow", "start", "end",
})  # fmt: skip
"""Conversational words and units of time ("by hand", "hours per week") that say nothing
about a segment; never part of a title."""
FIRST_NAMES = (
    "Ada", "Amara", "Ben", "Carmen", "Chen", "Dario", "Elena", "Emeka", "Farah", "Felix",
    "Grace", "Hamid", "Hana", "Ines", "Ivan", "Jonas", "Kai", "Keiko", "Lara", "Leon",
    "Lucia", "Malik", "Maya", "Mateo", "Nadia", "Nikhil", "Noor", "Omar", "Olivia", "Priya",
    "Quinn", "Rafael", "Rosa", "Sami", "Sofia", "Tariq", "Tessa", "Uma", "Viktor", "Wen",
    "Xavier", "Yara", "Yusuf", "Zoe", "Anika", "Bruno", "Clara", "Dev",
)  # fmt: skip
LAST_NAMES = (
    "Abara", "Bauer", "Costa", "Dalton", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe",
    "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zhang",
    "Almeida", "Brennan", "Chowdhury", "Duarte", "Novak", "Ortiz",
)  # fmt: skip


FOCUS_TERMS = 3
"""Distinctive terms a title may name as what the segment works with; the pain point's
term may be any of the segment's terms."""


def title_for(
    attributes: dict[str, list[str]], terms: list[str], pain: str | None, taken: list[str]
) -> str:
    """The dominant role-like attribute; else a phrase built from the segment's most
    distinctive term and the one its main pain point (``pain``) is about: "Working with
    pick lists, troubled by scanners". Distinct from the titles ``taken`` before it."""
    role = _dominant_role(attributes)
    if role is not None:
        role = role[:1].upper() + role[1:]
        if role not in taken or not terms:
            return role
        return f"{role}, working with {_join_terms(terms)}"
    if not terms:
        return "General participant"
    trouble = _term_in(terms[1:], pain)
    focus = [term for term in terms[:FOCUS_TERMS] if term != trouble]
    for count in range(1, len(focus) + 1):
        title = f"Working with {_join_terms(focus[:count])}"
        if trouble is not None:
            title += f", troubled by {trouble}"
        if title not in taken:
            return title
    return title


def _term_in(terms: list[str], text: str | None) -> str | None:
    """The first of ``terms`` that ``text`` says, word for word, and that names a thing
    rather than a feeling ("scanners", not "hate writing")."""
    if not text:
        return None
    lowered = text.casefold()
    for term in terms:
        if set(term.split()) & feeling_words():
            continue
        if re.search(rf"\b{re.escape(term)}\b", lowered):
            return term
    return None


def _dominant_role(attributes: dict[str, list[str]]) -> str | None:
    ranked = sorted((rank, key) for key in attributes if (rank := role_rank(key)) is not None)
    for _, key in ranked:
        values = attributes[key]
        if values:
            counts = Counter(values)
            top = most_common(counts)
            if 3 * counts[top] > len(values):  # at least a third of those who said
                return top
    return None


def _join_terms(terms: list[str]) -> str:
    if len(terms) <= 1:
        return "".join(terms)
    return f"{', '.join(terms[:-1])} and {terms[-1]}"


def name_for(corpus: Corpus, segment: Segment, used_first_names: set[str]) -> str:
    """A name picked by a stable hash of the segment's participants; first names never repeat."""
    content = "\n".join(corpus.participants[i] for i in segment.participants)
    digest = int.from_bytes(hashlib.sha256(content.encode()).digest()[:8], "big")
    first_index = digest % len(FIRST_NAMES)
    while FIRST_NAMES[first_index] in used_first_names:
        first_index = (first_index + 1) % len(FIRST_NAMES)
    first = FIRST_NAMES[first_index]
    used_first_names.add(first)
    return f"{first} {LAST_NAMES[(digest // len(FIRST_NAMES)) % len(LAST_NAMES)]}"
