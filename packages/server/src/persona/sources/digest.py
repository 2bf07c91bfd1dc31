"""The digest of the evidence a read gave: the id of its snapshot.

A SHA-256 over the records' content (id, source, locator, participant, text, attributes), in
order, so that runs over the same bytes share one snapshot and a source edited later gives a
new one. Kept apart from the storage that uses it as a key, so that a process reading sources
(the local synthesizer's child) can compute it without loading the database layer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from persona.errors import SourceChangedError
from persona.schemas import Evidence

_FIELD_SEPARATOR = "\x1f"
_RECORD_SEPARATOR = "\x1e"


def evidence_digest(evidence: Iterable[Evidence]) -> str:
    """The snapshot id of these records: a SHA-256 over their content, in order."""
    digest = hashlib.sha256()
    for item in evidence:
        _update(digest, item)
    return digest.hexdigest()


def checked_against(evidence: Iterable[Evidence], set_id: str) -> Iterator[Evidence]:
    """The records, then an error if their digest is not ``set_id``: a second read of sources
    that changed since the first must not be stored under the first read's snapshot id."""
    digest = hashlib.sha256()
    for item in evidence:
        _update(digest, item)
        yield item
    if digest.hexdigest() != set_id:
        raise SourceChangedError(
            "the data sources changed while the run read them; start the run again"
        )


def _update(digest: Any, item: Evidence) -> None:
    fields = [item.id, item.source, item.locator, item.participant or "", item.text]
    fields += [f"{key}={value}" for key, value in sorted(item.attributes.items())]
    digest.update((_FIELD_SEPARATOR.join(fields) + _RECORD_SEPARATOR).encode())
