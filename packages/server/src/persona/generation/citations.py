"""Which statements of a persona cite an evidence record, and where its quotes stand in it."""

from __future__ import annotations

from collections.abc import Sequence

from persona.generation.grounding import INSIGHT_SECTIONS, quote_spans
from persona.schemas import (
    CitedEvidence,
    Evidence,
    EvidenceCitation,
    Insight,
    PersonaContent,
    Quote,
)


def cited_evidence(persona: PersonaContent, records: Sequence[Evidence]) -> list[CitedEvidence]:
    """``records`` (those the persona cites) with the statements citing each, in their order;
    a quote's citation carries the span(s) of its words in the record's text."""
    citations: dict[str, list[EvidenceCitation]] = {record.id: [] for record in records}
    texts = {record.id: record.text for record in records}
    for section in INSIGHT_SECTIONS:
        for index, insight in enumerate(getattr(persona, section)):
            for evidence_id in dict.fromkeys(insight.evidence_ids):
                if evidence_id in citations:
                    citations[evidence_id].append(
                        EvidenceCitation(section=section, index=index, text=insight.text)
                    )
    for index, quote in enumerate(persona.quotes):
        for evidence_id in dict.fromkeys(quote.evidence_ids):
            if evidence_id in citations:
                spans = quote_spans(quote, texts[evidence_id])
                citations[evidence_id].append(
                    EvidenceCitation(section="quotes", index=index, text=quote.text, spans=spans)
                )
    return [
        CitedEvidence(**record.model_dump(), cited_by=citations[record.id]) for record in records
    ]


def statement_evidence_ids(persona: PersonaContent) -> list[str]:
    """The ids cited by its summary, goals, pain points, behaviours and quotes, once each, in order
    (a persona's ``evidence_ids`` may also hold records backing it only as a whole)."""
    statements: list[Quote | Insight] = [
        *persona.quotes,
        *persona.summary,
        *persona.goals,
        *persona.pain_points,
        *persona.behaviours,
    ]
    return list(dict.fromkeys(i for statement in statements for i in statement.evidence_ids))
