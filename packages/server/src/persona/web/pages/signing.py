"""The interface's session cookie: signed, HttpOnly, SameSite=Strict, with an expiry.

The cookie is signed with a key derived from the server's tokens, so changing the tokens
signs everyone out; it names (by a digest) the token signed in with, which must still be
accepted. It authorises the interface's routes only: the JSON API reads no cookie.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import RedirectResponse

COOKIE_NAME = "persona_session"
SESSION_SECONDS = 8 * 3600
SALT = "persona.web.session"


def _serializer(accepted: tuple[bytes, ...]) -> URLSafeTimedSerializer:
    key = hashlib.sha256(b"persona web session\0" + b"\0".join(accepted)).digest()
    return URLSafeTimedSerializer(key, salt=SALT)


def _fingerprint(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()[:32]


def session_cookie(accepted: tuple[bytes, ...], token: bytes) -> str:
    return _serializer(accepted).dumps({"token": _fingerprint(token)})


def signed_in(request: Request) -> bool:
    """Whether the request carries a valid, unexpired session (always, with no tokens)."""
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    if not accepted:
        return True
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return False
    try:
        payload = _serializer(accepted).loads(cookie, max_age=SESSION_SECONDS)
    except BadSignature:
        return False
    fingerprints = {_fingerprint(token) for token in accepted}
    return isinstance(payload, dict) and payload.get("token") in fingerprints


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this server, never another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
