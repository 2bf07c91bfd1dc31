"""A run's evidence as a provider not on this machine may see it, and the way back.

``PrivacyView.of`` pseudonymises every record's participant, attribute values and text, keeping
for each text where every pseudonym stands and what it replaced. ``restore`` turns the personas
the model wrote back into the participants' words: a quote found in the text the model saw is
replaced by the characters of the original text at the same place, so it is verified exactly when
it is verbatim in the original source; every other line has its pseudonyms replaced by the
values they stand for. The personas are then grounded again, in the original evidence.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from persona.generation.grounding import EvidenceIndex, ground, quote_spans
from persona.privacy.detectors import KINDS, Detector, Kind, greeted_names
from persona.privacy.pseudonyms import Pseudonym, Pseudonyms, Restorer
from persona.schemas import (
    Evidence,
    Insight,
    PersonaContent,
    PrivacyKindCount,
    PrivacyReport,
    Quote,
)
from persona.sources.working_set import read_working_set


@dataclass(frozen=True, slots=True)
class Masked:
    """One text with its personal data replaced, and where each replacement stands:
    ``starts[i]``/``ends[i]`` in the masked text, ``originals[i]`` the span it replaced."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    originals: tuple[tuple[int, int], ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that characters ``start`` to ``end`` of the masked
        text stand for: a span cutting a pseudonym takes all of what it replaced."""
        return self._original(start, at_end=False), self._original(end, at_end=True)

    def _original(self, position: int, *, at_end: bool) -> int:
        i = bisect.bisect_right(self.starts, position - 1 if at_end else position) - 1
        if i < 0:
            return position
        if position < self.ends[i] or (at_end and position == self.ends[i]):
            return self.originals[i][1] if at_end else self.originals[i][0]
        return position + self.originals[i][1] - self.ends[i]


@dataclass
class _Tally:
    replaced: Counter[Kind] = field(default_factory=Counter)
    records: Counter[Kind] = field(default_factory=Counter)
    affected: int = 0

    def count(self, kinds: list[Kind]) -> None:
        """One record's replacements, one kind per replacement."""
        self.affected += 1
        if len(kinds) == 1:  # the common case, without building a set
            self.replaced[kinds[0]] += 1
            self.records[kinds[0]] += 1
            return
        self.replaced.update(kinds)
        self.records.update(set(kinds))

    def report(self, records: int, reason: str, values: Counter[Kind]) -> PrivacyReport:
        kinds = [
            PrivacyKindCount(
                kind=kind,
                replaced=self.replaced[kind],
                records=self.records[kind],
                values=values[kind],
            )
            for kind in KINDS
            if self.replaced[kind]
        ]
        return PrivacyReport(
            pseudonymized=True,
            reason=reason,
            records=records,
            records_affected=self.affected,
            kinds=kinds,
        )


class _Masker:
    """Pseudonymises the records of one run with one detector and one set of pseudonyms."""

    def __init__(self, detector: Detector, pseudonyms: Pseudonyms) -> None:
        self.detector = detector
        self.pseudonyms = pseudonyms
        self._sent: dict[tuple[Kind, str], str] = {}
        """(kind, original) → pseudonym, of every value this run sends."""
        self._values: dict[str, tuple[str, list[Kind]]] = {}
        self.tally = _Tally()

    @property
    def sent(self) -> dict[str, str]:
        """pseudonym → original, of every pseudonym this run sends."""
        return {pseudonym: original for (_, original), pseudonym in self._sent.items()}

    def values(self) -> Counter[Kind]:
        return Counter(kind for kind, _ in self._sent)

    def _pseudonym(self, kind: Kind, original: str, kinds: list[Kind]) -> str:
        kinds.append(kind)
        pseudonym = self._sent.get((kind, original))
        if pseudonym is None:
            pseudonym = self._sent[(kind, original)] = self.pseudonyms.of(kind, original)
        return pseudonym

    def _value(self, value: str, kinds: list[Kind]) -> str:
        """An attribute's value pseudonymised: segments, roles and plans repeat from record to
        record, so each distinct value is looked at once."""
        known = self._values.get(value)
        if known is None:
            found: list[Kind] = []
            masked = self.mask(value, found)
            known = self._values[value] = (value if masked is None else masked.text, found)
        kinds += known[1]
        return known[0]

    def mask(self, text: str, kinds: list[Kind]) -> Masked | None:
        found = self.detector.find(text)
        if not found:
            return None
        parts: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        originals: list[tuple[int, int]] = []
        position = length = 0
        for item in found:
            parts.append(text[position : item.start])
            length += item.start - position
            pseudonym = self._pseudonym(item.kind, text[item.start : item.end], kinds)
            starts.append(length)
            parts.append(pseudonym)
            length += len(pseudonym)
            ends.append(length)
            originals.append((item.start, item.end))
            position = item.end
        parts.append(text[position:])
        return Masked("".join(parts), tuple(starts), tuple(ends), tuple(originals))

    def record(self, item: Evidence) -> tuple[Evidence, Masked | None]:
        kinds: list[Kind] = []
        changes: dict[str, Any] = {}
        participant = item.participant
        if participant and (kind := self.detector.names.get(participant)):
            changes["participant"] = self._pseudonym(kind, participant, kinds)
        if item.attributes:
            attributes = {key: self._value(value, kinds) for key, value in item.attributes.items()}
            if attributes != item.attributes:
                changes["attributes"] = attributes
        masked = self.mask(item.text, kinds)
        if not kinds:
            return item, None
        self.tally.count(kinds)
        if masked is not None:
            changes["text"] = masked.text
        return _replaced(item, changes), masked


def _replaced(item: Evidence, changes: dict[str, Any]) -> Evidence:
    """``item`` with ``changes``, like ``model_copy(update=...)`` at a third of its cost (a run
    of 100,000 records makes 100,000 of them): every field is set, as ``make_evidence`` sets
    them, so the copy shares its fields-set and has no extra or private values."""
    copy = object.__new__(Evidence)
    object.__setattr__(copy, "__dict__", {**item.__dict__, **changes})
    object.__setattr__(copy, "__pydantic_fields_set__", item.__pydantic_fields_set__)
    object.__setattr__(copy, "__pydantic_extra__", None)
    object.__setattr__(copy, "__pydantic_private__", None)
    return copy


def listed_names(
    evidence: Iterable[Evidence], names: Iterable[str], *, keep: Iterable[str] = ()
) -> dict[str, Kind]:
    """The names to look for in a run's evidence: its participants (ids, names and speakers),
    the experiment's list, and names seen after a greeting or before a signature."""
    kept = {k.casefold() for k in keep}
    listed: dict[str, Kind] = {}
    greeted: set[str] = set()
    values: set[str] = set()
    for item in evidence:
        if item.participant:
            listed[item.participant] = "participant"
        greeted.update(greeted_names(item.text))
        values.update(item.attributes.values())
    for value in values:  # attributes repeat: each distinct value once
        greeted.update(greeted_names(value))
    for name in [*names, *greeted]:
        name = name.strip()
        if name and name.casefold() not in kept:
            listed.setdefault(name, "name")
    return listed


@dataclass
class PrivacyView:
    """The pseudonymised evidence of one run, its report, and the way back."""

    original: Sequence[Evidence]
    evidence: list[Evidence]
    """What the provider is given: the same ids, pseudonymised participant, attributes, text."""
    masks: dict[str, Masked]
    """Of each record whose text changed, by id."""
    restorer: Restorer
    report: PrivacyReport
    added: list[Pseudonym] = field(default_factory=list)
    """Pseudonyms new to the experiment, to be stored with it."""

    @classmethod
    def of(
        cls,
        evidence: Sequence[Evidence],
        detector: Detector,
        pseudonyms: Pseudonyms,
        *,
        reason: str,
    ) -> PrivacyView:
        masker = _Masker(detector, pseudonyms)
        # As large as the evidence read, and as free of cycles: created as a read is (see
        # persona.sources.working_set), without the collector's passes over it.
        pairs = read_working_set(masker.record(item) for item in evidence)
        sent = [changed for changed, _ in pairs]
        masks = {
            item.id: masked for item, (_, masked) in zip(evidence, pairs, strict=True) if masked
        }
        return cls(
            original=evidence,
            evidence=sent,
            masks=masks,
            restorer=Restorer(masker.sent),
            report=masker.tally.report(len(evidence), reason, masker.values()),
            added=list(pseudonyms.added),
        )

    # ------------------------------------------------------------------ the way back

    def restore(self, personas: Sequence[PersonaContent]) -> list[PersonaContent]:
        """The personas in the participants' words, grounded in the original evidence."""
        index = EvidenceIndex.of(self.original)
        restored = []
        for persona in personas:
            back = self._restore(persona)
            grounded = ground(back, index)
            dropped = persona.dropped_evidence_ids + grounded.dropped_evidence_ids
            restored.append(grounded.model_copy(update={"dropped_evidence_ids": dropped}))
        return restored

    def _restore(self, persona: PersonaContent) -> PersonaContent:
        words = self.restorer
        sections = {
            section: [
                Insight(text=words(i.text), evidence_ids=i.evidence_ids, supported=i.supported)
                for i in getattr(persona, section)
            ]
            for section in ("summary", "goals", "pain_points", "behaviours")
        }
        return persona.model_copy(
            update={
                "name": words(persona.name),
                "title": words(persona.title),
                "demographics": {words(k): words(v) for k, v in persona.demographics.items()},
                "quotes": [self._quote(q) for q in persona.quotes],
                "participants": [words(p) for p in persona.participants],
                **sections,
            }
        )

    def _quote(self, quote: Quote) -> Quote:
        """``quote`` in the original words: where it stands in a record the model saw, the
        original characters at that place; else with its pseudonyms replaced."""
        by_id = EvidenceIndex.of(self.original).by_id
        for evidence_id in quote.evidence_ids:
            masked = self.masks.get(evidence_id)
            if masked is None:
                continue
            spans = quote_spans(quote, masked.text)
            if spans:
                start, end = masked.original_span(spans[0].start, spans[0].end)
                original = by_id[evidence_id].text[start:end]
                if quote.match == "approximate":
                    return quote.model_copy(
                        update={"text": self.restorer(quote.text), "source_text": original}
                    )
                return quote.model_copy(update={"text": original})
        source_text = quote.source_text and self.restorer(quote.source_text)
        return quote.model_copy(
            update={"text": self.restorer(quote.text), "source_text": source_text}
        )
