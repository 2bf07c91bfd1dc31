"""Who a request acts as, once its credentials are checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from persona.access.scopes import Scope


@dataclass(frozen=True)
class Principal:
    kind: Literal["key", "bootstrap", "open"]
    """A key from the database, the server's PERSONA_API_TOKEN, or nobody on an open server."""
    scope: Scope
    key_id: str | None = None
    key_name: str | None = None

    def allows(self, needed: Scope) -> bool:
        return self.scope.allows(needed)


OPEN = Principal("open", Scope.admin)
BOOTSTRAP = Principal("bootstrap", Scope.admin, key_name="bootstrap token")


@dataclass(frozen=True)
class KeyRefused:
    """Why a presented key is not accepted."""

    reason: Literal["unknown", "revoked", "expired"]

    def detail(self) -> str:
        return {
            "unknown": "Invalid API key.",
            "revoked": "This API key has been revoked.",
            "expired": "This API key has expired.",
        }[self.reason]
