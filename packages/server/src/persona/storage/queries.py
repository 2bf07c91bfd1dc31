"""Every SQL statement of the repositories, named and described in one place.

Built once at import: composing these statements costs more than running them. Parameters
are bound by name (``b_run``, ``b_attempt``, ...); the repositories in this package execute
them. A run's state changes are guarded (``CURRENT_ATTEMPT``) so that a stale worker never
overwrites a newer state or writes personas twice.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)

from persona.schemas import ACTIVE_RUN_STATUSES
from persona.storage.models import (
    ExperimentRow,
    IdempotencyRow,
    PersonaRow,
    PseudonymRow,
    RunEventRow,
    RunRow,
    WebhookDeliveryRow,
    WebhookEventTypeRow,
    WebhookRow,
)
from persona.storage.types import UTCDateTime

CLAIMED_STAGE = "loading sources"
"""The stage a claimed run starts in: the runner loads its sources first."""
ACTIVE = tuple(sorted(ACTIVE_RUN_STATUSES))
OUTCOME = ("failed", "succeeded")
"""The statuses an experiment's status follows: a cancelled run says nothing about its
outcome, so the latest run that succeeded or failed decides."""


def experiments_query(*columns: Any) -> Select[Any]:
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
    # A run's recorded cost is null when its model has no known price: it adds nothing.
    spent = (
        select(func.coalesce(func.sum(RunRow.usage["cost_usd"].as_float()), 0.0))
        .where(of_experiment)
        .scalar_subquery()
    )
    return select(
        *(columns or (ExperimentRow,)), run_count, personas_stored, active, latest_outcome, spent
    )


EXPERIMENTS = experiments_query()
"""Every experiment with its run count, personas stored, status inputs and spend."""

EXPERIMENT_BY_ID = EXPERIMENTS.where(ExperimentRow.id == bindparam("experiment_id"))
"""One experiment (``experiment_id``) with its counts and status inputs."""

EXPERIMENT_SPEND = select(
    func.coalesce(func.sum(RunRow.usage["cost_usd"].as_float()), 0.0),
    func.coalesce(
        func.sum(case((RunRow.status.in_(ACTIVE), RunRow.spend_reserved_usd), else_=None)), 0.0
    ),
).where(RunRow.experiment_id == bindparam("b_experiment"))
"""What an experiment's runs recorded as spent, and what its queued and running runs hold of
its budget (their usage is recorded when they end)."""

KEY_SPEND = select(
    func.coalesce(func.sum(RunRow.usage["cost_usd"].as_float()), 0.0),
    func.coalesce(
        func.sum(case((RunRow.status.in_(ACTIVE), RunRow.spend_reserved_usd), else_=None)), 0.0
    ),
).where(RunRow.key_id == bindparam("b_key"))
"""What the runs an API key started recorded as spent, and what its queued and running ones
hold of its budget."""

LOCK_EXPERIMENT = (
    select(ExperimentRow.id).where(ExperimentRow.id == bindparam("b_experiment")).with_for_update()
)
"""Lock an experiment's row (PostgreSQL; SQLite has one writer) until the transaction ends."""

RUN_TABLE = cast(Table, RunRow.__table__)

EXPERIMENT_TABLE = cast(Table, ExperimentRow.__table__)

RUNS = RUN_TABLE.c

CURRENT_ATTEMPT = (
    RUNS.id == bindparam("b_run"),
    RUNS.status == "running",
    RUNS.attempts == bindparam("b_attempt"),
)
"""The condition of the attempt guard: the run ``b_run`` still running attempt ``b_attempt``."""

CLAIMED = (
    select(
        RUNS.attempts,
        RUNS.config,
        RUNS.experiment_id,
        EXPERIMENT_TABLE.c.data_sources,
        EXPERIMENT_TABLE.c.text_column,
        RUNS.spend_cap_usd,
    )
    .join_from(RUN_TABLE, EXPERIMENT_TABLE)
    .where(RUNS.id == bindparam("b_run"))
)
"""What the runner needs of a run it claimed: attempt, config, its experiment's sources and
its spend cap."""

CLAIM = (
    update(RUN_TABLE)
    .where(RUNS.id == bindparam("b_run"), RUNS.status == "queued")
    .values(
        status="running",
        attempts=RUNS.attempts + 1,
        started_at=bindparam("b_now"),
        progress=0.0,
        stage=CLAIMED_STAGE,
        lease_owner=bindparam("b_owner"),
        lease_expires_at=bindparam("b_expires", type_=UTCDateTime()),
    )
)
"""Queued → running: count the attempt, start the lease of ``b_owner`` until ``b_expires``."""

RENEW = (
    update(RUN_TABLE)
    .where(
        RUNS.id.in_(bindparam("b_runs", expanding=True)),
        RUNS.status == "running",
        RUNS.lease_owner == bindparam("b_owner"),
    )
    .values(lease_expires_at=bindparam("b_expires", type_=UTCDateTime()))
)
"""Extend ``b_owner``'s leases of the running runs ``b_runs`` until ``b_expires``."""

RELEASE = (
    update(RUN_TABLE)
    .where(RUNS.lease_owner == bindparam("b_owner"))
    .values(lease_owner=None, lease_expires_at=None)
)
"""Drop every lease ``b_owner`` holds, so that any runner takes its runs over at once."""

NO_LEASE = {"lease_owner": None, "lease_expires_at": None}
"""The lease columns of a run no process holds."""

PROGRESS = (
    update(RUN_TABLE)
    .where(*CURRENT_ATTEMPT)
    .values(progress=bindparam("b_progress"), stage=bindparam("b_stage"))
)
"""Record the progress and stage of the current attempt."""

SUCCEED = (
    update(RUN_TABLE)
    .where(*CURRENT_ATTEMPT)
    .values(
        status="succeeded",
        progress=1.0,
        stage="done",
        finished_at=bindparam("b_now"),
        usage=bindparam("b_usage"),
        grounding=bindparam("b_grounding"),
        warnings=bindparam("b_warnings"),
        **NO_LEASE,
    )
)
"""The current attempt succeeded: record its usage, grounding and warnings, end its lease."""

FAIL = (
    update(RUN_TABLE)
    .where(*CURRENT_ATTEMPT)
    .values(
        status="failed",
        stage="failed",
        finished_at=bindparam("b_now"),
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        usage=bindparam("b_usage"),
        **NO_LEASE,
    )
)
"""The current attempt failed: record its error and usage, end its lease."""

RUN_BY_ID = select(RUN_TABLE).where(RUNS.id == bindparam("b_run"))
"""One run's row (``b_run``)."""

INSERT_RUN = insert(RUN_TABLE)
"""Insert runs rows."""

PERSONA_TABLE = cast(Table, PersonaRow.__table__)

INSERT_PERSONAS = insert(PERSONA_TABLE)
"""Insert personas rows."""

RUN_PERSONAS = (
    select(PERSONA_TABLE)
    .where(PERSONA_TABLE.c.run_id == bindparam("b_run"))
    .order_by(PERSONA_TABLE.c.position)
)
"""A run's personas rows in their order."""

IDEMPOTENCY_TABLE = cast(Table, IdempotencyRow.__table__)

IDEMPOTENCY_KEY = select(IDEMPOTENCY_TABLE).where(
    IDEMPOTENCY_TABLE.c.experiment_id == bindparam("b_experiment"),
    IDEMPOTENCY_TABLE.c.key == bindparam("b_key"),
)
"""The run an experiment recorded under an idempotency key, with its request hash."""

INSERT_IDEMPOTENCY_KEY = insert(IDEMPOTENCY_TABLE)
"""Record the run an idempotency key made."""

EXPERIMENT_EXISTS = select(EXPERIMENT_TABLE.c.id).where(
    EXPERIMENT_TABLE.c.id == bindparam("b_experiment")
)
"""Whether the experiment ``b_experiment`` exists."""

TOUCH = (
    update(EXPERIMENT_TABLE)
    .where(EXPERIMENT_TABLE.c.id == bindparam("b_experiment"))
    .values(updated_at=bindparam("b_now"))
)
"""The experiment ``b_experiment`` changed at ``b_now`` (its ``updated_at``)."""

# Experiments

EXPERIMENT_RUN_SNAPSHOTS = select(RunRow.id, RunRow.evidence_set_id).where(
    RunRow.experiment_id == bindparam("b_experiment")
)
"""The ids of an experiment's runs with the evidence snapshot each read."""

DELETE_EXPERIMENT_CHILDREN = tuple(
    delete(table).where(table.experiment_id == bindparam("b_experiment"))
    for table in (IdempotencyRow, PersonaRow, RunEventRow, RunRow, PseudonymRow)
)
"""Delete an experiment's idempotency keys, personas, run events, runs and pseudonyms, child
tables first: the cascade does not depend on the database honouring ON DELETE CASCADE."""

DELETE_EXPERIMENT = delete(ExperimentRow).where(ExperimentRow.id == bindparam("b_experiment"))
"""Delete the experiments row itself (after its children)."""

ACTIVE_RUN_IDS = select(RunRow.id).where(
    RunRow.experiment_id == bindparam("b_experiment"), RunRow.status.in_(ACTIVE)
)
"""The ids of an experiment's queued and running runs."""

TOUCH_ORM = (
    update(ExperimentRow)
    .where(ExperimentRow.id == bindparam("b_experiment"))
    .values(updated_at=bindparam("b_now"))
    .execution_options(synchronize_session=False)
)
"""``TOUCH`` for an ORM session (which leaves its loaded experiments as they are)."""

# Runs

EXPERIMENT_RUNS = select(RunRow).where(RunRow.experiment_id == bindparam("b_experiment"))
"""An experiment's runs (the listing adds its status filter, cursor and order)."""

UNHELD_RUNS = (
    select(RunRow)
    .where(
        or_(
            RunRow.status == "queued",
            and_(
                RunRow.status == "running",
                or_(
                    RunRow.lease_expires_at.is_(None),
                    RunRow.lease_expires_at <= bindparam("b_now", type_=UTCDateTime()),
                ),
            ),
        )
    )
    .order_by(RunRow.created_at, RunRow.id)
    # A row another transaction holds is being claimed or written by a live process: skipped,
    # not waited for (waiting deadlocked with batched claims).
    .with_for_update(skip_locked=True)
)
"""Active runs no live process holds at ``b_now``, oldest first, locked (rows locked by
another transaction skipped): queued ones, and running ones whose lease is absent or
expired."""

UNFINISHED_RUN = (
    select(RunRow)
    .where(RunRow.id == bindparam("b_run"), RunRow.status.in_(("queued", "running")))
    .with_for_update()
)
"""The run ``b_run`` if it is queued or running, locked."""

RUNNING_ATTEMPT = select(RunRow).where(*CURRENT_ATTEMPT).with_for_update()
"""The run ``b_run`` if it is still running attempt ``b_attempt``, locked."""

STALLED_RUN = UNFINISHED_RUN.where(
    or_(
        RunRow.lease_expires_at.is_(None),
        RunRow.lease_expires_at <= bindparam("b_fresh_after", type_=UTCDateTime()),
    )
)
"""The run ``b_run`` if it is queued or running and its lease, if any, expires no later
than ``b_fresh_after`` (its holder has not renewed it lately), locked."""

CONNECTION_HEADROOM = text(
    "SELECT current_setting('max_connections')::int AS max_connections, "
    "current_setting('superuser_reserved_connections')::int AS reserved, "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS in_use"
)
"""PostgreSQL: its connection limit, the slots kept for superusers, and the client
connections open now."""

RUN_STATUS = select(RunRow.status).where(RunRow.id == bindparam("b_run"))
"""The status of the run ``b_run``."""

RUN_STATUSES = select(RunRow.id, RunRow.experiment_id, RunRow.status).where(
    RunRow.id.in_(bindparam("b_runs", expanding=True))
)
"""The experiment and status of each of the runs ``b_runs`` that exists."""

PERSONA_IDS_OF_RUNS = (
    select(PersonaRow.run_id, PersonaRow.id)
    .where(PersonaRow.run_id.in_(bindparam("b_runs", expanding=True)))
    .order_by(PersonaRow.run_id, PersonaRow.position)
)
"""The persona ids of the runs ``b_runs``, each run's in their order."""

# Evidence and personas

RUN_SNAPSHOT = select(RunRow.evidence_set_id).where(RunRow.id == bindparam("b_run"))
"""The evidence snapshot the run ``b_run`` read."""

LATEST_SUCCEEDED_RUN = (
    select(RunRow.id)
    .where(RunRow.experiment_id == bindparam("b_experiment"), RunRow.status == "succeeded")
    .order_by(RunRow.created_at.desc(), RunRow.id.desc())
    .limit(1)
)
"""The id of the experiment's newest succeeded run."""

EXPERIMENT_PERSONAS = select(PersonaRow).where(
    PersonaRow.experiment_id == bindparam("b_experiment")
)
"""An experiment's personas (the listing adds its run filter, cursor and order)."""

RUN_EVENT_TABLE = cast(Table, RunEventRow.__table__)
"""The ``run_events`` table, for the Core statements below."""

INSERT_RUN_EVENT = insert(RUN_EVENT_TABLE).from_select(
    ["run_id", "seq", "experiment_id", "type", "created_at", "payload"],
    select(
        bindparam("b_run"),
        func.coalesce(func.max(RUN_EVENT_TABLE.c.seq), 0) + 1,
        bindparam("b_experiment"),
        bindparam("b_type"),
        bindparam("b_now", type_=UTCDateTime()),
        bindparam("b_payload", type_=RUN_EVENT_TABLE.c.payload.type),
    ).where(RUN_EVENT_TABLE.c.run_id == bindparam("b_run")),
)
"""Append one event to a run's events, numbered one after its latest (the run's row is
locked by the state change in the same transaction, so the numbers never collide)."""

RUN_EVENTS_AFTER = (
    select(RUN_EVENT_TABLE)
    .where(
        RUN_EVENT_TABLE.c.run_id == bindparam("b_run"), RUN_EVENT_TABLE.c.seq > bindparam("b_after")
    )
    .order_by(RUN_EVENT_TABLE.c.seq)
    .limit(bindparam("b_limit"))
)
"""A run's events after sequence number ``b_after``, oldest first, at most ``b_limit``."""

RUN_EVENT_HEADS = (
    select(RUN_EVENT_TABLE.c.run_id, func.max(RUN_EVENT_TABLE.c.seq).label("seq"))
    .where(RUN_EVENT_TABLE.c.run_id.in_(bindparam("b_runs", expanding=True)))
    .group_by(RUN_EVENT_TABLE.c.run_id)
)
"""The latest event number of each of the runs ``b_runs`` that has events."""

RUN_EVENTS_OF_RUNS = (
    select(RUN_EVENT_TABLE)
    .where(
        RUN_EVENT_TABLE.c.run_id.in_(bindparam("b_runs", expanding=True)),
        RUN_EVENT_TABLE.c.seq > bindparam("b_after"),
    )
    .order_by(RUN_EVENT_TABLE.c.run_id, RUN_EVENT_TABLE.c.seq)
)
"""The events of the runs ``b_runs`` numbered after ``b_after``, run by run, oldest first
(callers keep those past each run's own position)."""

EXPERIMENT_EVENT_HEADS = (
    select(RUN_EVENT_TABLE.c.run_id, func.max(RUN_EVENT_TABLE.c.seq).label("seq"))
    .where(RUN_EVENT_TABLE.c.experiment_id.in_(bindparam("b_experiments", expanding=True)))
    .group_by(RUN_EVENT_TABLE.c.run_id)
)
"""The latest event number of each run of the experiments ``b_experiments``."""

EXPERIMENT_EVENTS_FROM = (
    select(RUN_EVENT_TABLE)
    .where(
        RUN_EVENT_TABLE.c.experiment_id == bindparam("b_experiment"),
        tuple_(RUN_EVENT_TABLE.c.created_at, RUN_EVENT_TABLE.c.run_id, RUN_EVENT_TABLE.c.seq)
        > tuple_(
            bindparam("b_time", type_=UTCDateTime()), bindparam("b_run"), bindparam("b_after")
        ),
    )
    .order_by(RUN_EVENT_TABLE.c.created_at, RUN_EVENT_TABLE.c.run_id, RUN_EVENT_TABLE.c.seq)
    .limit(bindparam("b_limit"))
)
"""An experiment's events after the one at (``b_time``, ``b_run``, ``b_after``) in the order
(time, run, number), at most ``b_limit``: the backlog of an experiment's stream."""

RUN_EVENT_BY_KEY = select(RUN_EVENT_TABLE).where(
    RUN_EVENT_TABLE.c.run_id == bindparam("b_run"), RUN_EVENT_TABLE.c.seq == bindparam("b_seq")
)
"""One event, by its run and number."""

# --------------------------------------------------------------------------- webhooks

WEBHOOK_TABLE = cast(Table, WebhookRow.__table__)
WEBHOOK_TYPE_TABLE = cast(Table, WebhookEventTypeRow.__table__)
DELIVERY_TABLE = cast(Table, WebhookDeliveryRow.__table__)

INSERT_DELIVERIES = insert(DELIVERY_TABLE).from_select(
    [
        "webhook_id",
        "run_id",
        "seq",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ],
    select(
        WEBHOOK_TABLE.c.id,
        bindparam("b_run"),
        select(func.max(RUN_EVENT_TABLE.c.seq))
        .where(RUN_EVENT_TABLE.c.run_id == bindparam("b_run"))
        .scalar_subquery(),
        bindparam("b_type"),
        literal("pending"),
        literal(0),
        bindparam("b_now", type_=UTCDateTime()),
        bindparam("b_now", type_=UTCDateTime()),
        bindparam("b_now", type_=UTCDateTime()),
    ).where(
        WEBHOOK_TABLE.c.enabled.is_(True),
        exists().where(
            WEBHOOK_TYPE_TABLE.c.webhook_id == WEBHOOK_TABLE.c.id,
            WEBHOOK_TYPE_TABLE.c.event_type.in_([bindparam("b_type"), "*"]),
        ),
    ),
)
"""One pending delivery of the run's latest event (just recorded) to every enabled webhook
that receives its type."""

DUE_DELIVERIES = (
    select(DELIVERY_TABLE.c.webhook_id, DELIVERY_TABLE.c.run_id, DELIVERY_TABLE.c.seq)
    .where(
        DELIVERY_TABLE.c.status == "pending",
        DELIVERY_TABLE.c.next_attempt_at <= bindparam("b_now", type_=UTCDateTime()),
        or_(
            DELIVERY_TABLE.c.lease_expires_at.is_(None),
            DELIVERY_TABLE.c.lease_expires_at < bindparam("b_now", type_=UTCDateTime()),
        ),
    )
    .order_by(DELIVERY_TABLE.c.next_attempt_at)
    .limit(bindparam("b_limit"))
)
"""Pending deliveries whose next attempt is due and that no sender holds, oldest first."""

CLAIM_DELIVERY = (
    update(DELIVERY_TABLE)
    .where(
        DELIVERY_TABLE.c.webhook_id == bindparam("b_webhook"),
        DELIVERY_TABLE.c.run_id == bindparam("b_run"),
        DELIVERY_TABLE.c.seq == bindparam("b_seq"),
        DELIVERY_TABLE.c.status == "pending",
        or_(
            DELIVERY_TABLE.c.lease_expires_at.is_(None),
            DELIVERY_TABLE.c.lease_expires_at < bindparam("b_now", type_=UTCDateTime()),
        ),
    )
    .values(
        attempts=DELIVERY_TABLE.c.attempts + 1,
        lease_expires_at=bindparam("b_lease", type_=UTCDateTime()),
    )
)
"""Hold one due delivery for an attempt (no-op when another sender took it first)."""

FINISH_ATTEMPT = (
    update(DELIVERY_TABLE)
    .where(
        DELIVERY_TABLE.c.webhook_id == bindparam("b_webhook"),
        DELIVERY_TABLE.c.run_id == bindparam("b_run"),
        DELIVERY_TABLE.c.seq == bindparam("b_seq"),
    )
    .values(
        status=bindparam("b_status"),
        next_attempt_at=bindparam("b_next", type_=UTCDateTime()),
        lease_expires_at=None,
        response_status=bindparam("b_response"),
        error=bindparam("b_error"),
        duration_ms=bindparam("b_duration"),
        updated_at=bindparam("b_now", type_=UTCDateTime()),
    )
)
"""Record how an attempt ended: succeeded, failed for good, or pending until ``b_next``."""
