"""Reads of run events for streams: the latest numbers, new events, an experiment's backlog."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from persona.storage import queries
from persona.storage.events import StoredRunEvent, event_heads, events_after
from persona.storage.rows import StoreBase


class RunEventStore(StoreBase):
    """Reads of run events for streams: the latest numbers, and an experiment's backlog."""

    def event_heads(
        self, run_ids: Collection[str], experiment_ids: Collection[str] = ()
    ) -> dict[str, int]:
        with self.db.read() as session:
            return event_heads(session.connection(), run_ids, experiment_ids)

    def new_events(self, positions: Mapping[str, int]) -> list[StoredRunEvent]:
        """Every run's events after its position in ``positions`` (run id → number)."""
        with self.db.read() as session:
            connection = session.connection()
            found: list[StoredRunEvent] = []
            for run_id, after in positions.items():
                found += events_after(connection, run_id, after, limit=100_000)
            return found

    def run_event(self, run_id: str, seq: int) -> StoredRunEvent | None:
        with self.db.read() as session:
            row = (
                session.connection()
                .execute(queries.RUN_EVENT_BY_KEY, {"b_run": run_id, "b_seq": seq})
                .first()
            )
            return None if row is None else StoredRunEvent.model_validate(row._asdict())

    def experiment_events_after(
        self, experiment_id: str, start: StoredRunEvent | None, limit: int = 1000
    ) -> list[StoredRunEvent]:
        """The experiment's events after ``start`` (None: from the first), in the order
        (time, run, number)."""
        floor = datetime.min.replace(tzinfo=UTC)
        params = {
            "b_experiment": experiment_id,
            "b_time": start.created_at if start else floor,
            "b_run": start.run_id if start else "",
            "b_after": start.seq if start else 0,
            "b_limit": limit,
        }
        with self.db.read() as session:
            rows = session.connection().execute(queries.EXPERIMENT_EVENTS_FROM, params)
            return [StoredRunEvent.model_validate(row._asdict()) for row in rows]
