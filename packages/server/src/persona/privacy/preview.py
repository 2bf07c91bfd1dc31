"""The privacy preview: the experiment's evidence read as a run would read it, pseudonymised
as a run would (new pseudonyms are stored, so the run after it sends the same), and a few
records rendered exactly as a request carries them."""

from __future__ import annotations

from collections.abc import Sequence

from persona.errors import InvalidInputError
from persona.generation.aliases import alias_for
from persona.generation.prompt import render_evidence
from persona.privacy.schemas import PrivacyPreviewRecord, PrivacyPreviewRequest
from persona.schemas import Evidence


def chosen(evidence: Sequence[Evidence], request: PrivacyPreviewRequest) -> list[int]:
    """The positions of the records to show: the one asked for, else the first ``limit``."""
    if request.evidence_id is None:
        return list(range(min(request.limit, len(evidence))))
    for position, item in enumerate(evidence):
        if item.id == request.evidence_id:
            return [position]
    raise InvalidInputError(
        f"the experiment's sources hold no record {request.evidence_id!r}",
        location=["body", "evidence_id"],
    )


def preview_records(
    original: Sequence[Evidence], sent: Sequence[Evidence], positions: Sequence[int]
) -> list[PrivacyPreviewRecord]:
    return [
        PrivacyPreviewRecord(
            id=original[p].id,
            source=original[p].source,
            locator=original[p].locator,
            sent=render_evidence(sent[p], alias_for(n)),
        )
        for n, p in enumerate(positions, start=1)
    ]
