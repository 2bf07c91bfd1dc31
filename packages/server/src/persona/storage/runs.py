"""Runs: start, read, cancel, and every transition of an attempt, guarded by its number."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from persona.errors import ConflictError, NotFoundError
from persona.ids import new_id, utcnow
from persona.schemas import (
    ACTIVE_RUN_STATUSES,
    Grounding,
    PersonaContent,
    ResolvedConfig,
    Run,
    RunDetail,
    RunError,
    RunPage,
    RunStatus,
    Usage,
)
from persona.storage import queries
from persona.storage.events import StoredRunEvent, events_after, record_event
from persona.storage.models import IdempotencyRow, RunRow
from persona.storage.rows import (
    ClaimedRun,
    RunSpend,
    StoreBase,
    _after_cursor,
    _check_hash,
    _experiment_row,
    _next_cursor,
    _persona,
    _persona_values,
    _requeue_or_fail,
    _rowcount,
    _run,
    _run_detail,
    _run_row,
    _stored_persona,
    _stored_run,
    _touch,
    _update_returning_run,
    check_limit,
)
from persona.storage.spend import check_room


class RunStore(StoreBase):
    """Runs: start, read, cancel, and every transition of an attempt, guarded by its number."""

    def find_idempotent_run(self, experiment_id: str, key: str) -> tuple[str, Run] | None:
        """The request hash and run recorded under an idempotency key, if any."""
        with self.db.read() as session:
            found = session.get(IdempotencyRow, (experiment_id, key))
            if found is None:
                return None
            return found.request_hash, self._runs(session, [_run_row(session, found.run_id)])[0]

    def create_run(
        self,
        experiment_id: str,
        config: ResolvedConfig,
        *,
        idempotency: tuple[str, str] | None = None,
        spend: RunSpend | None = None,
        key_id: str | None = None,
    ) -> tuple[Run, bool]:
        """Insert a queued run. With ``idempotency`` = (key, request hash), a key seen before
        returns (the earlier run, False), or raises IdempotencyConflictError on another hash.
        ``key_id``: the API key that started it, whose spend the run's cost counts in."""
        try:
            return self._insert_run(experiment_id, config, idempotency, spend, key_id)
        except IntegrityError:
            batch = self.db.open_batch
            if idempotency is None or (batch is not None and batch.as_one):
                # A batch run as one writes again, each write in a savepoint of its own.
                raise
            # Another process recorded the same key between our check and our insert.
            return self._replay(experiment_id, *idempotency)

    def _insert_run(
        self,
        experiment_id: str,
        config: ResolvedConfig,
        idempotency: tuple[str, str] | None,
        spend: RunSpend | None,
        key_id: str | None,
    ) -> tuple[Run, bool]:
        now = utcnow()
        values: dict[str, Any] = {
            "id": new_id("run"),
            "experiment_id": experiment_id,
            "status": "queued",
            "config": config.model_dump(mode="json"),
            "progress": 0.0,
            "stage": "queued",
            "attempts": 0,
            "created_at": now,
            "usage": Usage().model_dump(mode="json"),
            "warnings": [],
            "spend_cap_usd": spend.cap_usd if spend else None,
            "spend_reserved_usd": spend.reserved_usd if spend else None,
            "key_id": key_id,
        }
        with self.db.write_connection() as connection:
            if (
                connection.execute(
                    queries.EXPERIMENT_EXISTS, {"b_experiment": experiment_id}
                ).first()
                is None
            ):
                raise NotFoundError("experiment", experiment_id)
            if idempotency is not None:
                key, request_hash = idempotency
                found = connection.execute(
                    queries.IDEMPOTENCY_KEY, {"b_experiment": experiment_id, "b_key": key}
                ).first()
                if found is not None:
                    _check_hash(key, found.request_hash, request_hash)
                    return _stored_run(connection, found.run_id), False
            if spend is not None:
                check_room(connection, experiment_id, spend)
            connection.execute(queries.INSERT_RUN, values)
            record_event(connection, values["id"], experiment_id, "run.queued", now)
            if idempotency is not None:
                connection.execute(
                    queries.INSERT_IDEMPOTENCY_KEY,
                    {
                        "experiment_id": experiment_id,
                        "key": idempotency[0],
                        "request_hash": idempotency[1],
                        "run_id": values["id"],
                        "created_at": now,
                    },
                )
            self._touch_experiment(connection, experiment_id, now)
        return _run(RunRow(**values), []), True

    def _replay(self, experiment_id: str, key: str, request_hash: str) -> tuple[Run, bool]:
        found = self.find_idempotent_run(experiment_id, key)
        if found is None:  # pragma: no cover - the key's run was deleted in between
            raise ConflictError(f"idempotency key {key!r} is being used by another request")
        _check_hash(key, found[0], request_hash)
        return found[1], False

    def get_run(self, experiment_id: str, run_id: str) -> RunDetail:
        """The run with its personas (empty unless it succeeded)."""
        with self.db.read_connection() as connection:
            row = connection.execute(queries.RUN_BY_ID, {"b_run": run_id}).one_or_none()
            if row is None or row.experiment_id != experiment_id:
                raise NotFoundError("run", run_id)
            personas = []
            if row.status == "succeeded":
                personas = list(connection.execute(queries.RUN_PERSONAS, {"b_run": run_id}))
        return _run_detail(row, [_persona(p) for p in personas])

    def experiment_of_run(self, run_id: str) -> str:
        """The id of the experiment a run belongs to; NotFoundError for an unknown run."""
        with self.db.read_connection() as connection:
            row = connection.execute(queries.RUN_BY_ID, {"b_run": run_id}).one_or_none()
        if row is None:
            raise NotFoundError("run", run_id)
        experiment_id: str = row.experiment_id
        return experiment_id

    def list_runs(
        self,
        experiment_id: str,
        *,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        check_limit(limit)
        stmt = queries.EXPERIMENT_RUNS
        if status is not None:
            stmt = stmt.where(RunRow.status == status)
        stmt = _after_cursor(stmt, RunRow.created_at, RunRow.id, cursor, "runs").limit(limit + 1)
        with self.db.read() as session:
            _experiment_row(session, experiment_id)
            rows = list(session.scalars(stmt, {"b_experiment": experiment_id}))
            items = self._runs(session, rows[:limit])
        return RunPage(items=items, next_cursor=_next_cursor(rows, limit, "runs"))

    def cancel_run(self, experiment_id: str, run_id: str) -> Run:
        """Queued or running → cancelled; a finished run is a ConflictError."""
        now = utcnow()
        with self.db.write() as session:
            row = _run_row(session, run_id, experiment_id=experiment_id, for_update=True)
            if row.status not in ACTIVE_RUN_STATUSES:
                raise ConflictError(
                    f"run {run_id!r} is already {row.status}: only a queued or running run "
                    "can be cancelled"
                )
            row.status = "cancelled"
            row.stage = "cancelled"
            row.finished_at = now
            row.lease_owner = row.lease_expires_at = None
            session.flush()
            record_event(session.connection(), run_id, experiment_id, "run.cancelled", now)
            _touch(session, experiment_id, now)
        return _run(row, [])

    # The runner's writes below are Core statements built once, on a plain connection: an
    # ORM session's bookkeeping outweighs the statement for writes this small and this frequent.

    def claim_run(
        self, run_id: str, *, owner: str | None = None, lease_seconds: float = 0.0
    ) -> ClaimedRun | None:
        """Queued → running (attempts + 1), leased to ``owner`` for ``lease_seconds``; None
        when the run is gone or no longer queued. One conditional UPDATE, so of several
        processes claiming the same run exactly one succeeds. Without an owner the run holds
        no lease, as if its process had died."""
        now = utcnow()
        values = {
            "b_run": run_id,
            "b_now": now,
            "b_owner": owner,
            "b_expires": now + timedelta(seconds=lease_seconds) if owner is not None else None,
        }
        with self.db.write_connection() as connection:
            if _rowcount(connection.execute(queries.CLAIM, values)) != 1:
                return None
            found = connection.execute(queries.CLAIMED, {"b_run": run_id}).one()
            record_event(
                connection,
                run_id,
                found.experiment_id,
                "run.started",
                now,
                {"attempt": found.attempts},
            )
            return ClaimedRun(
                run_id=run_id,
                experiment_id=found.experiment_id,
                attempt=found.attempts,
                config=ResolvedConfig.model_validate(found.config),
                data_sources=list(found.data_sources),
                text_column=found.text_column,
                spend_cap_usd=found.spend_cap_usd,
            )

    def renew_leases(self, owner: str, run_ids: Sequence[str], lease_seconds: float) -> int:
        """Extend ``owner``'s leases of these running runs; returns how many it still holds."""
        if not run_ids:
            return 0
        values = {
            "b_owner": owner,
            "b_runs": list(run_ids),
            "b_expires": utcnow() + timedelta(seconds=lease_seconds),
        }
        with self.db.write_connection() as connection:
            return _rowcount(connection.execute(queries.RENEW, values))

    def release_leases(self, owner: str) -> int:
        """Drop every lease ``owner`` holds, so that any runner takes its runs over at once."""
        with self.db.write_connection() as connection:
            return _rowcount(connection.execute(queries.RELEASE, {"b_owner": owner}))

    def _insert_personas(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Inserted at once, or once for the whole batch when its writes run as one."""
        batch = self.db.open_batch
        if batch is not None and batch.as_one:
            batch.insert_at_end(queries.INSERT_PERSONAS, rows)
        elif rows:
            connection.execute(queries.INSERT_PERSONAS, rows)

    def _touch_experiment(self, connection: Connection, experiment_id: str, now: datetime) -> None:
        """The experiment changed at ``now`` (its ``updated_at``); once for the whole batch
        when its writes run as one."""
        batch = self.db.open_batch
        if batch is None or not batch.as_one:
            connection.execute(queries.TOUCH, {"b_experiment": experiment_id, "b_now": now})
            return
        earlier = batch.pending_update(queries.TOUCH, experiment_id)
        latest = now if earlier is None else max(now, earlier["b_now"])
        batch.update_at_end(
            queries.TOUCH, experiment_id, {"b_experiment": experiment_id, "b_now": latest}
        )

    def update_progress(self, run_id: str, attempt: int, progress: float, stage: str) -> bool:
        """Record progress and its run.progress event; False when the run is no longer this
        attempt's (cancelled, gone)."""
        values = {"b_run": run_id, "b_attempt": attempt, "b_progress": progress, "b_stage": stage}
        with self.db.write_connection() as connection:
            run = _update_returning_run(connection, queries.PROGRESS, values)
            if run is None:
                return False
            # The runner writes progress at most every PROGRESS_INTERVAL within a stage, so
            # these events are throttled with it.
            payload = {"stage": stage, "progress": progress}
            record_event(connection, run_id, run.experiment_id, "run.progress", utcnow(), payload)
            return True

    def mark_succeeded(
        self,
        run_id: str,
        attempt: int,
        personas: Sequence[PersonaContent],
        usage: Usage,
        warnings: Sequence[str] = (),
    ) -> RunDetail | None:
        """In one transaction: the run becomes succeeded and its personas are stored, with
        the ``warnings`` its input gave. Returns the run as stored, with its personas, or None
        (nothing written) when the attempt is stale."""
        now = utcnow()
        values = {
            "b_run": run_id,
            "b_attempt": attempt,
            "b_now": now,
            "b_usage": usage.model_dump(mode="json"),
            "b_grounding": Grounding.total([p.grounding for p in personas]).model_dump(),
            "b_warnings": list(warnings),
        }
        with self.db.write_connection() as connection:
            run = _update_returning_run(connection, queries.SUCCEED, values)
            if run is None:
                return None
            rows = [
                _persona_values(content, run.experiment_id, run_id, position, now)
                for position, content in enumerate(personas)
            ]
            self._insert_personas(connection, rows)
            record_event(
                connection,
                run_id,
                run.experiment_id,
                "run.succeeded",
                now,
                {"persona_ids": [row["id"] for row in rows], "usage": values["b_usage"]},
            )
            self._touch_experiment(connection, run.experiment_id, now)
        stored = [
            _stored_persona(row, content) for row, content in zip(rows, personas, strict=True)
        ]
        return _run_detail(run, stored)

    def mark_failed(
        self, run_id: str, attempt: int, error: RunError, usage: Usage | None = None
    ) -> bool:
        """Running → failed with ``error`` and the ``usage`` the attempt had (none when not
        given); False when the attempt is stale."""
        now = utcnow()
        values = {
            "b_run": run_id,
            "b_attempt": attempt,
            "b_now": now,
            "b_code": error.code,
            "b_message": error.message,
            "b_usage": (usage or Usage()).model_dump(mode="json"),
        }
        with self.db.write_connection() as connection:
            run = _update_returning_run(connection, queries.FAIL, values)
            if run is None:
                return False
            record_event(
                connection,
                run_id,
                run.experiment_id,
                "run.failed",
                now,
                {"code": error.code, "message": error.message},
            )
            self._touch_experiment(connection, run.experiment_id, now)
        return True

    def recover_runs(self, max_attempts: int) -> list[str]:
        """Runs no live process holds: queued runs, and running runs whose lease is absent or
        expired (their process died or stopped). Those with attempts left are queued and
        returned (oldest first); the others fail with code 'interrupted'."""
        now = utcnow()
        requeued: list[str] = []
        with self.db.write() as session:
            rows = session.scalars(queries.UNHELD_RUNS, {"b_now": now}).all()
            for row in rows:
                if _requeue_or_fail(session, row, max_attempts, now):
                    requeued.append(row.id)
        return requeued

    def requeue_interrupted(
        self, run_id: str, max_attempts: int, *, fresh_lease_after: datetime | None = None
    ) -> bool:
        """The run's executor is gone (a queue worker stopped heartbeating): queue it again and
        return True, unless it has finished (False) or is out of attempts (it fails with code
        'interrupted'; False). An executor still alive meanwhile finds its attempt superseded.

        With ``fresh_lease_after``, a run whose lease expires later than that is left alone
        (False): its holder renewed the lease lately, so it is alive, whatever became of
        the job that started it."""
        now = utcnow()
        query, values = queries.UNFINISHED_RUN, dict[str, object](b_run=run_id)
        if fresh_lease_after is not None:
            query, values = queries.STALLED_RUN, values | {"b_fresh_after": fresh_lease_after}
        with self.db.write() as session:
            row = session.scalars(query, values).first()
            return row is not None and _requeue_or_fail(session, row, max_attempts, now)

    def interrupt_attempt(
        self, run_id: str, attempt: int, max_attempts: int, error: RunError
    ) -> bool:
        """The attempt could not go on through no fault of the run (the database stayed
        unavailable): queue the run again and return True, or, out of attempts, fail it
        with ``error`` (False). False too when the attempt is stale."""
        now = utcnow()
        values = {"b_run": run_id, "b_attempt": attempt}
        with self.db.write() as session:
            row = session.scalars(queries.RUNNING_ATTEMPT, values).first()
            if row is None:
                return False
            return _requeue_or_fail(session, row, max_attempts, now, (error.code, error.message))

    def run_events(
        self, run_id: str, *, after: int = 0, limit: int = 1000, experiment_id: str | None = None
    ) -> list[StoredRunEvent]:
        """The run's events numbered after ``after``, oldest first; with ``experiment_id``,
        NotFoundError unless the run is that experiment's."""
        with self.db.read() as session:
            if experiment_id is not None:
                _run_row(session, run_id, experiment_id=experiment_id)
            return events_after(session.connection(), run_id, after, limit)

    def run_status(self, run_id: str) -> RunStatus | None:
        with self.db.read() as session:
            status = session.scalars(queries.RUN_STATUS, {"b_run": run_id}).first()
            return status  # type: ignore[return-value]

    def _runs(self, session: Session, rows: Sequence[RunRow]) -> list[Run]:
        succeeded = [row.id for row in rows if row.status == "succeeded"]
        persona_ids: dict[str, list[str]] = {}
        if succeeded:
            found = session.execute(queries.PERSONA_IDS_OF_RUNS, {"b_runs": succeeded})
            for run_id, persona_id in found:
                persona_ids.setdefault(run_id, []).append(persona_id)
        return [_run(row, persona_ids.get(row.id, [])) for row in rows]
