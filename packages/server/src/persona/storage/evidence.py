"""Evidence snapshots: the records each run read, stored once per distinct content.

A snapshot's id is a digest of its records (id, source, locator, participant, text,
attributes, in order), so runs over the same bytes share one, and a source edited later
makes a new one: the evidence of a run that has read its sources never changes. Runs point
at their snapshot (``runs.evidence_set_id``); deleting an experiment deletes the snapshots no
other run points at. Every function here takes the connection of its caller's transaction.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from persona.schemas import Evidence
from persona.storage.models import EvidenceRecordRow, EvidenceSetRow, RunRow

INSERT_CHUNK = 1_000
"""Records inserted per statement: memory stays bounded whatever the snapshot's size."""
MAX_ID_FILTER = 500
"""Evidence ids one query looks up at once (SQLite caps the parameters of a statement)."""

_SETS = cast(Table, EvidenceSetRow.__table__)
_RECORDS = cast(Table, EvidenceRecordRow.__table__)
_RUNS = cast(Table, RunRow.__table__)
_R = _RECORDS.c


@dataclass(frozen=True)
class EvidenceFilter:
    """Which records of a snapshot to list; every given condition must hold."""

    ids: Sequence[str] = ()
    participant: str | None = None
    source: str | None = None
    text: str | None = None
    """A case-insensitive substring of the record's text."""


NO_FILTER = EvidenceFilter()
"""Every record of the snapshot."""


def snapshot_exists(connection: Connection, set_id: str) -> bool:
    found = connection.execute(select(_SETS.c.id).where(_SETS.c.id == set_id)).first()
    return found is not None


def store_snapshot(
    connection: Connection,
    set_id: str,
    evidence: Iterable[Evidence],
    now: datetime,
    *,
    count: int | None = None,
) -> bool:
    """Store the snapshot unless it exists; True when this call stored it. ``evidence`` is
    read once, in chunks; ``count`` is its length when it is not a sequence."""
    if snapshot_exists(connection, set_id):
        return False
    # Another process may store the same snapshot meanwhile (on PostgreSQL, workers write at
    # once): the set row decides which one writes the records, the other waits and skips.
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    claimed = connection.execute(
        dialect_insert(_SETS)
        .on_conflict_do_nothing(index_elements=[_SETS.c.id])
        .returning(_SETS.c.id),
        {"id": set_id, "records": _count(evidence, count), "created_at": now},
    ).first()
    if claimed is None:
        return False
    rows = (_record_values(set_id, position, item) for position, item in enumerate(evidence))
    for chunk in _chunks(rows, INSERT_CHUNK):
        connection.execute(insert(_RECORDS), chunk)
    return True


def _count(evidence: Iterable[Evidence], count: int | None) -> int:
    if count is not None:
        return count
    if isinstance(evidence, Sequence):
        return len(evidence)
    raise TypeError("store_snapshot needs the count of records that are not a sequence")


def link_run(connection: Connection, run_id: str, attempt: int, set_id: str) -> bool:
    """Point the run's current attempt at its snapshot; False when the attempt is stale."""
    result = connection.execute(
        update(_RUNS)
        .where(_RUNS.c.id == run_id, _RUNS.c.status == "running", _RUNS.c.attempts == attempt)
        .values(evidence_set_id=set_id)
    )
    return int(result.rowcount) == 1


def delete_unused(connection: Connection, set_ids: Iterable[str]) -> None:
    """Delete those of these snapshots that no run points at any more."""
    unused = ~exists().where(_RUNS.c.evidence_set_id == _SETS.c.id)
    for chunk in _chunks(iter(sorted(set(set_ids))), MAX_ID_FILTER):
        doomed = list(connection.scalars(select(_SETS.c.id).where(_SETS.c.id.in_(chunk), unused)))
        if doomed:
            # Records first: the cascade does not depend on the database honouring it.
            connection.execute(delete(_RECORDS).where(_R.set_id.in_(doomed)))
            connection.execute(delete(_SETS).where(_SETS.c.id.in_(doomed)))


def list_records(
    connection: Connection,
    set_id: str,
    where: EvidenceFilter,
    *,
    after: int | None,
    limit: int,
) -> list[tuple[int, Evidence]]:
    """Up to ``limit`` records of the snapshot after position ``after``, in source order,
    each with its position."""
    stmt = select(_RECORDS).where(_R.set_id == set_id)
    if after is not None:
        stmt = stmt.where(_R.position > after)
    if where.ids:
        stmt = stmt.where(_R.evidence_id.in_(bindparam("b_ids", expanding=True)))
    if where.participant is not None:
        stmt = stmt.where(_R.participant == where.participant)
    if where.source is not None:
        stmt = stmt.where(_R.source == where.source)
    if where.text:
        stmt = stmt.where(func.lower(_R.text).contains(where.text.lower(), autoescape=True))
    stmt = stmt.order_by(_R.position).limit(limit)
    params = {"b_ids": list(where.ids)} if where.ids else {}
    return [(row.position, _evidence(row)) for row in connection.execute(stmt, params)]


def records_by_id(connection: Connection, set_id: str, ids: Sequence[str]) -> dict[str, Evidence]:
    """The snapshot's records with these ids (when an id occurs twice, the later record)."""
    found: dict[str, Evidence] = {}
    for chunk in _chunks(iter(ids), MAX_ID_FILTER):
        rows = connection.execute(
            select(_RECORDS)
            .where(_R.set_id == set_id, _R.evidence_id.in_(chunk))
            .order_by(_R.position)
        )
        found.update((row.evidence_id, _evidence(row)) for row in rows)
    return found


def _record_values(set_id: str, position: int, item: Evidence) -> dict[str, Any]:
    return {
        "set_id": set_id,
        "position": position,
        "evidence_id": item.id,
        "source": item.source,
        "locator": item.locator,
        "participant": item.participant,
        "text": item.text,
        "attributes": item.attributes,
    }


def _evidence(row: Any) -> Evidence:
    return Evidence(
        id=row.evidence_id,
        source=row.source,
        locator=row.locator,
        participant=row.participant,
        text=row.text,
        attributes=row.attributes,
    )


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk
