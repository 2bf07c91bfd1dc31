"""Rate-limit policies and the state of one window, as the IETF RateLimit headers say it
(draft-ietf-httpapi-ratelimit-headers)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from persona.settings import Settings


@dataclass(frozen=True)
class RatePolicy:
    name: str
    """``requests``, ``run-starts`` or ``auth-failures``."""
    limit: int
    window_seconds: int

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def window_start(self, now: float) -> int:
        return int(now // self.window_seconds) * self.window_seconds

    def header(self) -> str:
        """``RateLimit-Policy``: the quota and its window."""
        return f'"{self.name}";q={self.limit};w={self.window_seconds}'


@dataclass(frozen=True)
class RateState:
    """One subject's window after a request counted in it."""

    policy: RatePolicy
    count: int
    reset_seconds: int
    """Seconds until the window ends."""

    @property
    def exceeded(self) -> bool:
        return self.count > self.policy.limit

    @property
    def remaining(self) -> int:
        return max(self.policy.limit - self.count, 0)

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": self.policy.header(),
            "RateLimit": f'"{self.policy.name}";r={self.remaining};t={self.reset_seconds}',
        }


def state_of(policy: RatePolicy, count: int, now: float | None = None) -> RateState:
    now = time.time() if now is None else now
    window_end = policy.window_start(now) + policy.window_seconds
    return RateState(policy, count, max(math.ceil(window_end - now), 1))


@dataclass(frozen=True)
class RatePolicies:
    requests: RatePolicy
    run_starts: RatePolicy
    auth_failures: RatePolicy

    @classmethod
    def of(cls, settings: Settings) -> RatePolicies:
        window = settings.rate_limit_window_seconds
        return cls(
            requests=RatePolicy("requests", settings.rate_limit_requests, window),
            run_starts=RatePolicy(
                "run-starts", settings.rate_limit_run_starts, settings.rate_limit_run_window_seconds
            ),
            auth_failures=RatePolicy("auth-failures", settings.rate_limit_auth_failures, window),
        )

    @property
    def longest_window(self) -> int:
        return max(p.window_seconds for p in (self.requests, self.run_starts, self.auth_failures))


LEASE_SHARE = 50
"""A process reserves a 50th of a limit at a time: one counter write per that many requests."""
MAX_LEASES = 10_000
"""Leases kept before those of past windows are dropped."""

Reserve = Callable[[str, int, int], Awaitable[int]]
"""``reserve(subject, window_start, amount)``: add ``amount`` to the shared counter, and
return its new total."""


@dataclass
class _Lease:
    window_start: int
    last: int
    """The highest request number of the window reserved for this process."""
    next: int
    """The number the next request of this process takes."""


class CounterLeases:
    """Request numbers handed out from blocks reserved in the shared counter.

    The counter every process shares is the only authority: a block's numbers belong to the
    process that reserved it, and a request whose number is past the limit is refused. So
    the processes together never let more than the limit through; a process may hold
    numbers it does not use before the window ends, so a busy key may be refused up to a
    fiftieth of its limit per process early. With limits under 50 every request reserves
    its own number: exact."""

    def __init__(self, reserve: Reserve) -> None:
        self._reserve = reserve
        self._leases: dict[str, _Lease] = {}
        self._reserving: dict[str, asyncio.Future[None]] = {}
        """Reservations in flight: requests arriving meanwhile wait for them rather than
        reserve blocks of their own (which would waste all but one number of each)."""

    async def take(self, policy: RatePolicy, subject: str, now: float) -> int:
        """The request's number in its window (past ``policy.limit``: refused)."""
        window = policy.window_start(now)
        key = f"{policy.name}:{subject}"
        while True:
            lease = self._leases.get(key)
            if lease is not None and lease.window_start == window and lease.next <= lease.last:
                number = lease.next
                lease.next += 1
                return number
            if (reserving := self._reserving.get(key)) is not None:
                await asyncio.shield(reserving)
                continue
            await self._reserve_block(policy, key, window)

    async def _reserve_block(self, policy: RatePolicy, key: str, window: int) -> None:
        done = asyncio.get_running_loop().create_future()
        self._reserving[key] = done
        try:
            amount = max(1, policy.limit // LEASE_SHARE)
            total = await self._reserve(key, window, amount)
            self._remember(key, _Lease(window, last=total, next=total - amount + 1), window)
        finally:
            del self._reserving[key]
            done.set_result(None)

    def _remember(self, key: str, lease: _Lease, window: int) -> None:
        if len(self._leases) >= MAX_LEASES:
            self._leases = {k: v for k, v in self._leases.items() if v.window_start >= window}
        self._leases[key] = lease
