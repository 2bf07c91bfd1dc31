"""Idempotent starts: the same key with the same request gives back the run it made first."""

from __future__ import annotations

import hashlib
import json

from persona.errors import IdempotencyConflictError, InvalidInputError
from persona.schemas import GenerationOverrides, Run

MAX_IDEMPOTENCY_KEY = 255
IDEMPOTENCY_LOCATION: list[str | int] = ["header", "Idempotency-Key"]


def request_hash(overrides: GenerationOverrides | None) -> str:
    """The digest of a start request's body, compared when its key comes again."""
    body = overrides.model_dump(mode="json", exclude_none=True) if overrides else {}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def checked_key(key: str) -> str:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidInputError(
            f"an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
            location=IDEMPOTENCY_LOCATION,
        )
    return key


def replayed(idempotency: tuple[str, str], stored_hash: str, run: Run) -> Run:
    """The run an earlier request with this key made, if that request had the same body."""
    key, requested_hash = idempotency
    if stored_hash != requested_hash:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was already used with a different request body"
        )
    return run
