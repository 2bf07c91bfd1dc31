"""The evidence runs read: storing snapshots, linking runs to them, reading records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from persona.errors import NotFoundError
from persona.ids import utcnow
from persona.schemas import Evidence, EvidencePage, Persona
from persona.storage import evidence as snapshots
from persona.storage import queries
from persona.storage.cursor import PositionCursor
from persona.storage.evidence import NO_FILTER, EvidenceFilter
from persona.storage.models import PersonaRow
from persona.storage.rows import StoreBase, _experiment_row, _persona, _run_row, check_limit


class EvidenceStore(StoreBase):
    """The evidence runs read: storing snapshots, linking runs to them, reading records."""

    def store_evidence(self, set_id: str, evidence: Sequence[Evidence]) -> None:
        """Store a run's evidence snapshot ahead of linking runs to it, in a transaction of
        its own (a large one takes a while); nothing is written when it exists."""
        with self.db.read_connection() as connection:
            if snapshots.snapshot_exists(connection, set_id):
                return
        with self.db.write_connection() as connection:
            snapshots.store_snapshot(connection, set_id, evidence, utcnow())

    def attach_evidence(
        self,
        run_id: str,
        attempt: int,
        set_id: str,
        evidence: Iterable[Evidence],
        *,
        count: int | None = None,
    ) -> bool:
        """Point the run's attempt at its snapshot, storing the snapshot if it is missing
        (never stored, or deleted with another experiment since ``store_evidence``); False
        when stale. ``evidence`` is only read when the snapshot is missing; ``count`` is its
        length when it is not a sequence."""
        with self.db.write_connection() as connection:
            snapshots.store_snapshot(connection, set_id, evidence, utcnow(), count=count)
            return snapshots.link_run(connection, run_id, attempt, set_id)

    def list_run_evidence(
        self,
        experiment_id: str,
        run_id: str,
        where: EvidenceFilter = NO_FILTER,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> EvidencePage:
        """The evidence the run read, in source order; empty until it has read its sources."""
        check_limit(limit)
        after = None if cursor is None else PositionCursor.decode(cursor, kind="evidence").position
        with self.db.read() as session:
            set_id = _run_row(session, run_id, experiment_id=experiment_id).evidence_set_id
            if set_id is None:
                return EvidencePage(items=[])
            found = snapshots.list_records(
                session.connection(), set_id, where, after=after, limit=limit + 1
            )
        next_cursor = None
        if len(found) > limit:
            next_cursor = PositionCursor("evidence", found[limit - 1][0]).encode()
        return EvidencePage(items=[item for _, item in found[:limit]], next_cursor=next_cursor)

    def persona_evidence(
        self, persona_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[Persona, list[Evidence], str | None]:
        """The persona, a page of the records it cites (in the order of its ``evidence_ids``)
        and the next page's cursor. Records its run's snapshot lacks are left out: runs from
        before snapshots existed have none."""
        check_limit(limit)
        start = 0
        if cursor is not None:
            start = PositionCursor.decode(cursor, kind="persona-evidence").position
        with self.db.read() as session:
            row = session.get(PersonaRow, persona_id)
            if row is None:
                raise NotFoundError("persona", persona_id)
            persona = _persona(row)
        records = self.run_records(persona.run_id, persona.evidence_ids[start : start + limit])
        end = start + limit
        next_cursor = None
        if end < len(persona.evidence_ids):
            next_cursor = PositionCursor("persona-evidence", end).encode()
        return persona, records, next_cursor

    def run_records(self, run_id: str, ids: Sequence[str]) -> list[Evidence]:
        """The records with these ids in the run's snapshot, in the order of ``ids``."""
        with self.db.read() as session:
            set_id = session.scalars(queries.RUN_SNAPSHOT, {"b_run": run_id}).first()
            if set_id is None:
                return []
            found = snapshots.records_by_id(session.connection(), set_id, ids)
        return [found[i] for i in ids if i in found]

    def latest_succeeded_run(self, experiment_id: str) -> str | None:
        """The id of the experiment's newest succeeded run, if any."""
        with self.db.read() as session:
            _experiment_row(session, experiment_id)
            return session.scalars(
                queries.LATEST_SUCCEEDED_RUN, {"b_experiment": experiment_id}
            ).first()
