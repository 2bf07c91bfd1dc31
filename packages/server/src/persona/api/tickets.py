"""Stream tickets: how a browser's ``EventSource`` opens an event stream on a server with a token.

``EventSource`` cannot send an ``Authorization`` header, and a token in the URL would end up
in logs, proxies and the browser's history. An authenticated ``POST`` mints a ticket
instead: it opens the streams of one run (or of one experiment) only, for ``TICKET_SECONDS``
from when it was minted, and is passed as ``?ticket=``.

A ticket is signed and self-contained (itsdangerous, as the web interface's session cookie
is): minted with an API key, it names the key and is signed with a key derived from the key's
stored hash, so every replica on the database accepts it and revoking the key ends its tickets
at once; minted with the bootstrap token, it is signed with a key derived from the server's
tokens. Nothing is stored: no row per ticket, no clean-up. It is not single-use:
``EventSource`` reconnects to the very same URL after a dropped connection, so the ticket
stays valid for reconnects of its stream until it expires. A stream that is open keeps
going past that; a reconnect after it gets 401 (which stops ``EventSource``), and the
browser mints a new ticket and resumes with ``?after=`` the last event id it saw. Like the
session cookie, a ticket acts as the key or token that minted it, which must still be
accepted, with its scope. A request that has an Authorization header is decided by its
token alone. The access log hides the ticket's value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from persona.access.key_secrets import secret_hash
from persona.access.principal import BOOTSTRAP, Principal
from persona.access.scopes import Scope
from persona.api.auth import Access, Forbidden, Unauthorized, authorize, presented_token
from persona.service import PersonaService

TICKET_SECONDS = 60
TICKET_PARAMETER = "ticket"
SALT = "persona.api.stream-ticket"
KEY_TICKET_PREFIX = "k."
"""A ticket minted with an API key: ``k.<key id>.<signed>``."""


@dataclass(frozen=True)
class StreamTarget:
    """What a ticket opens: one experiment's stream, or one run's (``run_id`` set)."""

    experiment_id: str
    run_id: str | None = None


def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    key = hashlib.sha256(b"persona stream ticket\0" + secret).digest()
    return URLSafeTimedSerializer(key, salt=SALT)


def _tokens_secret(accepted: tuple[bytes, ...]) -> bytes:
    return b"\0".join(accepted)


def _fingerprint(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()[:32]


def _service(request: Request) -> PersonaService:
    service: PersonaService = request.app.state.service
    return service


def mint_ticket(request: Request, target: StreamTarget, now: datetime) -> tuple[str, datetime]:
    """A ticket for ``target`` and when it expires. The request is authorized already."""
    payload: dict[str, str | None] = {"e": target.experiment_id, "r": target.run_id}
    token = presented_token(request.headers.get("authorization")) or ""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    expires_at = now + timedelta(seconds=TICKET_SECONDS)
    if principal is not None and principal.key_id is not None:
        signed = _serializer(secret_hash(token).encode()).dumps(payload)
        return f"{KEY_TICKET_PREFIX}{principal.key_id}.{signed}", expires_at
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    payload["t"] = _fingerprint(token.encode())
    return _serializer(_tokens_secret(accepted)).dumps(payload), expires_at


async def _ticket_principal(request: Request, ticket: str) -> tuple[Principal, object] | None:
    """Who a validly signed, unexpired ticket acts as, and its payload; None otherwise."""
    if ticket.startswith(KEY_TICKET_PREFIX):
        key_id, _, signed = ticket.removeprefix(KEY_TICKET_PREFIX).partition(".")
        key = await _service(request).usable_key(key_id) if key_id and signed else None
        if key is None:
            return None
        principal = Principal("key", key.scope, key_id=key.id, key_name=key.name)
        return principal, _loads(_serializer(key.secret_hash.encode()), signed)
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    if not accepted:
        return None
    payload = _loads(_serializer(_tokens_secret(accepted)), ticket)
    fingerprints = {_fingerprint(token) for token in accepted}
    if not isinstance(payload, dict) or payload.get("t") not in fingerprints:
        return None
    return BOOTSTRAP, payload


def _loads(serializer: URLSafeTimedSerializer, signed: str) -> object:
    try:
        return serializer.loads(signed, max_age=TICKET_SECONDS)
    except SignatureExpired:
        raise Unauthorized(
            f"The stream ticket has expired (tickets last {TICKET_SECONDS} s): mint a new one "
            "and resume with ?after= the last event id.",
            invalid_token=True,
        ) from None
    except BadSignature:
        return None


async def _server_is_open(request: Request) -> bool:
    return not request.app.state.api_tokens and not await _service(request).keys_exist()


async def authorize_stream(request: Request, needed: Scope) -> Access:
    """A stream's credential: the key or token when the request has an Authorization header
    (it alone decides then), else a ticket for this very stream (``?ticket=``).

    The one place a ticket is accepted instead of a key or the token."""
    ticket = request.query_params.get(TICKET_PARAMETER)
    if ticket is None or "authorization" in request.headers or await _server_is_open(request):
        return await authorize(request, needed)
    params = request.path_params
    target = StreamTarget(params["experiment_id"], params.get("run_id"))
    found = await _ticket_principal(request, ticket)
    if found is None or not _opens(found[1], target):
        raise Unauthorized(
            "Invalid stream ticket: it opens the stream of the run or experiment it was "
            "minted for, and only while the key or token that minted it is accepted.",
            invalid_token=True,
        )
    principal = found[0]
    if not principal.allows(needed):
        raise Forbidden(principal, needed)
    request.scope.setdefault("state", {})["principal"] = principal
    return Access(principal)


def _opens(payload: object, target: StreamTarget) -> bool:
    if not isinstance(payload, dict):
        return False
    return StreamTarget(str(payload.get("e")), payload.get("r")) == target
