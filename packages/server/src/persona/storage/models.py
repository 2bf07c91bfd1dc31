"""The tables: experiments, runs, personas, run idempotency keys and evidence snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from persona.storage.types import UTCDateTime

# Deterministic constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ExperimentRow(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    data_sources: Mapped[list[str]] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    text_column: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_experiments_created", "created_at", "id"),)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("experiments.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    usage: Mapped[dict[str, Any]] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    """The runner executing the run; None when no live process holds it."""
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the owner's claim lapses unless renewed: then another runner may take the run over."""
    evidence_set_id: Mapped[str | None] = mapped_column(String(64))
    """The snapshot of the evidence the run read; None until it has read its sources. No
    foreign key: SQLite cannot add one to an existing table in place. A snapshot is deleted
    only when no run points at it (``persona.storage.evidence.delete_unused``)."""
    grounding: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Grounding totals over the run's personas, once it has succeeded."""
    warnings: Mapped[list[str]] = mapped_column(JSON)
    """What the run noticed about its input, for its caller (a source naming no participant)."""
    spend_cap_usd: Mapped[float | None] = mapped_column(Float)
    """The most the run may spend (the least left of its budgets at its start); None: no cap."""
    spend_reserved_usd: Mapped[float | None] = mapped_column(Float)
    """The upper bound of its estimate, held against its budgets while it is queued or running
    (its usage is recorded when it ends); None: no budget applied."""
    privacy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The run's privacy report (kinds and counts, never values), once it has read its evidence."""
    key_id: Mapped[str | None] = mapped_column(String(64))
    """The API key that started the run (None: the bootstrap token, an open server, the SDK).
    No foreign key: a run outlives neither its experiment nor needs its key's row."""

    __table_args__ = (
        Index("ix_runs_experiment_created", "experiment_id", "created_at", "id"),
        Index("ix_runs_status", "status"),
        Index("ix_runs_evidence_set_id", "evidence_set_id"),
        Index("ix_runs_key_id", "key_id"),
    )


class PersonaRow(Base):
    __tablename__ = "personas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("experiments.id", ondelete="CASCADE")
    )
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    demographics: Mapped[dict[str, str]] = mapped_column(JSON)
    goals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    pain_points: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    behaviours: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    quotes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    evidence_ids: Mapped[list[str]] = mapped_column(JSON)
    participants: Mapped[list[str]] = mapped_column(JSON)
    grounding: Mapped[dict[str, Any]] = mapped_column(JSON)
    dropped_evidence_ids: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_personas_experiment_created", "experiment_id", "created_at", "id"),
        Index("ix_personas_run_position", "run_id", "position"),
    )


class IdempotencyRow(Base):
    """One Idempotency-Key of a start-run request: the request's hash and the run it made."""

    __tablename__ = "run_idempotency"

    experiment_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_run_idempotency_run_id", "run_id"),)


class EvidenceSetRow(Base):
    """The evidence one or more runs read, stored once per distinct content.

    Its id is a digest of every record's content, so runs reading the same bytes share one
    snapshot, and a source edited later makes a new one: a run's evidence never changes."""

    __tablename__ = "evidence_sets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    records: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvidenceRecordRow(Base):
    """One evidence record of a snapshot, at its position in source order."""

    __tablename__ = "evidence_records"

    set_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("evidence_sets.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    evidence_id: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    locator: Mapped[str] = mapped_column(String(200))
    participant: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, str]] = mapped_column(JSON)

    __table_args__ = (Index("ix_evidence_records_set_evidence", "set_id", "evidence_id"),)


class RunEventRow(Base):
    """One state change of a run (queued, started, progress, succeeded, failed, cancelled),
    written in the transaction of the change; ``seq`` increases by one per run."""

    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    experiment_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("experiments.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_run_events_experiment_created", "experiment_id", "created_at"),)


class WebhookRow(Base):
    """An endpoint that receives run events, signed with its secret (Standard Webhooks).

    After a rotation the secrets it replaced keep signing, next to the new one, each until
    its grace period ends: ``previous_secrets`` holds ``{"secret", "expires_at"}`` (ISO 8601)
    for each, newest first."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secrets: Mapped[list[dict[str, str]]] = mapped_column(
        JSON, server_default="[]", default=list
    )
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookEventTypeRow(Base):
    """One event type a webhook receives (``*``: all of them)."""

    __tablename__ = "webhook_event_types"

    webhook_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True
    )
    event_type: Mapped[str] = mapped_column(String(32), primary_key=True)


class WebhookDeliveryRow(Base):
    """The delivery of one run event to one webhook: created with the event, in its
    transaction, then sent (and retried) until it succeeds or fails for good."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id", "seq"], ["run_events.run_id", "run_events.seq"], ondelete="CASCADE"
        ),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )


class PseudonymRow(Base):
    """One value of an experiment's evidence and its pseudonym (``kind`` and ``number``), the
    same in every run of the experiment; deleted with the experiment."""

    __tablename__ = "pseudonyms"

    experiment_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    original: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of ``original``: one pseudonym per value, however long the value."""

    __table_args__ = (
        UniqueConstraint("experiment_id", "kind", "digest", name="uq_pseudonyms_value"),
    )


class ApiKeyRow(Base):
    """An API key: its scope and lifetime, and a hash of its secret (never the secret).

    A revoked key keeps its row, so that the audit log and its runs still name it."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    """The secret's first characters, shown in lists and used to find the key's row."""
    secret_hash: Mapped[str] = mapped_column(String(64))
    max_cost_usd: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_api_keys_prefix", "prefix"),
        Index("ix_api_keys_created", "created_at", "id"),
    )


class AuditRow(Base):
    """One state-changing request: who, which operation on which ids, and how it ended.

    Never a body, a secret or source text. No foreign keys: entries outlive what they name."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str | None] = mapped_column(String(64))
    key_name: Mapped[str | None] = mapped_column(String(100))
    operation_id: Mapped[str] = mapped_column(String(100))
    target_ids: Mapped[dict[str, str]] = mapped_column(JSON)
    status: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_audit_log_created", "created_at", "id"),
        Index("ix_audit_log_key_created", "key_id", "created_at"),
        Index("ix_audit_log_operation_created", "operation_id", "created_at"),
    )


class RateLimitRow(Base):
    """Requests one subject (a key, an address) made in one fixed window, shared by every
    process on the database."""

    __tablename__ = "rate_limit_counters"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Seconds since the epoch at which the window opened."""
    count: Mapped[int] = mapped_column(Integer)
