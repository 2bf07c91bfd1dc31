"""What a database failure means, how long a caller waits one out, and how it is logged.

A failure is *transient* when the database, not the statement, is at fault: the connection
was refused or lost (a restart, an outage, a killed backend), the server is starting or
stopping, it has no connection left, or a statement gave up waiting (``lock_timeout``,
``statement_timeout``, a deadlock or serialization failure). Transient failures are of two
kinds: ``unreachable`` (no answer at all) and ``busy`` (it answers, but not this statement
now). Anything else (a constraint, a bug in a statement) is never retried.

``RetryPolicy`` says how long a caller keeps trying, with jittered exponential backoff;
``OutageLog`` turns a stream of failures into one line when the database goes away and one
when it is back, per process and component, with a reminder now and then while it stays
away and tracebacks at DEBUG only.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import exc as sa_exc

from persona.errors import DatabaseUnavailableError

FailureKind = Literal["unreachable", "busy"]

_BUSY_STATES = ("55P03", "57014")
"""lock_not_available (lock_timeout), query_canceled (statement_timeout)."""
_BUSY_CLASSES = ("40", "53")
"""Transaction rollback (deadlock, serialization); insufficient resources (no connection
slot left, out of memory or disk)."""
_UNREACHABLE_CLASSES = ("08", "57", "58")
"""Connection exceptions; operator intervention (admin shutdown, crash, starting up);
system errors."""
_SQLITE_BUSY = ("database is locked", "database table is locked")
_SQLITE_UNREACHABLE = ("unable to open database file", "disk i/o error")


def root_cause(exc: BaseException) -> BaseException:
    """The driver's own error under SQLAlchemy's or the job queue's wrapping."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        return exc.orig
    try:
        from procrastinate.exceptions import ConnectorException
    except ImportError:  # the postgres extra is not installed
        return exc
    if isinstance(exc, ConnectorException) and exc.__cause__ is not None:
        return root_cause(exc.__cause__)
    return exc


def failure_kind(exc: BaseException) -> FailureKind | None:
    """``unreachable`` or ``busy`` for a transient database failure; None for any other."""
    cause = root_cause(exc)
    if cause is not exc and not isinstance(exc, sa_exc.DBAPIError):
        return failure_kind(cause)
    if isinstance(exc, DatabaseUnavailableError):
        return exc.kind
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return "busy"
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return "unreachable"
        return failure_kind(exc.orig) if exc.orig is not None else None
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        if message.startswith(_SQLITE_BUSY):
            return "busy"
        return "unreachable" if message.startswith(_SQLITE_UNREACHABLE) else None
    return _psycopg_kind(exc)


def _psycopg_kind(exc: BaseException) -> FailureKind | None:
    try:
        import psycopg
        from psycopg_pool import PoolTimeout
    except ImportError:  # the postgres extra is not installed: no psycopg errors either
        return None
    if isinstance(exc, PoolTimeout):
        return "busy"
    if isinstance(exc, psycopg.InterfaceError):  # the connection is closed
        return "unreachable"
    if not isinstance(exc, psycopg.OperationalError):
        return None
    state = exc.sqlstate
    if state is None:  # refused, reset or timed out before the server said anything
        return "unreachable"
    if state in _BUSY_STATES or state.startswith(_BUSY_CLASSES):
        return "busy"
    return "unreachable" if state.startswith(_UNREACHABLE_CLASSES) else None


def is_transient(exc: BaseException) -> bool:
    return failure_kind(exc) is not None


def describe(exc: BaseException) -> str:
    """The failure in one short line: its type and the first line of its message."""
    original = root_cause(exc)
    text = str(original).strip().splitlines()
    return f"{type(original).__name__}: {text[0]}" if text else type(original).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """Keep trying a transiently failing call for ``seconds``, waiting between tries from
    ``first_delay`` doubling up to ``max_delay``, each wait drawn at random up to its bound
    (full jitter), so processes that lost the database together do not return together."""

    seconds: float
    first_delay: float = 0.05
    max_delay: float = 2.0

    def delays(self) -> DelaySchedule:
        return DelaySchedule(self)


NO_RETRY = RetryPolicy(seconds=0.0)


class DelaySchedule:
    """The waits of one call under a ``RetryPolicy``: ``next()`` is the wait before the next
    try, or None once the policy's time is spent."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._deadline = time.monotonic() + policy.seconds
        self._bound = policy.first_delay

    def next(self) -> float | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            return None
        delay = random.uniform(self._bound / 2, self._bound)  # noqa: S311 - jitter, no secret
        self._bound = min(self._bound * 2, self._policy.max_delay)
        return min(delay, left)


def unavailable(exc: BaseException, waited: float) -> DatabaseUnavailableError:
    """The error a caller gets once it stops waiting out ``exc``."""
    kind = failure_kind(exc) or "unreachable"
    state = "could not be reached" if kind == "unreachable" else "was too busy to answer"
    return DatabaseUnavailableError(
        f"the database {state} for {waited:.0f} s ({describe(exc)})", kind=kind
    )


class OutageLog:
    """The log of one component's database outages in this process: a WARNING when the
    database goes away (or turns busy), one when it is back, a reminder every
    ``REMIND_EVERY`` seconds while it stays away; every failure's traceback at DEBUG.

    Failures before the database first answered are no outage (a start that fails says
    so itself). The database is back once it has answered with no failure for ``settle`` seconds, so
    a database failing on and off (connections killed again and again) gives one pair of
    lines, not one per failure. Thread-safe: writers, readers and timers share one."""

    REMIND_EVERY = 60.0

    def __init__(self, component: str, logger: logging.Logger, *, settle: float = 3.0) -> None:
        self.component = component
        self._logger = logger
        self.settle = settle
        """Seconds without a failure after which the database counts as back."""
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_failure = 0.0
        self._failures = 0
        self._reminded_at = 0.0
        self._up_since = float("-inf")
        """When the database came back; never gone yet: it has been up for ever."""
        self._answered = False
        """Whether the database has answered once: only then can it go away."""

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def up_for(self) -> float:
        """Seconds since the database is back (or since this log began); 0 until then."""
        if self._down_since is not None:
            return 0.0
        return time.monotonic() - self._up_since

    def failed(self, exc: BaseException) -> None:
        kind = failure_kind(exc) or "unreachable"
        if not self._answered:  # not an outage: a start that fails says so itself
            self._logger.debug("%s: database failure", self.component, exc_info=exc)
            return
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            self._last_failure = now
            first = self._down_since is None
            if first:
                self._down_since = self._reminded_at = now
            remind = not first and now - self._reminded_at >= self.REMIND_EVERY
            if remind:
                self._reminded_at = now
            failures, since = self._failures, now - (self._down_since or now)
        self._logger.debug("%s: database failure", self.component, exc_info=exc)
        if first:
            what = "unreachable" if kind == "unreachable" else "busy (statements time out)"
            self._logger.warning(
                "%s: the database is %s: %s; retrying quietly until it is back",
                self.component,
                what,
                describe(exc),
            )
        elif remind:
            self._logger.warning(
                "%s: the database is still unavailable after %.0f s (%d failures): %s",
                self.component,
                since,
                failures,
                describe(exc),
            )

    def succeeded(self) -> None:
        self._answered = True
        if self._down_since is None:  # the common case: no lock taken
            return
        now = time.monotonic()
        with self._lock:
            since = self._down_since
            if since is None or now - self._last_failure < self.settle:
                return
            failures, last = self._failures, self._last_failure
            self._down_since, self._failures, self._up_since = None, 0, now
        self._logger.warning(
            "%s: the database is back (it failed %d times over %.1f s)",
            self.component,
            failures,
            last - since,
        )
