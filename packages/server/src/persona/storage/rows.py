"""What the repositories share: a stored row made a schema, paging, and small helpers.

The underscored names are private to ``persona.storage``: its repository modules use them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, Update, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from persona.errors import IdempotencyConflictError, InvalidInputError, NotFoundError
from persona.ids import new_id
from persona.schemas import (
    Experiment,
    ExperimentStatus,
    Grounding,
    Persona,
    PersonaContent,
    PrivacyReport,
    ResolvedConfig,
    Run,
    RunDetail,
    RunError,
    Usage,
)
from persona.storage import queries
from persona.storage.cursor import Cursor
from persona.storage.database import Database
from persona.storage.events import record_event
from persona.storage.models import ExperimentRow, PersonaRow, RunRow

MAX_PAGE_SIZE = 200
_PERSONA_FIELDS = tuple(PersonaContent.model_fields)
"""The content columns of a personas row: every PersonaContent field."""


class StoreBase:
    """The database a repository of one concern reads and writes."""

    def __init__(self, db: Database) -> None:
        self.db = db


@dataclass(frozen=True)
class RunSpend:
    """What a new run may spend of its budgets (``cap_usd``) and what its estimate holds of
    them while it is active (``reserved_usd``)."""

    cap_usd: float
    reserved_usd: float
    limit_usd: float | None = None
    """The experiment's own budget, checked again when the run is stored; None: it has none."""


@dataclass(frozen=True)
class ClaimedRun:
    """A run just moved from queued to running: what the runner needs to execute it."""

    run_id: str
    experiment_id: str
    attempt: int
    config: ResolvedConfig
    data_sources: list[str]
    text_column: str | None
    spend_cap_usd: float | None = None
    """The most the run may spend; None: no budget applies."""

    @property
    def source_text_column(self) -> str | None:
        """The text column the run reads: its config's, else the experiment's."""
        columns = self.config.columns
        return columns.text if columns and columns.text else self.text_column


@dataclass(frozen=True)
class _ExperimentStats:
    run_count: int
    personas_stored: int
    active: bool
    latest_outcome: str | None
    spent_usd: float = 0.0

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


def _update_returning_run(
    connection: Connection, statement: Update, values: dict[str, Any]
) -> Row[Any] | None:
    """Run an UPDATE of one run; the run's row as updated, or None when it matched none."""
    if connection.dialect.update_returning:
        return connection.execute(statement.returning(*queries.RUN_TABLE.c), values).one_or_none()
    if _rowcount(connection.execute(statement, values)) != 1:  # pragma: no cover - no RETURNING
        return None
    return connection.execute(
        queries.RUN_BY_ID, {"b_run": values["b_run"]}
    ).one()  # pragma: no cover


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


def _requeue_or_fail(
    session: Session,
    row: RunRow,
    max_attempts: int,
    now: datetime,
    error: tuple[str, str] | None = None,
) -> bool:
    """Queue an interrupted run again (True), or fail it when out of attempts: with
    ``error`` (code, message) when given, else as interrupted by a server stop."""
    row.lease_owner = row.lease_expires_at = None
    if row.attempts >= max_attempts:
        row.status = "failed"
        row.stage = "failed"
        row.finished_at = now
        row.error_code, row.error_message = error or (
            "interrupted",
            f"the run was interrupted {row.attempts} times by a server stop; "
            f"it is not restarted after {max_attempts} attempts",
        )
        session.flush()
        payload = {"code": row.error_code, "message": row.error_message}
        record_event(session.connection(), row.id, row.experiment_id, "run.failed", now, payload)
        _touch(session, row.experiment_id, now)
        return False
    requeued = row.status != "queued"
    row.status = "queued"
    row.stage = "queued"
    if requeued:
        session.flush()
        record_event(session.connection(), row.id, row.experiment_id, "run.queued", now)
    return True


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _touch(session: Session, experiment_id: str, now: datetime) -> None:
    session.execute(queries.TOUCH_ORM, {"b_experiment": experiment_id, "b_now": now})


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
        spent_usd=stats.spent_usd,
    )


def _stored_run(connection: Connection, run_id: str) -> Run:
    """A run as stored, with the ids of its personas."""
    row = connection.execute(queries.RUN_BY_ID, {"b_run": run_id}).one()
    personas = connection.execute(queries.RUN_PERSONAS, {"b_run": run_id})
    return _run(row, [persona.id for persona in personas])


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
        "warnings": row.warnings,
        "spend_cap_usd": row.spend_cap_usd,
        "privacy": None if row.privacy is None else PrivacyReport.model_validate(row.privacy),
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
