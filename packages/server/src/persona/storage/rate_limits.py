"""Fixed-window request counters shared by every process on the database.

One row per (subject, window); a hit is one UPSERT that returns the new count, atomic on
SQLite and PostgreSQL alike, so N replicas share one limit rather than having N."""

from __future__ import annotations

from sqlalchemy import Connection, delete
from sqlalchemy.dialects import postgresql, sqlite

from persona.storage.models import RateLimitRow
from persona.storage.rows import StoreBase


class RateLimitStore(StoreBase):
    def count_hits(self, subject: str, window_start: int, amount: int = 1) -> int:
        """Add ``amount`` requests of ``subject`` to the window; the window's count with them."""
        with self.db.write_connection() as connection:
            return _upsert_count(connection, subject, window_start, amount)

    def prune_rate_limits(self, before: int) -> None:
        """Delete the counters of windows that opened before ``before`` (epoch seconds)."""
        with self.db.write_connection() as connection:
            connection.execute(delete(RateLimitRow).where(RateLimitRow.window_start < before))


def _upsert_count(connection: Connection, subject: str, window_start: int, amount: int) -> int:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RateLimitRow).values(
        subject=subject, window_start=window_start, count=amount
    )
    statement = statement.on_conflict_do_update(
        index_elements=[RateLimitRow.subject, RateLimitRow.window_start],
        set_={"count": RateLimitRow.count + amount},
    ).returning(RateLimitRow.count)
    return int(connection.execute(statement).scalar_one())
