"""API keys (a hash of each secret, never the secret) and what each key's runs have spent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import inspect, make_url, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from persona.access.schemas import ApiKey, ApiKeyWithSecret
from persona.access.scopes import Scope
from persona.errors import NotFoundError
from persona.storage import queries
from persona.storage.database import Database
from persona.storage.models import ApiKeyRow, RunRow
from persona.storage.rows import StoreBase


@dataclass(frozen=True)
class StoredKey:
    """What checking a presented secret needs of a key's row."""

    id: str
    name: str
    scope: Scope
    secret_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class KeySpend:
    """What a key's runs have cost so far, and the most they may (None: no cap)."""

    key_id: str
    spent_usd: float
    max_cost_usd: float | None
    reserved_usd: float = 0.0
    """Held by the key's queued and running runs: the upper bounds of their estimates."""


STORED_KEY = select(
    ApiKeyRow.id,
    ApiKeyRow.name,
    ApiKeyRow.scope,
    ApiKeyRow.secret_hash,
    ApiKeyRow.expires_at,
    ApiKeyRow.revoked_at,
    ApiKeyRow.last_used_at,
)
"""The columns of ``StoredKey``, in its order."""


class KeyStore(StoreBase):
    def create_key(
        self,
        *,
        key_id: str,
        name: str,
        scope: Scope,
        prefix: str,
        secret_hash: str,
        secret: str,
        expires_at: datetime | None,
        max_cost_usd: float | None,
        now: datetime,
    ) -> ApiKeyWithSecret:
        """Store a key; ``secret`` is only handed back in the answer, never stored."""
        with self.db.write() as session:
            row = ApiKeyRow(
                id=key_id,
                name=name,
                scope=scope.value,
                prefix=prefix,
                secret_hash=secret_hash,
                max_cost_usd=max_cost_usd,
                created_at=now,
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            return ApiKeyWithSecret(**_key_fields(row, 0.0), secret=secret)

    def list_keys(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first, with what each has spent."""
        with self.db.read() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id))
            keys = list(rows)
            spent = _spent(session, [row.id for row in keys])
            return [ApiKey(**_key_fields(row, spent.get(row.id, 0.0))) for row in keys]

    def get_key(self, key_id: str) -> ApiKey:
        with self.db.read() as session:
            row = _key_row(session, key_id)
            return ApiKey(**_key_fields(row, _spent(session, [key_id]).get(key_id, 0.0)))

    def revoke_key(self, key_id: str, now: datetime) -> None:
        """Revoke the key from now on; revoking a revoked key changes nothing."""
        with self.db.write() as session:
            row = _key_row(session, key_id)
            if row.revoked_at is None:
                row.revoked_at = now

    def update_key_budget(self, key_id: str, max_cost_usd: float | None) -> ApiKey:
        """Set the key's cap; a revoked key is gone for this (kept only for the record)."""
        with self.db.write() as session:
            row = _key_row(session, key_id)
            if row.revoked_at is not None:
                raise RevokedKeyError(key_id)
            row.max_cost_usd = max_cost_usd
            session.flush()
            return ApiKey(**_key_fields(row, _spent(session, [key_id]).get(key_id, 0.0)))

    def keys_with_prefix(self, prefix: str) -> list[StoredKey]:
        with self.db.read_connection() as connection:
            rows = connection.execute(STORED_KEY.where(ApiKeyRow.prefix == prefix))
            return [StoredKey(r.id, r.name, Scope(r.scope), *r[3:]) for r in rows]

    def stored_key(self, key_id: str) -> StoredKey | None:
        with self.db.read_connection() as connection:
            row = connection.execute(STORED_KEY.where(ApiKeyRow.id == key_id)).first()
            return None if row is None else StoredKey(row.id, row.name, Scope(row.scope), *row[3:])

    def any_keys(self) -> bool:
        """Whether a key was ever created (revoked ones count: the server stays closed)."""
        with self.db.read_connection() as connection:
            return connection.execute(select(ApiKeyRow.id).limit(1)).first() is not None

    def note_key_used(self, key_id: str, now: datetime) -> None:
        with self.db.write_connection() as connection:
            connection.execute(
                update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=now)
            )

    def key_spend(self, key_id: str) -> KeySpend:
        """Spend and cap of one key: what a budget check over the key needs."""
        with self.db.read() as session:
            row = _key_row(session, key_id)
            spent, reserved = session.execute(queries.KEY_SPEND, {"b_key": key_id}).one()
            return KeySpend(key_id, float(spent), row.max_cost_usd, float(reserved))


class RevokedKeyError(NotFoundError):
    def __init__(self, key_id: str) -> None:
        super().__init__("key", key_id)
        self.message = f"key {key_id!r} was revoked: it can no longer be changed"


def _key_row(session: Session, key_id: str) -> ApiKeyRow:
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFoundError("key", key_id)
    return row


def _spent(session: Session, key_ids: Iterable[str]) -> dict[str, float]:
    """The cost of the runs each key started (a run without a known cost counts nothing)."""
    ids = list(key_ids)
    if not ids:
        return {}
    totals: dict[str, float] = {}
    for key_id, usage in session.execute(
        select(RunRow.key_id, RunRow.usage).where(RunRow.key_id.in_(ids))
    ):
        cost = (usage or {}).get("cost_usd") or 0.0
        totals[key_id] = totals.get(key_id, 0.0) + float(cost)
    return totals


def _key_fields(row: ApiKeyRow, spent: float) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "scope": Scope(row.scope),
        "prefix": row.prefix,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
        "max_cost_usd": row.max_cost_usd,
        "spent_usd": round(spent, 6),
    }


def database_has_keys(url: str) -> bool:
    """Whether keys were created in the database at ``url`` (False before its first start)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return False  # connecting would create the file, and its folders
    database = Database(url, pool_size=1)
    try:
        with database.read_connection() as connection:
            if not inspect(connection).has_table(ApiKeyRow.__tablename__):
                return False
            return connection.execute(select(ApiKeyRow.id).limit(1)).first() is not None
    except SQLAlchemyError:
        return False
    finally:
        database.dispose()
