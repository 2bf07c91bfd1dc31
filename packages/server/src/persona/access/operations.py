"""The service's access side: keys, the audit log and rate-limit counters.

A mixin of ``PersonaService``, like ``persona.push``. It reaches the started service only
through ``_call``, ``_write``, ``_repository`` and ``_started``. Nothing here is cached that
a revocation must reach: each key check reads the database, so a revoked or expired key is
refused by every process at once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ParamSpec

from persona.access.key_secrets import hash_matches, new_secret, secret_hash, shown_prefix
from persona.access.limits import CounterLeases, RatePolicies, RatePolicy, RateState, state_of
from persona.access.principal import KeyRefused, Principal
from persona.access.schemas import ApiKey, ApiKeyCreate, ApiKeyList, ApiKeyWithSecret, AuditPage
from persona.errors import InvalidInputError
from persona.ids import new_id, utcnow
from persona.service_parts import ServiceParts
from persona.spend.budgets import Budget
from persona.storage.audit import AuditFilter, AuditRecord
from persona.storage.faults import is_transient
from persona.storage.keys import KeySpend, StoredKey

P = ParamSpec("P")

logger = logging.getLogger("persona.access")

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""A key's ``last_used_at`` is written at most this often: not one write per request."""
OPEN_CHECK_SECONDS = 1.0
"""How long "no key exists yet" is believed before the database is asked again. Only the
open state is remembered: once a key exists the server stays closed for good."""
PRUNE_EVERY = 1000
"""Audit entries (and rate-limit hits) between two prunings, the first of a process included."""


class AccessOperations(ServiceParts):
    _keys_exist = False
    _open_checked_at = float("-inf")
    _audit_writes = 0
    _rate_hits = 0

    @functools.cached_property
    def _counter_leases(self) -> CounterLeases:
        async def reserve(subject: str, window_start: int, amount: int) -> int:
            write = self._repository.count_hits
            return await self._started.writes.write(write, subject, window_start, amount)

        return CounterLeases(reserve)

    @functools.cached_property
    def _lockouts(self) -> dict[str, tuple[int, float]]:
        """Client addresses past their failed attempts: (count, when the window ends)."""
        return {}

    # ------------------------------------------------------------------ keys

    async def create_key(self, body: ApiKeyCreate) -> ApiKeyWithSecret:
        """A new key; the answer holds its secret, which is never stored or shown again."""
        created = await self._write(self._repository.create_key, **new_key(body))
        self._keys_exist = True
        return created

    async def list_keys(self) -> ApiKeyList:
        """Every key, revoked ones too, oldest first (without secrets)."""
        return ApiKeyList(items=await self._call(self._repository.list_keys))

    async def revoke_key(self, key_id: str) -> None:
        """Refuse the key from now on, in every process sharing the database."""
        await self._write(self._repository.revoke_key, key_id, utcnow())

    async def update_key(self, key_id: str, *, max_cost_usd: float | None) -> ApiKey:
        """Set the key's spend cap in US dollars; None removes it."""
        return await self._write(self._repository.update_key_budget, key_id, max_cost_usd)

    async def key_spend(self, key_id: str) -> KeySpend:
        """What the key's runs have cost so far and its cap: one budget of a run it starts."""
        return await self._call(self._repository.key_spend, key_id)

    async def key_budgets(self, key_id: str | None) -> list[Budget]:
        """The budget a run started (or estimated) with this key is checked against: none
        without a key or when the key has no ``max_cost_usd``."""
        if key_id is None:
            return []
        spend = await self.key_spend(key_id)
        if spend.max_cost_usd is None:
            return []
        name = f"key {key_id}'s max_cost_usd"
        return [Budget(name, spend.max_cost_usd, spend.spent_usd, spend.reserved_usd)]

    @property
    def keys_known_to_exist(self) -> bool:
        """``keys_exist`` as last found, without asking (for pages rendering)."""
        return self._keys_exist

    async def keys_exist(self) -> bool:
        """Whether any key was ever created here (or by another process on the database)."""
        if self._keys_exist:
            return True
        now = time.monotonic()
        if now - self._open_checked_at >= OPEN_CHECK_SECONDS:
            self._keys_exist = await self._call(self._repository.any_keys)
            self._open_checked_at = now
        return self._keys_exist

    async def usable_key(self, key_id: str) -> StoredKey | None:
        """The key with this id while it is neither revoked nor expired (a web session's)."""
        key = await self._call(self._repository.stored_key, key_id)
        if key is None or _refusal_of(key, utcnow()) is not None:
            return None
        return key

    async def check_key(self, secret: str) -> Principal | KeyRefused:
        """The principal a key secret stands for, or why it is refused."""
        found = await self._call(self._repository.keys_with_prefix, shown_prefix(secret))
        # Every row with the prefix is compared (no early exit), in constant time each.
        matches = [key for key in found if hash_matches(secret, key.secret_hash)]
        if not matches:
            return KeyRefused("unknown")
        key = matches[0]
        now = utcnow()
        if (refused := _refusal_of(key, now)) is not None:
            return refused
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            self._queue_quietly(self._repository.note_key_used, key.id, now)
        return Principal("key", key.scope, key_id=key.id, key_name=key.name)

    # ------------------------------------------------------------------ audit log

    def record_audit(self, record: AuditRecord) -> None:
        """Queue an entry for the next group commit; the request does not wait for it."""
        self._queue_quietly(self._repository.record_audit, [record])
        if self._audit_writes % PRUNE_EVERY == 0:
            before = utcnow() - timedelta(days=self.settings.audit_retention_days)
            self._queue_quietly(self._repository.prune_audit, before)
        self._audit_writes += 1

    async def list_audit_entries(
        self, where: AuditFilter, *, limit: int = 50, cursor: str | None = None
    ) -> AuditPage:
        """Audit entries, newest first."""
        return await self._call(
            self._repository.list_audit_entries, where, limit=limit, cursor=cursor
        )

    # ------------------------------------------------------------------ rate limits

    @property
    def rate_policies(self) -> RatePolicies:
        return RatePolicies.of(self.settings)

    async def count_request(self, policy: RatePolicy, subject: str) -> RateState:
        """Count one request of ``subject`` under ``policy`` (shared by every process)."""
        now = time.time()
        count = await self._counter_leases.take(policy, subject, now)
        if self._rate_hits % PRUNE_EVERY == 0:
            before = int(now) - 2 * self.rate_policies.longest_window
            self._queue_quietly(self._repository.prune_rate_limits, before)
        self._rate_hits += 1
        return state_of(policy, count, now)

    async def count_failure(self, address: str) -> None:
        """Count a failed authentication from ``address``; past the limit, lock it out."""
        policy = self.rate_policies.auth_failures
        if not policy.enabled:
            return
        state = await self.count_request(policy, address)
        if state.count >= policy.limit:
            self._lockouts[address] = (state.count, time.time() + state.reset_seconds)

    def lockout(self, address: str) -> RateState | None:
        """The window that locks ``address`` out, while it lasts.

        Kept in memory: a lock-out is decided from the counter all processes share, so each
        process locks an address out at its first failure past the limit; asking the
        database before every request's credentials are checked would cost every request a
        read."""
        found = self._lockouts.get(address)
        if found is None:
            return None
        count, ends = found
        now = time.time()
        if now >= ends:
            del self._lockouts[address]
            return None
        return RateState(self.rate_policies.auth_failures, count, max(math.ceil(ends - now), 1))

    def _queue_quietly(self, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue a write nobody waits for; its failure is logged, never raised."""
        future = self._started.writes.queue(fn, *args, **kwargs)
        future.add_done_callback(_log_failure)


def new_key(body: ApiKeyCreate) -> dict[str, Any]:
    """What ``Repository.create_key`` stores for a new key: a fresh secret and its hash."""
    now = utcnow()
    if body.expires_at is not None and body.expires_at <= now:
        raise InvalidInputError("expires_at is in the past", location=["expires_at"])
    secret = new_secret()
    return {
        "key_id": new_id("key"),
        "name": body.name,
        "scope": body.scope,
        "prefix": shown_prefix(secret),
        "secret_hash": secret_hash(secret),
        "secret": secret,
        "expires_at": body.expires_at,
        "max_cost_usd": body.max_cost_usd,
        "now": now,
    }


def _refusal_of(key: StoredKey, now: datetime) -> KeyRefused | None:
    if key.revoked_at is not None:
        return KeyRefused("revoked")
    if key.expires_at is not None and key.expires_at <= now:
        return KeyRefused("expired")
    return None


def _log_failure(future: asyncio.Future[object]) -> None:
    if future.cancelled() or (error := future.exception()) is None:
        return
    # An outage is logged once, by the database's own outage log: not once per write.
    level = logging.DEBUG if is_transient(error) else logging.WARNING
    logger.log(level, "a background access write failed: %s", error)


def audit_record(
    *,
    key_id: str | None,
    key_name: str | None,
    operation_id: str,
    target_ids: dict[str, str],
    status: int,
    request_id: str | None,
    now: datetime | None = None,
) -> AuditRecord:
    return AuditRecord(
        id=new_id("aud"),
        created_at=now or utcnow(),
        key_id=key_id,
        key_name=key_name,
        operation_id=operation_id,
        status=status,
        request_id=request_id,
        target_ids=target_ids,
    )
