"""A persona's name and title: deterministic, distinct, readable."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import TYPE_CHECKING

from persona.generation.local.phrases import title_phrases
from persona.generation.local.profiles import most_common
from persona.sources.columns import role_rank

if TYPE_CHECKING:
    from persona.generation.local.corpus import Corpus
    from persona.generation.local.segments import Segment

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


def title_for(
    attributes: dict[str, list[str]],
    phrases: list[str],
    taken: list[str],
    segment_key: str | None = None,
) -> str:
    """The dominant role-like attribute ("Ward nurse"); else what the segment's people deal
    with, from the noun phrases that tell them apart: "Focused on repeat prescriptions and
    blood results". Distinct from the titles ``taken`` before it."""
    role = dominant_role(attributes, segment_key)
    if role is not None:
        role = role[:1].upper() + role[1:]
        if role not in taken or not phrases:
            return role
        return f"{role} focused on {phrases[0]}"
    for start in range(max(1, len(phrases) - 1)):
        chosen = title_phrases(phrases[start:])
        if not chosen:
            break
        title = f"Focused on {_join_terms(chosen)}"
        if title not in taken:
            return title
    return f"Participant group {len(taken) + 1}"


def dominant_role(attributes: dict[str, list[str]], segment_key: str | None = None) -> str | None:
    """The value a third or more of the segment give for the segment column (``segment_key``)
    or, failing that, for the first role-like column that has one."""
    ranked = sorted((rank, key) for key in attributes if (rank := role_rank(key)) is not None)
    if segment_key in attributes:
        ranked.insert(0, (-1, segment_key))
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
