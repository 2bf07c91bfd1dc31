"""Random, prefixed, URL-safe ids and UTC timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """``prefix-`` followed by 16 random URL-safe characters (96 bits)."""
    return f"{prefix}-{secrets.token_urlsafe(12)}"


def utcnow() -> datetime:
    return datetime.now(UTC)
