"""Check personas against a run's evidence: quotes found (and re-attributed when miscited),
statements without evidence marked, unknown ids dropped and counted.

A quote is looked for word for word (up to :func:`normalize`) in the evidence it cites, then
in all of the run's evidence (through an :class:`EvidenceIndex`), and failing that as a
near-verbatim version of some record's words. :func:`quote_spans` tells where a quote stands
in a record's original text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from persona.generation.evidence_index import EvidenceIndex, Window
from persona.generation.textnorm import mapped, needle, normalize
from persona.schemas import Evidence, Grounding, Insight, PersonaContent, Quote, TextSpan

__all__ = ["EvidenceIndex", "ground", "normalize", "quote_in_text", "quote_spans"]

MAX_FOUND_IDS = 3
"""Records a miscited quote is attributed to when several hold it (the first, in run order):
a short phrase may be in thousands, and citing them all would tell the reader nothing."""

INSIGHT_SECTIONS = ("summary", "goals", "pain_points", "behaviours")
"""The sections of cited lines: each is checked the same way."""


def quote_in_text(quote: str, text: str) -> bool:
    """True when ``quote`` appears in ``text`` up to normalisation (edge punctuation ignored)."""
    wanted = needle(quote)
    return bool(wanted) and wanted in normalize(text)


def ground(persona: PersonaContent, evidence: EvidenceIndex) -> PersonaContent:
    """Return ``persona`` checked against the run's ``evidence``.

    Quotes are verified, re-attributed when found in other records than they cite, or
    matched approximately; goals, pain points and behaviours citing no existing record are
    marked unsupported; unknown ids are dropped and counted in ``dropped_evidence_ids``;
    ``evidence_ids`` lists the persona's own ids, then every record its statements now cite;
    ``grounding`` holds the counts and the share of verified quotes.
    """
    dropped = 0
    quotes: list[Quote] = []
    for quote in persona.quotes:
        checked, lost = _check_quote(quote, evidence)
        quotes.append(checked)
        dropped += lost
    sections: dict[str, list[Insight]] = {}
    for section in INSIGHT_SECTIONS:
        sections[section], lost = _check_insights(getattr(persona, section), evidence.by_id)
        dropped += lost
    evidence_ids, lost = _known(persona.evidence_ids, evidence.by_id)
    dropped += lost
    insights = [item for section in INSIGHT_SECTIONS for item in sections[section]]
    _merge(evidence_ids, [*quotes, *insights])
    return persona.model_copy(
        update={
            "quotes": quotes,
            **sections,
            "evidence_ids": evidence_ids,
            "participants": _participants(evidence_ids, evidence.by_id),
            "grounding": _grounding(quotes, insights),
            "dropped_evidence_ids": dropped,
        }
    )


def _participants(evidence_ids: Iterable[str], by_id: Mapping[str, Evidence]) -> list[str]:
    """The distinct participants of the records cited, sorted."""
    return sorted({p for i in evidence_ids if (p := by_id[i].participant)})


def quote_spans(quote: Quote, text: str) -> list[TextSpan]:
    """Where ``quote`` stands in ``text``, one record's original text: every occurrence, left
    to right and not overlapping, as offsets into ``text``.

    An exact (or unmatched) quote is looked for up to normalisation; an occurrence never
    starts or ends inside what one character became (``ß`` is not a match for ``s``). An
    approximate quote gives the spans of its ``source_text``. Empty when it is not there.
    """
    if quote.match == "approximate" and quote.source_text:
        spans = _verbatim_spans(quote.source_text, text)
        return spans or _normalized_spans(needle(quote.source_text), text)
    return _normalized_spans(needle(quote.text), text)


# --------------------------------------------------------------------------- quotes


def _check_quote(quote: Quote, index: EvidenceIndex) -> tuple[Quote, int]:
    cited, dropped = _known(quote.evidence_ids, index.by_id)
    wanted = needle(quote.text)
    positions = [p for p in map(index.position, cited) if p is not None]
    if wanted and any(wanted in index.normalized(p) for p in positions):
        return Quote(text=quote.text, evidence_ids=cited, verified=True), dropped
    found = index.containing(wanted, MAX_FOUND_IDS) if wanted else []
    if found:
        ids = [index.records[p].id for p in found]
        return Quote(
            text=quote.text, evidence_ids=ids, verified=True, citation="corrected"
        ), dropped
    window = index.closest(wanted, positions) if wanted else None
    if window is None:
        return Quote(text=quote.text, evidence_ids=cited, verified=False, match="none"), dropped
    return _approximate(quote, index, window, cited), dropped


def _approximate(quote: Quote, index: EvidenceIndex, window: Window, cited: list[str]) -> Quote:
    record = index.records[window.position]
    text = mapped(record.text)  # the same normalised text the window is in
    start, end = text.original_span(window.start, window.end)
    return Quote(
        text=quote.text,
        evidence_ids=[record.id],
        verified=False,
        citation="given" if record.id in cited else "corrected",
        match="approximate",
        source_text=record.text[start:end],
    )


def _verbatim_spans(part: str, text: str) -> list[TextSpan]:
    spans: list[TextSpan] = []
    start = text.find(part)
    while start >= 0 and part:
        spans.append(TextSpan(start=start, end=start + len(part)))
        start = text.find(part, start + len(part))
    return spans


def _normalized_spans(wanted: str, text: str) -> list[TextSpan]:
    if not wanted:
        return []
    folded = mapped(text)
    spans: list[TextSpan] = []
    start = folded.text.find(wanted)
    while start >= 0:
        end = start + len(wanted)
        if folded.whole_characters(start, end):
            first, last = folded.original_span(start, end)
            spans.append(TextSpan(start=first, end=last))
            start = folded.text.find(wanted, end)
        else:
            start = folded.text.find(wanted, start + 1)
    return spans


# --------------------------------------------------------------------------- the rest


def _known(ids: Iterable[str], evidence: Mapping[str, Evidence]) -> tuple[list[str], int]:
    kept: list[str] = []
    seen: set[str] = set()  # a persona may cite tens of thousands of ids: no list scans
    dropped = 0
    for evidence_id in ids:
        if evidence_id in evidence:
            if evidence_id not in seen:
                seen.add(evidence_id)
                kept.append(evidence_id)
        else:
            dropped += 1
    return kept, dropped


def _check_insights(
    items: list[Insight], evidence: Mapping[str, Evidence]
) -> tuple[list[Insight], int]:
    checked: list[Insight] = []
    dropped = 0
    for item in items:
        ids, lost = _known(item.evidence_ids, evidence)
        dropped += lost
        checked.append(Insight(text=item.text, evidence_ids=ids, supported=bool(ids)))
    return checked, dropped


def _merge(evidence_ids: list[str], statements: Iterable[Quote | Insight]) -> None:
    """Append to ``evidence_ids`` every id the statements cite that it lacks, in order."""
    listed = set(evidence_ids)
    for statement in statements:
        for evidence_id in statement.evidence_ids:
            if evidence_id not in listed:
                listed.add(evidence_id)
                evidence_ids.append(evidence_id)


def _grounding(quotes: list[Quote], insights: list[Insight]) -> Grounding:
    verified = sum(q.verified for q in quotes)
    return Grounding(
        quotes_verified=verified,
        quotes_corrected=sum(q.verified and q.citation == "corrected" for q in quotes),
        quotes_approximate=sum(q.match == "approximate" for q in quotes),
        quotes_unverified=sum(q.match == "none" for q in quotes),
        insights_supported=sum(i.supported for i in insights),
        insights_unsupported=sum(not i.supported for i in insights),
        score=verified / len(quotes) if quotes else 1.0,
    )
