"""Fixed-window request counters shared by every process on the database.

One row per (subject, window); a hit is one UPSERT that returns the new count, atomic on
SQLite and PostgreSQL alike, so N replicas share one limit rather than having N."""

from __future__ import annotations

from sqlalchemy import Connection, delete
from sqlalchemy.dialects import postgresql, sqlite

from persona.storage.models import RateLimitRow
from persona.storage.rows import StoreBase


class RateLimitStore(StoreBase):
    def count_hit(self, subject: str, window_start: int) -> int:
        """Count one request of ``subject`` in the window; the window's count with it."""
        with self.db.write_connection() as connection:
            return _upsert_count(connection, subject, window_start)

    def prune_rate_limits(self, before: int) -> None:
        """Delete the counters of windows that opened before ``before`` (epoch seconds)."""
        with self.db.write_connection() as connection:
            connection.execute(delete(RateLimitRow).where(RateLimitRow.window_start < before))


def _upsert_count(connection: Connection, subject: str, window_start: int) -> int:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RateLimitRow).values(
        subject=subject, window_start=window_start, count=1
    )
    statement = statement.on_conflict_do_update(
        index_elements=[RateLimitRow.subject, RateLimitRow.window_start],
        set_={"count": RateLimitRow.count + 1},
    ).returning(RateLimitRow.count)
    return int(connection.execute(statement).scalar_one())
