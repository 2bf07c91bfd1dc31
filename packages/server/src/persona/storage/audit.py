"""The audit log: one row per state-changing request, and its pruning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from persona.access.schemas import AuditEntry, AuditPage
from persona.storage.models import AuditRow
from persona.storage.rows import StoreBase, _after_cursor, _next_cursor, check_limit


@dataclass(frozen=True)
class AuditFilter:
    key_id: str | None = None
    operation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditRecord:
    id: str
    created_at: datetime
    key_id: str | None
    key_name: str | None
    operation_id: str
    status: int
    request_id: str | None
    target_ids: dict[str, str] = field(default_factory=dict)


class AuditStore(StoreBase):
    def record_audit(self, records: Sequence[AuditRecord]) -> None:
        """Insert entries (a small write: queue it for the next group commit)."""
        with self.db.write_connection() as connection:
            connection.execute(insert(AuditRow), [vars(record) for record in records])

    def list_audit_entries(
        self, where: AuditFilter, *, limit: int = 50, cursor: str | None = None
    ) -> AuditPage:
        """Entries newest first."""
        check_limit(limit)
        stmt: Any = select(AuditRow)
        if where.key_id is not None:
            stmt = stmt.where(AuditRow.key_id == where.key_id)
        if where.operation_id is not None:
            stmt = stmt.where(AuditRow.operation_id == where.operation_id)
        if where.since is not None:
            stmt = stmt.where(AuditRow.created_at >= where.since)
        if where.until is not None:
            stmt = stmt.where(AuditRow.created_at < where.until)
        stmt = _after_cursor(stmt, AuditRow.created_at, AuditRow.id, cursor, "audit")
        with self.db.read() as session:
            rows = list(session.scalars(stmt.limit(limit + 1)))
        items = [AuditEntry.model_validate(row, from_attributes=True) for row in rows[:limit]]
        return AuditPage(items=items, next_cursor=_next_cursor(rows, limit, "audit"))

    def prune_audit(self, before: datetime) -> int:
        """Delete the entries older than ``before``; how many went."""
        with self.db.write_connection() as connection:
            deleted = connection.execute(delete(AuditRow).where(AuditRow.created_at < before))
            return int(deleted.rowcount or 0)
