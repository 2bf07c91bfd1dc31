"""The evidence as the synthesizer reads it: records sorted by id, their participants and
their sentences, each a verbatim slice of one record.

Evidence without a participant counts as its own participant (a survey row, a note).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from persona.errors import InsufficientEvidenceError
from persona.generation.local.sections import section_of
from persona.schemas import Evidence

# A sentence ends at . ! ? or … (with closing quotes/brackets) before white space, or at a
# line end; lines are never joined, so every sentence is a verbatim slice of one record.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n")
WORD = re.compile(r"\b[^\W\d_][^\W\d_]+\b")  # two or more letters; no digits


@dataclass
class Corpus:
    """Evidence sorted by id, its participants and its sentences (parallel lists)."""

    records: list[Evidence]
    record_participant: list[int]
    participants: list[str]
    sentence_text: list[str] = field(default_factory=list)
    sentence_record: list[int] = field(default_factory=list)
    sections: dict[str, int] = field(default_factory=dict)
    """Cue-phrase section by sentence key, filled as sentences are considered."""

    def section(self, key: str) -> int:
        """GOALS, PAIN_POINTS, BEHAVIOURS, or -1 when no cue phrase matches ``key``."""
        if key not in self.sections:
            self.sections[key] = section_of(key)
        return self.sections[key]


def read_corpus(evidence: Sequence[Evidence]) -> Corpus:
    # One record per id (the last wins, as in the id -> evidence map used for grounding);
    # sorting makes the result independent of the order the sources were read in.
    by_id = {record.id: record for record in evidence}
    records = [by_id[key] for key in sorted(by_id)]
    keys = [_participant_key(record) for record in records]
    participants = sorted(set(keys))
    index = {key: position for position, key in enumerate(participants)}
    corpus = Corpus(records, [index[key] for key in keys], participants)
    for position, record in enumerate(records):
        sentences = _sentences(record.text)
        corpus.sentence_text += sentences
        corpus.sentence_record += [position] * len(sentences)
    return corpus


def _sentences(text: str) -> list[str]:
    """The sentences of ``text``, each a verbatim slice with its edge white space removed."""
    found: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        if sentence := text[start : end.end()].strip():
            found.append(sentence)
        start = end.end()
    if sentence := text[start:].strip():
        found.append(sentence)
    return found


def _participant_key(record: Evidence) -> str:
    label = (record.participant or "").strip()
    return label or f"\x00record {record.id}"


def require_participants(corpus: Corpus, persona_count: int) -> None:
    if not corpus.records:
        raise InsufficientEvidenceError(
            "no evidence to build personas from: the data sources produced no records"
        )
    found = len(corpus.participants)
    if found < persona_count:
        raise InsufficientEvidenceError(
            f"found {found} participant{'s' if found != 1 else ''} in {len(corpus.records)} "
            f"evidence records, but {persona_count} personas were asked for; "
            "ask for fewer personas or add more data"
        )
