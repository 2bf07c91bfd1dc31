"""Key secrets: ``psk_`` and 256 random bits, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "psk_"
"""Every key secret starts with this, so that secret scanners can recognise one."""
SHOWN_PREFIX_LENGTH = 12
"""Characters of a secret kept in clear (``psk_`` and 8 more): enough to tell keys apart
in a list and to find a key's row, far too few to guess the rest."""
MAX_SECRET_LENGTH = 200
"""Longer presented tokens are refused before any lookup."""


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    # A fast hash suffices: the secret is 256 random bits, so there is no dictionary to try
    # and no brute force to slow down. Slow hashes (bcrypt, argon2) protect low-entropy
    # passwords, and would cost every authenticated request milliseconds of CPU.
    return hashlib.sha256(secret.encode()).hexdigest()


def shown_prefix(secret: str) -> str:
    return secret[:SHOWN_PREFIX_LENGTH]


def hash_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret's digest with a stored one."""
    return hmac.compare_digest(secret_hash(secret).encode(), stored_hash.encode())


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX) and len(token) > SHOWN_PREFIX_LENGTH
