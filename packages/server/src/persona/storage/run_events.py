"""Reads of run events for streams: the latest numbers, new events, an experiment's backlog."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from persona.schemas import FINISHED_RUN_STATUSES
from persona.storage import queries
from persona.storage.events import StoredRunEvent, event_heads
from persona.storage.rows import StoreBase


class StreamStart(NamedTuple):
    """What a stream about to open reads: its run's events after ``after``."""

    run_id: str
    experiment_id: str | None
    after: int


class RunEventStore(StoreBase):
    """Reads of run events for streams: the latest numbers, and an experiment's backlog."""

    def event_heads(
        self, run_ids: Collection[str], experiment_ids: Collection[str] = ()
    ) -> dict[str, int]:
        with self.db.read() as session:
            return event_heads(session.connection(), run_ids, experiment_ids)

    def new_events(self, positions: Mapping[str, int]) -> list[StoredRunEvent]:
        """Every run's events after its position in ``positions`` (run id → number), in
        one statement: a run has tens of events, so reading its older ones costs less than
        a statement per run."""
        with self.db.read() as session:
            rows = session.connection().execute(
                queries.RUN_EVENTS_OF_RUNS,
                {"b_runs": list(positions), "b_after": min(positions.values())},
            )
            events = (StoredRunEvent.model_validate(row._asdict()) for row in rows)
            return [event for event in events if event.seq > positions[event.run_id]]

    def stream_starts(
        self, requests: Sequence[StreamStart], limit: int
    ) -> list[tuple[bool, list[StoredRunEvent]] | None]:
        """For each request, in one read and in this order: whether its run has finished,
        then its first ``limit`` events after ``after``; None for a run that is not there
        (or not the request's experiment). Two statements for all the requests: streams
        opened together are read together."""
        run_ids = list({request.run_id for request in requests})
        with self.db.read() as session:
            connection = session.connection()
            runs = {
                row.id: row for row in connection.execute(queries.RUN_STATUSES, {"b_runs": run_ids})
            }
            lowest = min((request.after for request in requests), default=0)
            rows = connection.execute(
                queries.RUN_EVENTS_OF_RUNS, {"b_runs": list(runs), "b_after": lowest}
            )
            events: dict[str, list[StoredRunEvent]] = {}
            for row in rows:
                events.setdefault(row.run_id, []).append(
                    StoredRunEvent.model_validate(row._asdict())
                )
        results: list[tuple[bool, list[StoredRunEvent]] | None] = []
        for request in requests:
            run = runs.get(request.run_id)
            if run is None or request.experiment_id not in (None, run.experiment_id):
                results.append(None)
                continue
            after = [e for e in events.get(request.run_id, []) if e.seq > request.after]
            results.append((run.status in FINISHED_RUN_STATUSES, after[:limit]))
        return results

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
