"""Keys (create, list, update the spend cap, revoke) and the audit log: admin scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Literal

from persona_client import _operations as ops
from persona_client._resources._resource import (
    _aitems,
    _apaginate,
    _AsyncResource,
    _paginate,
    _Resource,
)
from persona_client.models import ApiKey, ApiKeyList, ApiKeyWithSecret, AuditEntry, AuditPage

Scope = Literal["read", "write", "admin"]


class Keys(_Resource):
    def create(
        self,
        *,
        name: str,
        scope: Scope,
        expires_at: datetime | None = None,
        max_cost_usd: float | None = None,
    ) -> ApiKeyWithSecret:
        """A new key. Keep the returned ``secret`` (``psk_…``): it is shown only now."""
        operation = ops.create_key(
            name=name, scope=scope, expires_at=expires_at, max_cost_usd=max_cost_usd
        )
        return self._request(operation)

    def list(self) -> ApiKeyList:
        """Every key, revoked ones too, with what each has spent (never a secret)."""
        return self._request(ops.list_keys())

    def iter(self) -> Iterator[ApiKey]:
        """Every key, revoked ones too."""
        return iter(self.list().items)

    def update(self, key_id: str, *, max_cost_usd: float | None) -> ApiKey:
        """Set the key's spend cap in US dollars; None removes it."""
        return self._request(ops.update_key(key_id, max_cost_usd=max_cost_usd))

    def revoke(self, key_id: str) -> None:
        """Every server on the database refuses the key from now on."""
        self._request(ops.revoke_key(key_id))


class AsyncKeys(_AsyncResource):
    async def create(
        self,
        *,
        name: str,
        scope: Scope,
        expires_at: datetime | None = None,
        max_cost_usd: float | None = None,
    ) -> ApiKeyWithSecret:
        """A new key; see ``Keys.create``."""
        operation = ops.create_key(
            name=name, scope=scope, expires_at=expires_at, max_cost_usd=max_cost_usd
        )
        return await self._request(operation)

    async def list(self) -> ApiKeyList:
        return await self._request(ops.list_keys())

    def iter(self) -> AsyncIterator[ApiKey]:
        """Every key, revoked ones too."""
        return _aitems(self.list())

    async def update(self, key_id: str, *, max_cost_usd: float | None) -> ApiKey:
        return await self._request(ops.update_key(key_id, max_cost_usd=max_cost_usd))

    async def revoke(self, key_id: str) -> None:
        await self._request(ops.revoke_key(key_id))


class Audit(_Resource):
    def list(
        self,
        *,
        key_id: str | None = None,
        operation_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AuditPage:
        """One page of audit entries, newest first, filtered by key, operation and time."""
        operation = ops.list_audit_entries(
            key_id=key_id,
            operation_id=operation_id,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        return self._request(operation)

    def iter(
        self,
        *,
        key_id: str | None = None,
        operation_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[AuditEntry]:
        """Every matching entry, newest first, fetching pages of ``page_size`` as it goes."""
        return _paginate(
            lambda cursor: self.list(
                key_id=key_id,
                operation_id=operation_id,
                since=since,
                until=until,
                limit=page_size,
                cursor=cursor,
            )
        )


class AsyncAudit(_AsyncResource):
    async def list(
        self,
        *,
        key_id: str | None = None,
        operation_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AuditPage:
        operation = ops.list_audit_entries(
            key_id=key_id,
            operation_id=operation_id,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        return await self._request(operation)

    def iter(
        self,
        *,
        key_id: str | None = None,
        operation_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[AuditEntry]:
        return _apaginate(
            lambda cursor: self.list(
                key_id=key_id,
                operation_id=operation_id,
                since=since,
                until=until,
                limit=page_size,
                cursor=cursor,
            )
        )
