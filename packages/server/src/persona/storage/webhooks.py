"""Webhooks and their deliveries: endpoints, secrets, and the state of every delivery.

A delivery is created with its event (``record_event``), so a crash loses none. Senders in
any process claim a due delivery for one attempt with a lease (the claim's UPDATE re-checks
that no other sender holds it), and record how the attempt ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from persona.errors import NotFoundError
from persona.storage import queries
from persona.storage.cursor import PositionCursor
from persona.storage.events import StoredRunEvent, parse_event_key
from persona.storage.models import WebhookDeliveryRow, WebhookEventTypeRow, WebhookRow
from persona.storage.rows import StoreBase, check_limit

DeliveryKey = tuple[str, str, int]
"""(webhook id, run id, event number)."""


@dataclass(frozen=True)
class StoredWebhook:
    """A webhook as stored; ``secret`` is set only by the calls that create or rotate it."""

    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    secret: str | None = None


@dataclass(frozen=True)
class StoredDelivery:
    """One delivery's state; ``id`` is its event's key, ``{run_id}:{event id}``."""

    id: str
    webhook_id: str
    event_type: str
    run_id: str
    event_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    response_status: int | None
    error: str | None
    duration_ms: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoredDeliveryPage:
    items: list[StoredDelivery]
    next_cursor: str | None


@dataclass(frozen=True)
class Outgoing:
    """What one attempt sends: where, signed with which secrets, and the event."""

    key: DeliveryKey
    url: str
    secrets: list[str]
    event: StoredRunEvent
    attempts: int


class WebhookStore(StoreBase):
    def create_webhook(
        self,
        *,
        webhook_id: str,
        url: str,
        events: Sequence[str],
        description: str | None,
        secret: str,
        now: datetime,
    ) -> StoredWebhook:
        with self.db.write() as session:
            row = WebhookRow(
                id=webhook_id,
                url=url,
                description=description,
                secret=secret,
                enabled=True,
                created_at=now,
            )
            session.add(row)
            session.flush()
            types = sorted(set(events))  # as every later read lists them
            session.add_all(
                WebhookEventTypeRow(webhook_id=webhook_id, event_type=event_type)
                for event_type in types
            )
            session.flush()
            return _webhook(row, types, secret)

    def list_webhooks(self) -> list[StoredWebhook]:
        with self.db.read() as session:
            rows = session.scalars(select(WebhookRow).order_by(WebhookRow.created_at)).all()
            types = _event_types(session, [row.id for row in rows])
            return [_webhook(row, types.get(row.id, [])) for row in rows]

    def get_webhook(self, webhook_id: str) -> StoredWebhook:
        with self.db.read() as session:
            row = _webhook_row(session, webhook_id)
            return _webhook(row, _event_types(session, [webhook_id]).get(row.id, []))

    def delete_webhook(self, webhook_id: str) -> None:
        with self.db.write() as session:
            _webhook_row(session, webhook_id)
            for model in (WebhookDeliveryRow, WebhookEventTypeRow):
                session.execute(delete(model).where(model.webhook_id == webhook_id))
            session.execute(delete(WebhookRow).where(WebhookRow.id == webhook_id))

    def rotate_webhook_secret(
        self, webhook_id: str, secret: str, now: datetime, overlap: timedelta
    ) -> StoredWebhook:
        """A new secret; the current one keeps signing too for ``overlap``, and so does every
        earlier one still inside its own grace period (a second rotation drops none)."""
        with self.db.write() as session:
            row = _webhook_row(session, webhook_id, for_update=True)
            replaced = {"secret": row.secret, "expires_at": (now + overlap).isoformat()}
            row.previous_secrets = [replaced, *_in_grace(row.previous_secrets, now)]
            row.secret = secret
            session.flush()
            types = _event_types(session, [webhook_id]).get(row.id, [])
            return _webhook(row, types, secret)

    def list_deliveries(
        self, webhook_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> StoredDeliveryPage:
        """The webhook's deliveries, newest first."""
        check_limit(limit)
        start = PositionCursor.decode(cursor, kind="deliveries").position if cursor else 0
        with self.db.read() as session:
            _webhook_row(session, webhook_id)
            rows = session.scalars(
                select(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.webhook_id == webhook_id)
                .order_by(
                    WebhookDeliveryRow.created_at.desc(),
                    WebhookDeliveryRow.run_id.desc(),
                    WebhookDeliveryRow.seq.desc(),
                )
                .offset(start)
                .limit(limit + 1)
            ).all()
        items = [_delivery(row) for row in rows[:limit]]
        more = len(rows) > limit
        next_cursor = PositionCursor("deliveries", start + limit).encode() if more else None
        return StoredDeliveryPage(items=items, next_cursor=next_cursor)

    def redeliver(self, webhook_id: str, delivery_id: str, now: datetime) -> StoredDelivery:
        """Send the delivery again as soon as a sender is free, whatever its state."""
        with self.db.write() as session:
            row = _delivery_row(session, webhook_id, delivery_id)
            row.status, row.next_attempt_at, row.updated_at = "pending", now, now
            row.lease_expires_at = None
            session.flush()
            return _delivery(row)

    # ------------------------------------------------------------------ senders

    def due_deliveries(self, now: datetime, limit: int) -> list[DeliveryKey]:
        with self.db.read() as session:
            rows = session.execute(queries.DUE_DELIVERIES, {"b_now": now, "b_limit": limit})
            return [(row.webhook_id, row.run_id, row.seq) for row in rows]

    def claim_delivery(self, key: DeliveryKey, now: datetime, lease: timedelta) -> Outgoing | None:
        """Hold ``key`` for one attempt; what to send, or None when another sender has it
        (or its webhook is disabled)."""
        params = {"b_webhook": key[0], "b_run": key[1], "b_seq": key[2]}
        with self.db.write_connection() as connection:
            claimed = connection.execute(
                queries.CLAIM_DELIVERY, {**params, "b_now": now, "b_lease": now + lease}
            )
            if claimed.rowcount != 1:
                return None
            webhook = connection.execute(select(WebhookRow).where(WebhookRow.id == key[0])).one()
            event = connection.execute(
                queries.RUN_EVENT_BY_KEY, {"b_run": key[1], "b_seq": key[2]}
            ).one()
            attempts = connection.execute(
                select(WebhookDeliveryRow.attempts).where(
                    WebhookDeliveryRow.webhook_id == key[0],
                    WebhookDeliveryRow.run_id == key[1],
                    WebhookDeliveryRow.seq == key[2],
                )
            ).scalar_one()
        if not webhook.enabled:
            self.finish_attempt(key, "failed", None, now, error="the webhook is disabled")
            return None
        in_grace = _in_grace(webhook.previous_secrets, now)
        secrets = [webhook.secret, *(kept["secret"] for kept in in_grace)]
        return Outgoing(
            key, webhook.url, secrets, StoredRunEvent.model_validate(event._asdict()), attempts
        )

    def finish_attempt(
        self,
        key: DeliveryKey,
        status: str,
        next_attempt_at: datetime | None,
        now: datetime,
        *,
        response_status: int | None = None,
        error: str | None = None,
        duration_ms: int | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "b_webhook": key[0],
            "b_run": key[1],
            "b_seq": key[2],
            "b_status": status,
            "b_next": next_attempt_at,
            "b_response": response_status,
            "b_error": error,
            "b_duration": duration_ms,
            "b_now": now,
        }
        with self.db.write_connection() as connection:
            connection.execute(queries.FINISH_ATTEMPT, values)

    def disable_webhook(self, webhook_id: str, reason: str) -> None:
        with self.db.write() as session:
            row = session.get(WebhookRow, webhook_id)
            if row is not None:
                row.enabled, row.disabled_reason = False, reason


def _in_grace(previous: list[dict[str, str]] | None, now: datetime) -> list[dict[str, str]]:
    """The replaced secrets whose grace period has not ended, newest first."""
    return [kept for kept in previous or [] if datetime.fromisoformat(kept["expires_at"]) > now]


def _webhook_row(session: Any, webhook_id: str, *, for_update: bool = False) -> WebhookRow:
    row: WebhookRow | None = session.get(WebhookRow, webhook_id, with_for_update=for_update)
    if row is None:
        raise NotFoundError("webhook", webhook_id)
    return row


def _delivery_row(session: Any, webhook_id: str, delivery_id: str) -> WebhookDeliveryRow:
    parsed = parse_event_key(delivery_id)
    row = None
    if parsed is not None:
        row = session.get(WebhookDeliveryRow, (webhook_id, *parsed), with_for_update=True)
    if row is None:
        raise NotFoundError("delivery", delivery_id)
    return row  # type: ignore[no-any-return]


def _event_types(session: Any, webhook_ids: list[str]) -> dict[str, list[str]]:
    types: dict[str, list[str]] = {}
    rows = session.execute(
        select(WebhookEventTypeRow.webhook_id, WebhookEventTypeRow.event_type)
        .where(WebhookEventTypeRow.webhook_id.in_(webhook_ids))
        .order_by(WebhookEventTypeRow.event_type)
    )
    for webhook_id, event_type in rows:
        types.setdefault(webhook_id, []).append(event_type)
    return types


def _webhook(row: WebhookRow, events: list[str], secret: str | None = None) -> StoredWebhook:
    return StoredWebhook(
        id=row.id,
        url=row.url,
        events=events,
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        secret=secret,
    )


def _delivery(row: WebhookDeliveryRow) -> StoredDelivery:
    return StoredDelivery(
        id=f"{row.run_id}:{row.seq}",
        webhook_id=row.webhook_id,
        event_type=row.event_type,
        run_id=row.run_id,
        event_id=row.seq,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        response_status=row.response_status,
        error=row.error,
        duration_ms=row.duration_ms,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
