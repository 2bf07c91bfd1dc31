"""Rate-limit policies and the state of one window, as the IETF RateLimit headers say it
(draft-ietf-httpapi-ratelimit-headers)."""

from __future__ import annotations

import math
import time
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
