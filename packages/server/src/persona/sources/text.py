"""Markdown and plain-text sources: interview transcripts by speaker turn, other text by paragraph.

A file is a transcript when it has speaker labels (``**Dana:**``, ``**P1**:``, ``Dana:``,
``P1:``, optionally after a ``[00:12]`` timestamp or a list marker) from at least two speakers,
and either one of them is an interviewer or at least two of them speak more than once. Each
participant turn becomes one Evidence record; interviewer turns are not the participant's words,
so the latest one is kept as context in ``attributes["question"]``.

Any other file is split into paragraphs at blank lines. The participant of a paragraph, and of a
turn whose label is generic (``A:``, ``Respondent:``), is the ``participant`` of the Markdown front
matter when there is one, else the file's stem. Other ``key: value`` lines of the front matter
become attributes of every record of the file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from persona.errors import SourceError
from persona.schemas import Evidence
from persona.sources.records import evidence_id, make_evidence

_NAME = r"[^\W\d_][\w'\u2019.()\- ]{0,39}?"
_LABELS = (
    re.compile(rf"^(\*\*|__)(?P<name>{_NAME})\s*:\s*\1\s*(?P<text>.*)$"),  # **Dana:** text
    re.compile(rf"^(\*\*|__)(?P<name>{_NAME})\1\s*:\s*(?P<text>.*)$"),  # **Dana**: text
)
# Unformatted labels need more evidence of being a name: capitalised words, text on the line.
_PLAIN_LABEL = re.compile(rf"^(?P<name>{_NAME}):\s+(?P<text>\S.*)$")
_PARENTHESIS = re.compile(r"\(.*?\)")
_MAX_PLAIN_WORDS = 4
_PREFIX = re.compile(r"^\s*(?:[-+*]\s+)?(?:[\[(]?\d{1,2}:\d{2}(?::\d{2})?[\])]?\s+)?")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s|$)")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_INTERVIEWER = re.compile(r"\b(?:interviewer|moderator|researcher|facilitator|host)\b", re.I)
_INTERVIEWER_SHORT = frozenset({"q", "i", "int", "mod", "question"})
_GENERIC_PARTICIPANT = frozenset(
    {"a", "r", "answer", "respondent", "participant", "interviewee", "p"}
)
_FRONT_MATTER = re.compile(r"^(?P<key>[\w][\w .\-]*?)\s*:\s*(?P<value>.*)$")


@dataclass
class _Block:
    """A run of lines: a speaker turn or a paragraph."""

    start: int
    speaker: str | None = None
    end: int = 0
    lines: list[str] = field(default_factory=list)

    def add(self, number: int, line: str) -> None:
        self.lines.append(line)
        if line.strip():
            self.end = number

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip()

    @property
    def locator(self) -> str:
        end = max(self.end, self.start)
        return f"line {self.start}" if end == self.start else f"line {self.start}-{end}"


def _looks_like_name(word: str) -> bool:
    return bool(word) and (word[0].isupper() or word[0].isdigit())


def speaker_label(line: str) -> tuple[str, str] | None:
    """(speaker, rest of the line) when the line opens a speaker turn."""
    body = _PREFIX.sub("", line, count=1).rstrip()
    for pattern in _LABELS:
        if match := pattern.match(body):
            return " ".join(match["name"].split()), match["text"]
    match = _PLAIN_LABEL.match(body)
    if match is None:
        return None
    words = match["name"].split()
    named = _PARENTHESIS.sub("", match["name"]).split()  # 'Dana (ops lead)' is named 'Dana'
    if len(words) > _MAX_PLAIN_WORDS or not all(_looks_like_name(w) for w in named or [""]):
        return None
    return " ".join(words), match["text"]


def is_interviewer(speaker: str) -> bool:
    return bool(_INTERVIEWER.search(speaker)) or speaker.casefold() in _INTERVIEWER_SHORT


def _is_structure(line: str) -> bool:
    """Headings and horizontal rules: they separate blocks and are nobody's words."""
    return bool(_HEADING.match(line) or _RULE.match(line))


def _front_matter(lines: list[tuple[int, str]]) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Attributes from a leading ``---`` block of ``key: value`` lines, and the lines after it."""
    if not lines or lines[0][1].strip() != "---":
        return {}, lines
    for position, (_, line) in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            attributes: dict[str, str] = {}
            for _, entry in lines[1:position]:
                match = _FRONT_MATTER.match(entry.strip())
                if match and (value := match["value"].strip().strip("'\"")):
                    attributes[match["key"].strip()] = value
            return attributes, lines[position + 1 :]
    return {}, lines


def _turns(lines: list[tuple[int, str]], markdown: bool) -> list[_Block]:
    turns: list[_Block] = []
    current: _Block | None = None
    for number, line in lines:
        if markdown and _is_structure(line):
            current = None
            continue
        label = speaker_label(line)
        if label is not None:
            current = _Block(start=number, speaker=label[0])
            current.add(number, label[1])
            turns.append(current)
        elif current is not None:
            current.add(number, line)
    return [turn for turn in turns if turn.text]


def _is_transcript(turns: list[_Block]) -> bool:
    speakers = Counter(turn.speaker or "" for turn in turns)
    if len(speakers) < 2:
        return False
    recurring = sum(count >= 2 for count in speakers.values())
    return any(is_interviewer(s) for s in speakers) or recurring >= 2


def _paragraphs(lines: list[tuple[int, str]], markdown: bool) -> Iterator[_Block]:
    current: _Block | None = None
    for number, line in lines:
        if not line.strip() or (markdown and _is_structure(line)):
            if current is not None:
                yield current
            current = None
            continue
        if current is None:
            current = _Block(start=number)
        current.add(number, line)
    if current is not None:
        yield current


@dataclass(frozen=True)
class _FileContext:
    source: str
    participant: str
    attributes: dict[str, str]

    def evidence(self, block: _Block, participant: str, extra: dict[str, str]) -> Evidence:
        return make_evidence(
            id=evidence_id(self.source, block.locator),
            source=self.source,
            locator=block.locator,
            participant=participant,
            text=block.text,
            attributes={**self.attributes, **extra},
        )


def _transcript_evidence(turns: list[_Block], context: _FileContext) -> Iterator[Evidence]:
    question: str | None = None
    for turn in turns:
        speaker = turn.speaker or ""
        if is_interviewer(speaker):
            question = turn.text
            continue
        generic = speaker.casefold() in _GENERIC_PARTICIPANT
        participant = context.participant if generic else speaker
        yield context.evidence(turn, participant, {"question": question} if question else {})


def read_text(lines: Iterable[str], source: str, *, markdown: bool) -> Iterator[Evidence]:
    """Evidence from a transcript's participant turns, or from each paragraph of other text."""
    numbered = [(number, line.rstrip("\r\n")) for number, line in enumerate(lines, start=1)]
    if not any(line.strip() for _, line in numbered):
        raise SourceError(source, "the file is empty")
    attributes, body = _front_matter(numbered) if markdown else ({}, numbered)
    participant = attributes.pop("participant", None) or PurePosixPath(source).stem
    context = _FileContext(source=source, participant=participant, attributes=attributes)
    turns = _turns(body, markdown)
    if _is_transcript(turns):
        yield from _transcript_evidence(turns, context)
        return
    for paragraph in _paragraphs(body, markdown):
        yield context.evidence(paragraph, participant, {})
