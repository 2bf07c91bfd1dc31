"""Scopes, and the one place that says which scope each operation needs."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """What a key may do. Each scope includes the ones before it."""

    read = "read"
    """Every GET and event stream."""
    write = "write"
    """Adds creating experiments, uploading, generating, cancelling and deleting."""
    admin = "admin"
    """Adds keys, webhooks and the audit log."""

    def allows(self, needed: Scope) -> bool:
        return SCOPE_ORDER.index(self) >= SCOPE_ORDER.index(needed)


SCOPE_ORDER = (Scope.read, Scope.write, Scope.admin)

ADMIN_PATHS = ("/keys", "/webhooks", "/audit")
"""Path prefixes whose every operation needs ``admin``."""
READ_METHODS = frozenset({"GET", "HEAD"})
READ_ACTIONS = ("/estimate", "/stream-tickets")
"""POST operations that change nothing a reader may not see: a run's estimate, and a ticket
to open a stream a reader may follow."""


def required_scope(method: str, path: str) -> Scope:
    """The scope an operation (its method and route path) needs."""
    if any(path == prefix or path.startswith(prefix + "/") for prefix in ADMIN_PATHS):
        return Scope.admin
    if method.upper() in READ_METHODS or path.endswith(READ_ACTIONS):
        return Scope.read
    return Scope.write


def changes_state(method: str) -> bool:
    """Whether a request of this method is recorded in the audit log."""
    return method.upper() not in READ_METHODS and method.upper() != "OPTIONS"


RUN_STARTING_OPERATIONS = frozenset({"startRun"})
"""Operations that also count against a key's run-start limit."""
