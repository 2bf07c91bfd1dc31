"""Stream tickets: how a browser's ``EventSource`` opens an event stream on a server with a token.

``EventSource`` cannot send an ``Authorization`` header, and a token in the URL would end up
in logs, proxies and the browser's history. An authenticated ``POST`` mints a ticket
instead: it opens the streams of one run (or of one experiment) only, for ``TICKET_SECONDS``
from when it was minted, and is passed as ``?ticket=``.

A ticket is signed and self-contained (itsdangerous, with a key derived from the server's
tokens, as the web interface's session cookie is), so any replica that shares the tokens
accepts it and nothing is stored: no row per ticket, no clean-up. It is not single-use:
``EventSource`` reconnects to the very same URL after a dropped connection, so the ticket
stays valid for reconnects of its stream until it expires. A stream that is open keeps
going past that; a reconnect after it gets 401 (which stops ``EventSource``), and the
browser mints a new ticket and resumes with ``?after=`` the last event id it saw. Like the
session cookie, a ticket names (by a digest) the token that minted it, which must still be
accepted. A request that has an Authorization header is decided by its token alone. The
access log hides the ticket's value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from persona.api.deps import Unauthorized, presented_token, require_token

TICKET_SECONDS = 60
TICKET_PARAMETER = "ticket"
SALT = "persona.api.stream-ticket"


@dataclass(frozen=True)
class StreamTarget:
    """What a ticket opens: one experiment's stream, or one run's (``run_id`` set)."""

    experiment_id: str
    run_id: str | None = None


def _serializer(accepted: tuple[bytes, ...]) -> URLSafeTimedSerializer:
    key = hashlib.sha256(b"persona stream ticket\0" + b"\0".join(accepted)).digest()
    return URLSafeTimedSerializer(key, salt=SALT)


def _fingerprint(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()[:32]


def mint_ticket(request: Request, target: StreamTarget, now: datetime) -> tuple[str, datetime]:
    """A ticket for ``target`` and when it expires. The request is authenticated already."""
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    token = presented_token(request.headers.get("authorization")) or ""
    payload = {"e": target.experiment_id, "r": target.run_id, "t": _fingerprint(token.encode())}
    return _serializer(accepted).dumps(payload), now + timedelta(seconds=TICKET_SECONDS)


def ticket_opens(request: Request, ticket: str, target: StreamTarget) -> bool:
    """Whether ``ticket`` is valid, unexpired, minted with a token still accepted, and for
    ``target``."""
    accepted: tuple[bytes, ...] = request.app.state.api_tokens
    try:
        payload = _serializer(accepted).loads(ticket, max_age=TICKET_SECONDS)
    except SignatureExpired:
        raise Unauthorized(
            f"The stream ticket has expired (tickets last {TICKET_SECONDS} s): mint a new one "
            "and resume with ?after= the last event id.",
            invalid_token=True,
        ) from None
    except BadSignature:
        return False
    if not isinstance(payload, dict):
        return False
    fingerprints = {_fingerprint(token) for token in accepted}
    minted = StreamTarget(str(payload.get("e")), payload.get("r"))
    return payload.get("t") in fingerprints and minted == target


async def require_token_or_ticket(request: Request) -> None:
    """A stream's credential: the token when the request has an Authorization header (it
    alone decides then), else a ticket for this very stream (``?ticket=``).

    The one place a ticket is accepted instead of the token."""
    ticket = request.query_params.get(TICKET_PARAMETER)
    if ticket is None or "authorization" in request.headers or not request.app.state.api_tokens:
        await require_token(request)
        return
    params = request.path_params
    target = StreamTarget(params["experiment_id"], params.get("run_id"))
    if not ticket_opens(request, ticket, target):
        raise Unauthorized(
            "Invalid stream ticket: it opens the stream of the run or experiment it was "
            "minted for, and only while the token that minted it is accepted.",
            invalid_token=True,
        )
