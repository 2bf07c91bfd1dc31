"""Run events: every state change of a run, stored in the transaction of the change."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection

from persona.storage import queries

RUN_EVENT_TYPES = (
    "run.queued",
    "run.started",
    "run.progress",
    "run.succeeded",
    "run.failed",
    "run.cancelled",
)
TERMINAL_EVENT_TYPES = frozenset({"run.succeeded", "run.failed", "run.cancelled"})


class StoredRunEvent(BaseModel):
    """One event as stored: its number within the run, type, time and payload."""

    run_id: str
    experiment_id: str
    seq: int
    type: str
    created_at: datetime
    payload: dict[str, Any]


def record_event(
    connection: Connection,
    run_id: str,
    experiment_id: str,
    event_type: str,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> None:
    """Append an event to the run's events, on the connection of the state change it
    reports, so the change and its event commit (or roll back) together; and with it, its
    deliveries to the webhooks that receive its type, so none is lost to a crash."""
    if event_type not in RUN_EVENT_TYPES:
        raise ValueError(f"unknown run event type {event_type!r}")
    connection.execute(
        queries.INSERT_RUN_EVENT,
        {
            "b_run": run_id,
            "b_experiment": experiment_id,
            "b_type": event_type,
            "b_now": now,
            "b_payload": payload or {},
        },
    )
    connection.execute(
        queries.INSERT_DELIVERIES, {"b_run": run_id, "b_type": event_type, "b_now": now}
    )


def events_after(
    connection: Connection, run_id: str, after: int = 0, limit: int = 1000
) -> list[StoredRunEvent]:
    """The run's events numbered after ``after``, oldest first."""
    rows = connection.execute(
        queries.RUN_EVENTS_AFTER, {"b_run": run_id, "b_after": after, "b_limit": limit}
    )
    return [StoredRunEvent.model_validate(row._asdict()) for row in rows]


def event_heads(
    connection: Connection, run_ids: Collection[str], experiment_ids: Collection[str]
) -> dict[str, int]:
    """The latest event number of each run among ``run_ids`` and the runs of
    ``experiment_ids`` (runs with no event are left out)."""
    heads: dict[str, int] = {}
    if run_ids:
        for run_id, seq in connection.execute(queries.RUN_EVENT_HEADS, {"b_runs": list(run_ids)}):
            heads[run_id] = seq
    if experiment_ids:
        rows = connection.execute(
            queries.EXPERIMENT_EVENT_HEADS, {"b_experiments": list(experiment_ids)}
        )
        for run_id, seq in rows:
            heads[run_id] = seq
    return heads


def parse_event_key(key: str) -> tuple[str, int] | None:
    """(run id, event number) from an event's key, ``{run_id}:{event id}``; None if not one."""
    run_id, _, seq = key.rpartition(":")
    if not run_id or not seq.isdigit() or len(seq) > 12:
        return None
    return run_id, int(seq)
