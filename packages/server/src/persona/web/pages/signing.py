"""The interface's session cookie: signed, HttpOnly, SameSite=Strict, with an expiry.

Signed in with the bootstrap token, the cookie is signed with a key derived from the
server's tokens, so changing the tokens signs everyone out; it names (by a digest) the token
signed in with, which must still be accepted. Signed in with an API key, the cookie names the
key and is signed with a key derived from the key's stored hash: every process sharing the
database can check it, and revoking the key (or its expiry) ends the session at once. It
authorises the interface's routes only: the JSON API reads no cookie.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import RedirectResponse

from persona.access.principal import BOOTSTRAP, OPEN, Principal
from persona.service import PersonaService

COOKIE_NAME = "persona_session"
SESSION_SECONDS = 8 * 3600
SALT = "persona.web.session"
KEY_COOKIE_PREFIX = "k:"
"""A cookie of a key's session: ``k:<key id>:<signed>``."""


def _serializer(accepted: tuple[bytes, ...]) -> URLSafeTimedSerializer:
    key = hashlib.sha256(b"persona web session\0" + b"\0".join(accepted)).digest()
    return URLSafeTimedSerializer(key, salt=SALT)


def _fingerprint(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()[:32]


def session_cookie(accepted: tuple[bytes, ...], token: bytes) -> str:
    return _serializer(accepted).dumps({"token": _fingerprint(token)})


def _key_serializer(secret_hash: str) -> URLSafeTimedSerializer:
    key = hashlib.sha256(b"persona web key session\0" + secret_hash.encode()).digest()
    return URLSafeTimedSerializer(key, salt=SALT)


def key_session_cookie(key_id: str, secret_hash: str) -> str:
    return f"{KEY_COOKIE_PREFIX}{key_id}:{_key_serializer(secret_hash).dumps({'key': key_id})}"


async def session_principal(request: Request) -> Principal | None:
    """Who a valid, unexpired session acts as (anyone, on an open server); None otherwise."""
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    service: PersonaService = request.app.state.service
    if not accepted and not await service.keys_exist():
        return OPEN
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    if cookie.startswith(KEY_COOKIE_PREFIX):
        return await _key_session(service, cookie.removeprefix(KEY_COOKIE_PREFIX))
    if accepted and _bootstrap_session(accepted, cookie):
        return BOOTSTRAP
    return None


def _bootstrap_session(accepted: tuple[bytes, ...], cookie: str) -> bool:
    try:
        payload = _serializer(accepted).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:
        return False
    fingerprints = {_fingerprint(token) for token in accepted}
    return isinstance(payload, dict) and payload.get("token") in fingerprints


async def _key_session(service: PersonaService, value: str) -> Principal | None:
    key_id, _, signed = value.partition(":")
    key = await service.usable_key(key_id) if key_id and signed else None
    if key is None:
        return None
    try:
        payload = _key_serializer(key.secret_hash).loads(signed, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    if payload != {"key": key_id}:
        return None
    return Principal("key", key.scope, key_id=key.id, key_name=key.name)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this server, never another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
