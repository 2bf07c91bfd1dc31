"""A page of a run's evidence, each record with the persona lines that cite it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from persona.generation.citations import cited_evidence, statement_evidence_ids
from persona.schemas import Evidence, EvidenceCitation, Persona, TextSpan


@dataclass(frozen=True)
class EvidenceItem:
    record: Evidence
    citations: list[tuple[Persona, EvidenceCitation]]

    @property
    def spans(self) -> list[TextSpan]:
        return [span for _, citation in self.citations for span in citation.spans]


def evidence_items(records: Sequence[Evidence], personas: Sequence[Persona]) -> list[EvidenceItem]:
    """``records`` in their order, with every line of ``personas`` citing each (and, for a
    quote, where its words stand in the record)."""
    citations: dict[str, list[tuple[Persona, EvidenceCitation]]] = {r.id: [] for r in records}
    for persona in personas:
        cited_ids = set(statement_evidence_ids(persona))
        cited = [record for record in records if record.id in cited_ids]
        for record in cited_evidence(persona, cited):
            citations[record.id].extend((persona, citation) for citation in record.cited_by)
    return [EvidenceItem(record=record, citations=citations[record.id]) for record in records]
