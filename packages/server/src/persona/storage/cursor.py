"""Opaque, URL-safe page cursors: the (created_at, id) of the last item of a page."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from persona.errors import InvalidInputError

CURSOR_LOCATION: list[str | int] = ["query", "cursor"]


@dataclass(frozen=True)
class Cursor:
    kind: str
    """What the cursor pages through ('experiments', 'runs', 'personas')."""
    created_at: datetime
    id: str

    def encode(self) -> str:
        payload = json.dumps(
            [self.kind, self.created_at.isoformat(), self.id], separators=(",", ":")
        )
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, *, kind: str) -> Cursor:
        """Parse ``token`` or raise InvalidInputError located at the ``cursor`` query parameter."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            token_kind, created_at, item_id = json.loads(raw)
            cursor = cls(token_kind, datetime.fromisoformat(created_at), item_id)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise _invalid() from None
        valid = (
            cursor.kind == kind
            and isinstance(cursor.id, str)
            and cursor.created_at.tzinfo is not None
        )
        if not valid:
            raise _invalid()
        return cursor


def _invalid() -> InvalidInputError:
    return InvalidInputError(
        "invalid cursor: pass the next_cursor of a previous page unchanged",
        location=CURSOR_LOCATION,
    )


@dataclass(frozen=True)
class PositionCursor:
    """A cursor through an ordered list: the position of the last item of a page."""

    kind: str
    """What the cursor pages through ('evidence', 'persona-evidence')."""
    position: int

    def encode(self) -> str:
        payload = json.dumps([self.kind, self.position], separators=(",", ":"))
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, *, kind: str) -> PositionCursor:
        """Parse ``token`` or raise InvalidInputError located at the ``cursor`` query parameter."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            token_kind, position = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise _invalid() from None
        if token_kind != kind or type(position) is not int or position < 0:
            raise _invalid()
        return cls(kind, position)
