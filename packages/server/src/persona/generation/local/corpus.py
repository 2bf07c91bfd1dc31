"""The evidence as the synthesizer reads it: records sorted by id, their participants and
their sentences, each a verbatim slice of one record.

A participant's records from every source (CSV rows, JSON answers, transcript turns with the
same participant id) belong to one participant. Records without a participant are grouped by
source document when other records name theirs (site notes beside interviews); when none do
(a survey without respondent ids), each record is its own participant.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from persona.errors import InsufficientEvidenceError
from persona.generation.local.sections import (
    PAIN_POINTS,
    question_section,
    section_of,
    tone_only,
)
from persona.schemas import Evidence

# A sentence ends at . ! ? or … (with closing quotes/brackets) before white space, or at a
# line end; lines are never joined, so every sentence is a verbatim slice of one record.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n")
WORD = re.compile(r"\b[^\W\d_][^\W\d_]+\b")  # two or more letters; no digits
_REFERS_BACK = re.compile(
    r"(?:(?:if|when|because|so|and|but|then|also|which|once|since|after|until|as)\s+)?"
    r"(?:that|this|it|they|these|those|he|she|them|there)\b"
    r"|(?:and|but|so|also|then|which|otherwise|anyway|now|instead|however|plus|yet)\b"
    r"|(?:i|we)\b[^.!?]{0,20}?\b(?:want|need|like|love)\s+(?:that|this|it|them)\s+to\b",
    re.IGNORECASE,
)
"""A sentence opening with a pronoun ("That means...", "If they hesitate...", "Once it
worked..."), with a connective ("But...", "Now anyone...") or wanting a pronoun ("I want
that to happen on its own") means little without the sentence before it..."""
_DUMMY_IT = re.compile(
    r"it(?:'s|\u2019s|\s+is|\s+was|\s+would(?:\s+be)?|\s+will\s+be|\s+gets)\b.*"
    r"\b(?:to|when|that|if|how|because)\b",
    re.IGNORECASE,
)
"""... unless it is the 'it' of 'it is hard to', 'it would be great if', which refers forward."""


class Sentences(Sequence[str]):
    """The corpus's sentences, each cut from its record's text when it is read.

    A large corpus has hundreds of thousands of sentences: held as strings, they would take as
    much memory as the text again (plus an object each); as positions, 8 bytes each."""

    def __init__(self, records: list[Evidence], sentence_record: list[int]) -> None:
        self._texts = [record.text for record in records]
        self._record = sentence_record
        self._start = array("l")
        self._end = array("l")

    def add(self, start: int, end: int) -> None:
        """The next sentence: characters ``start`` to ``end`` of its record's text."""
        self._start.append(start)
        self._end.append(end)

    def __len__(self) -> int:
        return len(self._start)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._texts[self._record[index]][self._start[index] : self._end[index]]

    def __iter__(self) -> Iterator[str]:
        texts = self._texts
        for record, start, end in zip(self._record, self._start, self._end, strict=True):
            yield texts[record][start:end]

    def take(self, indices: Iterable[int]) -> Iterator[str]:
        """The sentences at ``indices``, in that order: for long walks, without a call each."""
        texts, record, start, end = self._texts, self._record, self._start, self._end
        for index in indices:
            yield texts[record[index]][start[index] : end[index]]


@dataclass
class Corpus:
    """Evidence sorted by id, its participants and its sentences (parallel sequences)."""

    records: list[Evidence]
    record_participant: list[int]
    participants: list[str]
    sentence_record: list[int] = field(default_factory=list)
    sentence_text: Sentences = field(init=False)
    context_lines: dict[int, str] = field(default_factory=dict)
    """Sentences opening with a pronoun that refers back: the line to show instead, the
    previous sentence of the same record and this one (a verbatim slice of the record)."""
    unresolved: set[int] = field(default_factory=set)
    """Sentences opening with such a pronoun with nothing before them: never shown."""
    sections: dict[str, int] = field(default_factory=dict)
    """Cue-phrase section by sentence key, filled as sentences are considered."""

    def __post_init__(self) -> None:
        self.sentence_text = Sentences(self.records, self.sentence_record)

    def line(self, sentence: int) -> str:
        """What a persona shows for ``sentence``: the sentence, with its context if it needs it."""
        return self.context_lines.get(sentence) or self.sentence_text[sentence]

    def section(self, key: str, sentence: int | None = None) -> int:
        """GOALS, PAIN_POINTS, BEHAVIOURS, or -1 when no cue phrase matches ``key``. A
        record of one sentence (``sentence``) with no cue, or only a negative tone, takes its
        question's section."""
        if key not in self.sections:
            self.sections[key] = section_of(key)
        found = self.sections[key]
        if sentence is None or (found >= 0 and found != PAIN_POINTS):
            return found
        asked = self._answered_section(sentence)
        if asked < 0 or asked == found or (found >= 0 and not tone_only(key)):
            return found
        return asked

    def _answered_section(self, sentence: int) -> int:
        record = self.sentence_record[sentence]
        alone = (sentence == 0 or self.sentence_record[sentence - 1] != record) and (
            sentence + 1 >= len(self.sentence_record)
            or self.sentence_record[sentence + 1] != record
        )
        question = self.records[record].attributes.get("question") if alone else None
        return question_section(question) if question else -1


def read_corpus(evidence: Sequence[Evidence]) -> Corpus:
    # One record per id (the last wins, as in the id -> evidence map used for grounding);
    # sorting makes the result independent of the order the sources were read in.
    by_id = {record.id: record for record in evidence}
    records = [by_id[key] for key in sorted(by_id)]
    by_source = any(record.participant and record.participant.strip() for record in records)
    keys = [_participant_key(record, by_source=by_source) for record in records]
    participants = sorted(set(keys))
    index = {key: position for position, key in enumerate(participants)}
    corpus = Corpus(records, [index[key] for key in keys], participants)
    for position, record in enumerate(records):
        spans = _sentence_spans(record.text)
        first = len(corpus.sentence_text)
        for number, (start, end) in enumerate(spans):
            sentence = record.text[start:end]
            if _REFERS_BACK.match(sentence) and not _DUMMY_IT.match(sentence):
                if number == 0:
                    corpus.unresolved.add(first + number)
                else:
                    corpus.context_lines[first + number] = record.text[spans[number - 1][0] : end]
            corpus.sentence_text.add(start, end)
        corpus.sentence_record += [position] * len(spans)
    return corpus


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where the sentences of ``text`` are, each without its edge white space."""
    found: list[tuple[int, int]] = []
    start = 0
    for end in [*(match.end() for match in _SENTENCE_END.finditer(text)), len(text)]:
        piece = text[start:end]
        if stripped := piece.strip():
            left = start + piece.index(stripped[0])
            found.append((left, left + len(stripped)))
        start = end
    return found


def _participant_key(record: Evidence, *, by_source: bool) -> str:
    label = (record.participant or "").strip()
    if label:
        return label
    return f"\x00source {record.source}" if by_source else f"\x00record {record.id}"


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
