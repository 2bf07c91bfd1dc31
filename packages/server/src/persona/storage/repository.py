"""All SQL of Persona: experiments, runs, personas, idempotency keys and evidence, as schemas.

Every method is synchronous and opens its own transaction; callers on an event loop run
them in a worker thread. Run state changes are guarded (``WHERE status = ... AND attempts =
...``) so a stale worker can never overwrite a newer state or write personas twice.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from persona.errors import ConflictError, IdempotencyConflictError, InvalidInputError, NotFoundError
from persona.ids import new_id, utcnow
from persona.schemas import (
    ACTIVE_RUN_STATUSES,
    Evidence,
    EvidencePage,
    Experiment,
    ExperimentPage,
    ExperimentStatus,
    Grounding,
    Persona,
    PersonaContent,
    PersonaPage,
    ResolvedConfig,
    Run,
    RunDetail,
    RunError,
    RunPage,
    RunStatus,
    Usage,
)
from persona.storage import evidence as snapshots
from persona.storage.cursor import Cursor, PositionCursor
from persona.storage.database import Database, ReadWouldWait
from persona.storage.evidence import NO_FILTER, EvidenceFilter
from persona.storage.models import ExperimentRow, IdempotencyRow, PersonaRow, RunRow
from persona.storage.types import UTCDateTime

MAX_PAGE_SIZE = 200
CLAIMED_STAGE = "loading sources"
"""The stage a claimed run starts in: the runner loads its sources first."""
ACTIVE = tuple(sorted(ACTIVE_RUN_STATUSES))
# A cancelled run says nothing about the experiment's outcome: status follows the latest
# run that succeeded or failed.
OUTCOME = ("failed", "succeeded")
_PERSONA_FIELDS = tuple(PersonaContent.model_fields)
"""The content columns of a personas row: every PersonaContent field."""


@dataclass(frozen=True)
class ClaimedRun:
    """A run just moved from queued to running: what the runner needs to execute it."""

    run_id: str
    experiment_id: str
    attempt: int
    config: ResolvedConfig
    data_sources: list[str]
    text_column: str | None


@dataclass(frozen=True)
class _ExperimentStats:
    run_count: int
    personas_stored: int
    active: bool
    latest_outcome: str | None

    @property
    def status(self) -> ExperimentStatus:
        if self.active:
            return "running"
        if self.latest_outcome == "succeeded":
            return "succeeded"
        if self.latest_outcome == "failed":
            return "failed"
        return "created"


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(
            f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}", location=["query", "limit"]
        )


def _after_cursor(
    stmt: Select[Any],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    cursor: str | None,
    kind: str,
) -> Select[Any]:
    """Order newest first and keep only the items after ``cursor``."""
    if cursor is not None:
        position = Cursor.decode(cursor, kind=kind)
        stmt = stmt.where(
            or_(
                created_at < position.created_at,
                and_(created_at == position.created_at, row_id < position.id),
            )
        )
    return stmt.order_by(created_at.desc(), row_id.desc())


def _next_cursor(rows: Sequence[Any], limit: int, kind: str) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return Cursor(kind, last.created_at, last.id).encode()


@dataclass
class _Batch:
    """Writes run as one (``write_together``): their connection, and what they leave to the
    end to run once for all of them, the personas rows to insert and when each experiment
    touched last changed."""

    connection: Connection
    personas: list[dict[str, Any]] = field(default_factory=list)
    touched: dict[str, datetime] = field(default_factory=dict)

    def flush(self) -> None:
        if self.personas:
            self.connection.execute(_INSERT_PERSONAS, self.personas)
        # In id order: batches committed at once by several processes then lock the rows of
        # the experiments they share in one order, and cannot deadlock on them.
        for experiment_id, now in sorted(self.touched.items()):
            self.connection.execute(_TOUCH, {"b_experiment": experiment_id, "b_now": now})


class _OpenBatch(threading.local):
    batch: _Batch | None = None


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._open = _OpenBatch()

    # ------------------------------------------------------------------ experiments

    def create_experiment(
        self,
        *,
        experiment_id: str,
        name: str,
        description: str | None,
        data_sources: list[str],
        config: ResolvedConfig,
        text_column: str | None = None,
    ) -> Experiment:
        now = utcnow()
        row = ExperimentRow(
            id=experiment_id,
            name=name,
            description=description,
            data_sources=list(data_sources),
            config=config.model_dump(mode="json"),
            text_column=text_column,
            created_at=now,
            updated_at=now,
        )
        with self.db.write() as session:
            session.add(row)
        return _experiment(row, _ExperimentStats(0, 0, False, None))

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self.db.read() as session:
            return self._load_experiment(session, experiment_id)

    def get_experiment_now(self, experiment_id: str) -> Experiment:
        """``get_experiment`` on the calling thread, for an event loop: one plain SQLite
        statement on the database's instant reader. Raises ReadWouldWait when that would
        wait for a lock or the database has no instant reader."""
        try:
            cursor = self.db.instant_reader().execute(_INSTANT_EXPERIMENT_SQL, (experiment_id,))
            row = cursor.fetchone()
        except sqlite3.Error as exc:  # locked, busy, or closed by dispose()
            raise ReadWouldWait from exc
        if row is None:
            raise NotFoundError("experiment", experiment_id)
        return _instant_experiment(row)

    def list_experiments(self, *, limit: int = 50, cursor: str | None = None) -> ExperimentPage:
        check_limit(limit)
        stmt = _after_cursor(
            _EXPERIMENTS, ExperimentRow.created_at, ExperimentRow.id, cursor, "experiments"
        ).limit(limit + 1)
        with self.db.read() as session:
            rows = session.execute(stmt).all()
        items = [_experiment(row[0], _ExperimentStats(*row[1:])) for row in rows[:limit]]
        return ExperimentPage(
            items=items, next_cursor=_next_cursor([r[0] for r in rows], limit, "experiments")
        )

    def add_data_sources(self, experiment_id: str, paths: Sequence[str]) -> Experiment:
        """Append ``paths`` to the experiment's data sources (those already there are kept once)."""
        with self.db.write() as session:
            row = _experiment_row(session, experiment_id, for_update=True)
            sources = list(row.data_sources)
            sources.extend(p for p in dict.fromkeys(paths) if p not in sources)
            row.data_sources = sources
            row.updated_at = utcnow()
        return self.get_experiment(experiment_id)

    def delete_experiment(self, experiment_id: str) -> list[str]:
        """Delete the experiment with its runs, personas and idempotency keys, and the
        evidence snapshots no other experiment's run uses; return the run ids."""
        with self.db.write() as session:
            _experiment_row(session, experiment_id, for_update=True)
            runs = session.execute(
                select(RunRow.id, RunRow.evidence_set_id).where(
                    RunRow.experiment_id == experiment_id
                )
            ).all()
            # Explicit deletes, child tables first: the cascade does not depend on the
            # database honouring ON DELETE CASCADE.
            for table in (IdempotencyRow, PersonaRow, RunRow):
                session.execute(delete(table).where(table.experiment_id == experiment_id))
            session.execute(delete(ExperimentRow).where(ExperimentRow.id == experiment_id))
            snapshots.delete_unused(session.connection(), (s for _, s in runs if s is not None))
        return [run_id for run_id, _ in runs]

    def active_run_ids(self, experiment_id: str) -> list[str]:
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(RunRow.id).where(
                        RunRow.experiment_id == experiment_id, RunRow.status.in_(ACTIVE)
                    )
                )
            )

    def _load_experiment(self, session: Session, experiment_id: str) -> Experiment:
        row = session.execute(_EXPERIMENT_BY_ID, {"experiment_id": experiment_id}).one_or_none()
        if row is None:
            raise NotFoundError("experiment", experiment_id)
        return _experiment(row[0], _ExperimentStats(*row[1:]))

    # ------------------------------------------------------------------ runs

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
    ) -> tuple[Run, bool]:
        """Insert a queued run. With ``idempotency`` = (key, request hash), a key seen before
        returns (the earlier run, False), or raises IdempotencyConflictError on another hash."""
        try:
            return self._insert_run(experiment_id, config, idempotency)
        except IntegrityError:
            # Another process recorded the same key between our check and our insert.
            if idempotency is None:
                raise
            return self._replay(experiment_id, *idempotency)

    def _insert_run(
        self, experiment_id: str, config: ResolvedConfig, idempotency: tuple[str, str] | None
    ) -> tuple[Run, bool]:
        if idempotency is None:
            return self._insert_plain_run(experiment_id, config), True
        now = utcnow()
        with self.db.write() as session:
            experiment = _experiment_row(session, experiment_id, for_update=True)
            if idempotency is not None:
                key, request_hash = idempotency
                found = session.get(IdempotencyRow, (experiment_id, key))
                if found is not None:
                    _check_hash(key, found.request_hash, request_hash)
                    return self._runs(session, [_run_row(session, found.run_id)])[0], False
            row = RunRow(
                id=new_id("run"),
                experiment_id=experiment_id,
                status="queued",
                config=config.model_dump(mode="json"),
                progress=0.0,
                stage="queued",
                attempts=0,
                created_at=now,
                usage=Usage().model_dump(mode="json"),
            )
            session.add(row)
            if idempotency is not None:
                session.flush()
                session.add(
                    IdempotencyRow(
                        experiment_id=experiment_id,
                        key=idempotency[0],
                        request_hash=idempotency[1],
                        run_id=row.id,
                        created_at=now,
                    )
                )
            experiment.updated_at = now
        return _run(row, []), True

    def _insert_plain_run(self, experiment_id: str, config: ResolvedConfig) -> Run:
        """A run without an idempotency key: Core statements, as for the runner's writes."""
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
        }
        with self._write_connection() as connection:
            if (
                connection.execute(_EXPERIMENT_EXISTS, {"b_experiment": experiment_id}).first()
                is None
            ):
                raise NotFoundError("experiment", experiment_id)
            connection.execute(_INSERT_RUN, values)
            self._touch_experiment(connection, experiment_id, now)
        return _run(RunRow(**values), [])

    def _replay(self, experiment_id: str, key: str, request_hash: str) -> tuple[Run, bool]:
        found = self.find_idempotent_run(experiment_id, key)
        if found is None:  # pragma: no cover - the key's run was deleted in between
            raise ConflictError(f"idempotency key {key!r} is being used by another request")
        _check_hash(key, found[0], request_hash)
        return found[1], False

    def get_run(self, experiment_id: str, run_id: str) -> RunDetail:
        """The run with its personas (empty unless it succeeded)."""
        with self.db.read_connection() as connection:
            row = connection.execute(_RUN_BY_ID, {"b_run": run_id}).one_or_none()
            if row is None or row.experiment_id != experiment_id:
                raise NotFoundError("run", run_id)
            personas = []
            if row.status == "succeeded":
                personas = list(connection.execute(_RUN_PERSONAS, {"b_run": run_id}))
        return _run_detail(row, [_persona(p) for p in personas])

    def list_runs(
        self,
        experiment_id: str,
        *,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        check_limit(limit)
        stmt = select(RunRow).where(RunRow.experiment_id == experiment_id)
        if status is not None:
            stmt = stmt.where(RunRow.status == status)
        stmt = _after_cursor(stmt, RunRow.created_at, RunRow.id, cursor, "runs").limit(limit + 1)
        with self.db.read() as session:
            _experiment_row(session, experiment_id)
            rows = list(session.scalars(stmt))
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
            _touch(session, experiment_id, now)
        return _run(row, [])

    # The runner's writes below are Core statements built once, on a plain connection: an
    # ORM session costs several times the statement for writes this small and this frequent.

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
        with self._write_connection() as connection:
            if _rowcount(connection.execute(_CLAIM, values)) != 1:
                return None
            found = connection.execute(_CLAIMED, {"b_run": run_id}).one()
            return ClaimedRun(
                run_id=run_id,
                experiment_id=found.experiment_id,
                attempt=found.attempts,
                config=ResolvedConfig.model_validate(found.config),
                data_sources=list(found.data_sources),
                text_column=found.text_column,
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
        with self._write_connection() as connection:
            return _rowcount(connection.execute(_RENEW, values))

    def release_leases(self, owner: str) -> int:
        """Drop every lease ``owner`` holds, so that any runner takes its runs over at once."""
        with self._write_connection() as connection:
            return _rowcount(connection.execute(_RELEASE, {"b_owner": owner}))

    def write_together(self, writes: Sequence[Callable[[], object]]) -> list[object]:
        """Run these writes (methods built on ``write_connection``) in one transaction. Returns
        each one's result, or the exception it raised: one failing leaves the others. A
        failing commit raises, and then none of them is stored. The runner's writes insert
        personas and touch experiments only at the end (``_Batch``): a write may not see
        those of the writes before it in the same call.

        They first run together as one unit, which costs no more than their statements; only
        when one of them raises does the transaction roll back and the writes run again, each
        in a savepoint of its own (which costs more than a small write itself)."""
        with contextlib.suppress(Exception):  # one failed, nothing is stored: write them apart
            return self._write_as_one(writes)
        outcomes: list[object] = []
        with self.db.write_batch():
            for write in writes:
                try:
                    outcomes.append(write())
                except Exception as err:
                    outcomes.append(err)
        return outcomes

    def _write_as_one(self, writes: Sequence[Callable[[], object]]) -> list[object]:
        """Every write on one savepoint of one transaction; the first failure undoes all.
        Their persona inserts and experiment touches run once, at the end (``_Batch``)."""
        with self.db.write_batch(), self.db.write_connection() as connection:
            self._open.batch = batch = _Batch(connection)
            try:
                outcomes = [write() for write in writes]
                batch.flush()
                return outcomes
            finally:
                self._open.batch = None

    @contextlib.contextmanager
    def _write_connection(self) -> Iterator[Connection]:
        """The connection of the writes run as one, else ``Database.write_connection()``."""
        batch = self._open.batch
        if batch is not None:
            yield batch.connection
            return
        with self.db.write_connection() as connection:
            yield connection

    def _insert_personas(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        batch = self._open.batch
        if batch is not None:
            batch.personas.extend(rows)
        elif rows:
            connection.execute(_INSERT_PERSONAS, rows)

    def _touch_experiment(self, connection: Connection, experiment_id: str, now: datetime) -> None:
        """The experiment changed at ``now`` (its ``updated_at``)."""
        batch = self._open.batch
        if batch is None:
            connection.execute(_TOUCH, {"b_experiment": experiment_id, "b_now": now})
        else:
            batch.touched[experiment_id] = max(now, batch.touched.get(experiment_id, now))

    def update_progress(self, run_id: str, attempt: int, progress: float, stage: str) -> bool:
        """Record progress; False when the run is no longer this attempt's (cancelled, gone)."""
        values = {"b_run": run_id, "b_attempt": attempt, "b_progress": progress, "b_stage": stage}
        with self._write_connection() as connection:
            return _rowcount(connection.execute(_PROGRESS, values)) == 1

    def mark_succeeded(
        self, run_id: str, attempt: int, personas: Sequence[PersonaContent], usage: Usage
    ) -> RunDetail | None:
        """In one transaction: the run becomes succeeded and its personas are stored.
        Returns the run as stored, with its personas, or None (nothing written) when the
        attempt is stale."""
        now = utcnow()
        values = {
            "b_run": run_id,
            "b_attempt": attempt,
            "b_now": now,
            "b_usage": usage.model_dump(mode="json"),
            "b_grounding": Grounding.total([p.grounding for p in personas]).model_dump(),
        }
        with self._write_connection() as connection:
            run = _update_returning_run(connection, _SUCCEED, values)
            if run is None:
                return None
            rows = [
                _persona_values(content, run.experiment_id, run_id, position, now)
                for position, content in enumerate(personas)
            ]
            self._insert_personas(connection, rows)
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
        with self._write_connection() as connection:
            run = _update_returning_run(connection, _FAIL, values)
            if run is None:
                return False
            self._touch_experiment(connection, run.experiment_id, now)
        return True

    def recover_runs(self, max_attempts: int) -> list[str]:
        """Runs no live process holds: queued runs, and running runs whose lease is absent or
        expired (their process died or stopped). Those with attempts left are queued and
        returned (oldest first); the others fail with code 'interrupted'."""
        now = utcnow()
        requeued: list[str] = []
        with self.db.write() as session:
            rows = session.scalars(
                select(RunRow)
                .where(_unheld(now))
                .order_by(RunRow.created_at, RunRow.id)
                # A row another transaction holds is being claimed or written by a live
                # process: skipped, not waited for (waiting deadlocked with batched claims).
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                if _requeue_or_fail(session, row, max_attempts, now):
                    requeued.append(row.id)
        return requeued

    def requeue_interrupted(self, run_id: str, max_attempts: int) -> bool:
        """The run's executor is gone (a queue worker stopped heartbeating): queue it again and
        return True, unless it has finished (False) or is out of attempts (it fails with code
        'interrupted'; False). An executor still alive meanwhile finds its attempt superseded."""
        now = utcnow()
        with self.db.write() as session:
            row = session.scalars(
                select(RunRow)
                .where(RunRow.id == run_id, RunRow.status.in_(("queued", "running")))
                .with_for_update()
            ).first()
            return row is not None and _requeue_or_fail(session, row, max_attempts, now)

    def run_status(self, run_id: str) -> RunStatus | None:
        with self.db.read() as session:
            status = session.scalars(select(RunRow.status).where(RunRow.id == run_id)).first()
            return status  # type: ignore[return-value]

    def _runs(self, session: Session, rows: Sequence[RunRow]) -> list[Run]:
        succeeded = [row.id for row in rows if row.status == "succeeded"]
        persona_ids: dict[str, list[str]] = {}
        if succeeded:
            found = session.execute(
                select(PersonaRow.run_id, PersonaRow.id)
                .where(PersonaRow.run_id.in_(succeeded))
                .order_by(PersonaRow.run_id, PersonaRow.position)
            )
            for run_id, persona_id in found:
                persona_ids.setdefault(run_id, []).append(persona_id)
        return [_run(row, persona_ids.get(row.id, [])) for row in rows]

    # ------------------------------------------------------------------ evidence

    def store_evidence(self, set_id: str, evidence: Sequence[Evidence]) -> None:
        """Store a run's evidence snapshot ahead of linking runs to it, in a transaction of
        its own (a large one takes a while); nothing is written when it exists."""
        with self.db.read_connection() as connection:
            if snapshots.snapshot_exists(connection, set_id):
                return
        with self.db.write_connection() as connection:
            snapshots.store_snapshot(connection, set_id, evidence, utcnow())

    def attach_evidence(
        self, run_id: str, attempt: int, set_id: str, evidence: Sequence[Evidence]
    ) -> bool:
        """Point the run's attempt at its snapshot, storing the snapshot if it is missing
        (deleted with another experiment since ``store_evidence``); False when stale."""
        with self._write_connection() as connection:
            snapshots.store_snapshot(connection, set_id, evidence, utcnow())
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
            set_id = session.scalars(
                select(RunRow.evidence_set_id).where(RunRow.id == run_id)
            ).first()
            if set_id is None:
                return []
            found = snapshots.records_by_id(session.connection(), set_id, ids)
        return [found[i] for i in ids if i in found]

    def latest_succeeded_run(self, experiment_id: str) -> str | None:
        """The id of the experiment's newest succeeded run, if any."""
        with self.db.read() as session:
            _experiment_row(session, experiment_id)
            return session.scalars(
                select(RunRow.id)
                .where(RunRow.experiment_id == experiment_id, RunRow.status == "succeeded")
                .order_by(RunRow.created_at.desc(), RunRow.id.desc())
                .limit(1)
            ).first()

    # ------------------------------------------------------------------ personas

    def get_persona(self, persona_id: str) -> Persona:
        with self.db.read() as session:
            row = session.get(PersonaRow, persona_id)
            if row is None:
                raise NotFoundError("persona", persona_id)
            return _persona(row)

    def list_personas(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PersonaPage:
        """The experiment's personas, newest first; only those of ``run_id`` when given."""
        check_limit(limit)
        query = select(PersonaRow).where(PersonaRow.experiment_id == experiment_id)
        if run_id is not None:
            query = query.where(PersonaRow.run_id == run_id)
        stmt = _after_cursor(query, PersonaRow.created_at, PersonaRow.id, cursor, "personas").limit(
            limit + 1
        )
        with self.db.read() as session:
            _experiment_row(session, experiment_id)
            if run_id is not None:
                _run_row(session, run_id, experiment_id=experiment_id)
            rows = list(session.scalars(stmt))
        return PersonaPage(
            items=[_persona(row) for row in rows[:limit]],
            next_cursor=_next_cursor(rows, limit, "personas"),
        )


# ---------------------------------------------------------------------- helpers


def _experiments_query(*columns: Any) -> Select[Any]:
    """Experiments (``columns``, else the row) with their derived counts and status inputs,
    in one statement."""
    of_experiment = RunRow.experiment_id == ExperimentRow.id
    run_count = select(func.count(RunRow.id)).where(of_experiment).scalar_subquery()
    personas_stored = (
        select(func.count(PersonaRow.id))
        .where(PersonaRow.experiment_id == ExperimentRow.id)
        .scalar_subquery()
    )
    active = exists().where(of_experiment, RunRow.status.in_(ACTIVE))
    latest_outcome = (
        select(RunRow.status)
        .where(of_experiment, RunRow.status.in_(OUTCOME))
        .order_by(RunRow.created_at.desc(), RunRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(
        *(columns or (ExperimentRow,)), run_count, personas_stored, active, latest_outcome
    )


# Built once: composing these statements costs more than running them.
_EXPERIMENTS = _experiments_query()
_EXPERIMENT_BY_ID = _EXPERIMENTS.where(ExperimentRow.id == bindparam("experiment_id"))
_INSTANT_COLUMNS = (
    ExperimentRow.id,
    ExperimentRow.name,
    ExperimentRow.description,
    ExperimentRow.data_sources,
    ExperimentRow.config,
    ExperimentRow.created_at,
    ExperimentRow.updated_at,
)


def _instant_experiment_sql() -> str:
    """_EXPERIMENT_BY_ID as SQLite text, with one ``?`` for the experiment id.

    The constant status lists are rendered inline; the id goes through a marker value that
    is replaced by the placeholder, so the text stays derived from the same query.
    """
    from sqlalchemy.dialects import sqlite

    marker = "experiment-id-placeholder"
    stmt = _experiments_query(*_INSTANT_COLUMNS).where(ExperimentRow.id == marker)
    text = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    quoted = f"'{marker}'"
    if text.count(quoted) != 1:
        raise RuntimeError("the experiment id must appear once in the instant statement")
    return text.replace(quoted, "?")


_INSTANT_EXPERIMENT_SQL = _instant_experiment_sql()


def _sqlite_datetime(value: str) -> datetime:
    """A UTCDateTime column as SQLite stores it (naive UTC text), made aware again."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _instant_experiment(row: tuple[Any, ...]) -> Experiment:
    (id_, name, description, sources, config, created, updated, *stats) = row
    run_count, personas_stored, active, latest_outcome = stats
    return Experiment(
        id=id_,
        name=name,
        description=description,
        status=_ExperimentStats(run_count, personas_stored, bool(active), latest_outcome).status,
        data_sources=json.loads(sources),
        config=ResolvedConfig.model_validate(json.loads(config)),
        created_at=_sqlite_datetime(created),
        updated_at=_sqlite_datetime(updated),
        run_count=run_count,
        personas_stored=personas_stored,
    )


_RUN_TABLE = cast(Table, RunRow.__table__)
_EXPERIMENT_TABLE = cast(Table, ExperimentRow.__table__)
_RUNS = _RUN_TABLE.c
_CURRENT_ATTEMPT = (
    _RUNS.id == bindparam("b_run"),
    _RUNS.status == "running",
    _RUNS.attempts == bindparam("b_attempt"),
)
_CLAIMED = (
    select(
        _RUNS.attempts,
        _RUNS.config,
        _RUNS.experiment_id,
        _EXPERIMENT_TABLE.c.data_sources,
        _EXPERIMENT_TABLE.c.text_column,
    )
    .join_from(_RUN_TABLE, _EXPERIMENT_TABLE)
    .where(_RUNS.id == bindparam("b_run"))
)
_CLAIM = (
    update(_RUN_TABLE)
    .where(_RUNS.id == bindparam("b_run"), _RUNS.status == "queued")
    .values(
        status="running",
        attempts=_RUNS.attempts + 1,
        started_at=bindparam("b_now"),
        progress=0.0,
        stage=CLAIMED_STAGE,
        lease_owner=bindparam("b_owner"),
        lease_expires_at=bindparam("b_expires", type_=UTCDateTime()),
    )
)
_RENEW = (
    update(_RUN_TABLE)
    .where(
        _RUNS.id.in_(bindparam("b_runs", expanding=True)),
        _RUNS.status == "running",
        _RUNS.lease_owner == bindparam("b_owner"),
    )
    .values(lease_expires_at=bindparam("b_expires", type_=UTCDateTime()))
)
_RELEASE = (
    update(_RUN_TABLE)
    .where(_RUNS.lease_owner == bindparam("b_owner"))
    .values(lease_owner=None, lease_expires_at=None)
)
_NO_LEASE = {"lease_owner": None, "lease_expires_at": None}
_PROGRESS = (
    update(_RUN_TABLE)
    .where(*_CURRENT_ATTEMPT)
    .values(progress=bindparam("b_progress"), stage=bindparam("b_stage"))
)
_SUCCEED = (
    update(_RUN_TABLE)
    .where(*_CURRENT_ATTEMPT)
    .values(
        status="succeeded",
        progress=1.0,
        stage="done",
        finished_at=bindparam("b_now"),
        usage=bindparam("b_usage"),
        grounding=bindparam("b_grounding"),
        **_NO_LEASE,
    )
)
_FAIL = (
    update(_RUN_TABLE)
    .where(*_CURRENT_ATTEMPT)
    .values(
        status="failed",
        stage="failed",
        finished_at=bindparam("b_now"),
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        usage=bindparam("b_usage"),
        **_NO_LEASE,
    )
)
_RUN_BY_ID = select(_RUN_TABLE).where(_RUNS.id == bindparam("b_run"))
_INSERT_RUN = insert(_RUN_TABLE)
_PERSONA_TABLE = cast(Table, PersonaRow.__table__)
_INSERT_PERSONAS = insert(_PERSONA_TABLE)
_RUN_PERSONAS = (
    select(_PERSONA_TABLE)
    .where(_PERSONA_TABLE.c.run_id == bindparam("b_run"))
    .order_by(_PERSONA_TABLE.c.position)
)
_EXPERIMENT_EXISTS = select(_EXPERIMENT_TABLE.c.id).where(
    _EXPERIMENT_TABLE.c.id == bindparam("b_experiment")
)
_TOUCH = (
    update(_EXPERIMENT_TABLE)
    .where(_EXPERIMENT_TABLE.c.id == bindparam("b_experiment"))
    .values(updated_at=bindparam("b_now"))
)


def _update_returning_run(
    connection: Connection, statement: Update, values: dict[str, Any]
) -> Row[Any] | None:
    """Run an UPDATE of one run; the run's row as updated, or None when it matched none."""
    if connection.dialect.update_returning:
        return connection.execute(statement.returning(*_RUN_TABLE.c), values).one_or_none()
    if _rowcount(connection.execute(statement, values)) != 1:  # pragma: no cover - no RETURNING
        return None
    return connection.execute(_RUN_BY_ID, {"b_run": values["b_run"]}).one()  # pragma: no cover


def _experiment_row(
    session: Session, experiment_id: str, *, for_update: bool = False
) -> ExperimentRow:
    row = session.get(ExperimentRow, experiment_id, with_for_update=for_update)
    if row is None:
        raise NotFoundError("experiment", experiment_id)
    return row


def _run_row(
    session: Session, run_id: str, *, experiment_id: str | None = None, for_update: bool = False
) -> RunRow:
    row = session.get(RunRow, run_id, with_for_update=for_update)
    if row is None or (experiment_id is not None and row.experiment_id != experiment_id):
        raise NotFoundError("run", run_id)
    return row


def _persona_rows(session: Session, run_id: str) -> list[PersonaRow]:
    return list(
        session.scalars(
            select(PersonaRow).where(PersonaRow.run_id == run_id).order_by(PersonaRow.position)
        )
    )


def _current_attempt(run_id: str, attempt: int) -> tuple[ColumnElement[bool], ...]:
    return (RunRow.id == run_id, RunRow.status == "running", RunRow.attempts == attempt)


def _requeue_or_fail(session: Session, row: RunRow, max_attempts: int, now: datetime) -> bool:
    """Queue an interrupted run again (True), or fail it as interrupted when out of attempts."""
    row.lease_owner = row.lease_expires_at = None
    if row.attempts >= max_attempts:
        row.status = "failed"
        row.stage = "failed"
        row.finished_at = now
        row.error_code = "interrupted"
        row.error_message = (
            f"the run was interrupted {row.attempts} times by a server stop; "
            f"it is not restarted after {max_attempts} attempts"
        )
        _touch(session, row.experiment_id, now)
        return False
    row.status = "queued"
    row.stage = "queued"
    return True


def _unheld(now: datetime) -> ColumnElement[bool]:
    """Active runs no live process holds: queued ones, and running ones without a valid lease."""
    return or_(
        RunRow.status == "queued",
        and_(
            RunRow.status == "running",
            or_(RunRow.lease_expires_at.is_(None), RunRow.lease_expires_at <= now),
        ),
    )


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _touch(session: Session, experiment_id: str, now: datetime) -> None:
    session.execute(
        update(ExperimentRow)
        .where(ExperimentRow.id == experiment_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )


def _touch_run_experiment(session: Session, run_id: str, now: datetime) -> None:
    experiment_id = session.scalars(select(RunRow.experiment_id).where(RunRow.id == run_id)).one()
    _touch(session, experiment_id, now)


def _check_hash(key: str, stored: str, given: str) -> None:
    if stored != given:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was already used with a different request body"
        )


def _experiment(row: ExperimentRow, stats: _ExperimentStats) -> Experiment:
    return Experiment(
        id=row.id,
        name=row.name,
        description=row.description,
        status=stats.status,
        data_sources=list(row.data_sources),
        config=ResolvedConfig.model_validate(row.config),
        created_at=row.created_at,
        updated_at=row.updated_at,
        run_count=stats.run_count,
        personas_stored=stats.personas_stored,
    )


def _run(row: RunRow | Row[Any], persona_ids: list[str]) -> Run:
    return Run(**_run_fields(row), persona_ids=persona_ids)


def _run_detail(row: RunRow | Row[Any], personas: list[Persona]) -> RunDetail:
    return RunDetail(**_run_fields(row), persona_ids=[p.id for p in personas], personas=personas)


def _run_fields(row: RunRow | Row[Any]) -> dict[str, Any]:
    """The fields every view of a run has, from its row."""
    error = None
    if row.error_code is not None:
        error = RunError(code=row.error_code, message=row.error_message or "")
    return {
        "id": row.id,
        "experiment_id": row.experiment_id,
        "status": row.status,
        "config": ResolvedConfig.model_validate(row.config),
        "progress": row.progress,
        "stage": row.stage,
        "attempts": row.attempts,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "usage": Usage.model_validate(row.usage),
        "error": error,
        "grounding": None if row.grounding is None else Grounding.model_validate(row.grounding),
    }


def _persona_values(
    content: PersonaContent, experiment_id: str, run_id: str, position: int, now: datetime
) -> dict[str, Any]:
    """A personas row, as the values of a Core insert."""
    return {
        "id": new_id("persona"),
        "experiment_id": experiment_id,
        "run_id": run_id,
        "position": position,
        "created_at": now,
        **content.model_dump(mode="json", include=set(_PERSONA_FIELDS)),
    }


def _stored_persona(values: dict[str, Any], content: PersonaContent) -> Persona:
    """A persona as stored, from the values of its insert and the content they were made of.
    The content is validated already: built as is, not validated again from its JSON."""
    return Persona.model_construct(
        id=values["id"],
        experiment_id=values["experiment_id"],
        run_id=values["run_id"],
        created_at=values["created_at"],
        **{name: getattr(content, name) for name in _PERSONA_FIELDS},
    )


def _persona(row: PersonaRow | Row[Any]) -> Persona:
    return Persona(
        id=row.id,
        experiment_id=row.experiment_id,
        run_id=row.run_id,
        created_at=row.created_at,
        **{field: getattr(row, field) for field in _PERSONA_FIELDS},
    )
