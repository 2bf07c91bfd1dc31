"""uvicorn's httptools protocol with the limits it lacks, answering with problem details.

uvicorn's httptools protocol buffers a request's line and headers without bound, waits
forever for them (and for a body) on a connection that sends nothing more, and answers an
unparsable request with a plain-text 400. Here:

* the request line and headers are capped at ``PERSONA_MAX_HEADER_BYTES``: more gets 431
  (414 while still in the request line); at most the cap is ever handed to the parser;
* they must arrive within ``PERSONA_HEADER_TIMEOUT`` of a connection's start or of a
  request's first byte (408; a connection that sent nothing is closed silently);
* a body may pause at most ``PERSONA_BODY_TIMEOUT`` (408 unless a response started);
* unparsable requests get a 400 problem;
* when the server starts stopping, every event stream of the app ends at once, cleanly
  (persona.api.sse), instead of holding its connection until the graceful shutdown's time
  runs out and the stream is cut.

These answers are written before or beside the app, so they carry a fresh request id. After
one, the connection stops reading what the client still sends (a lingering close):
closing at once would reset the connection and could destroy the answer before the client
reads it.

``persona serve`` uses it; ``uvicorn persona.api:app`` needs
``--http persona.api.protocol:PersonaHttpProtocol``.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from persona.api.errors import PROBLEM_MEDIA_TYPE, REQUEST_ID_HEADER
from persona.api.middleware import new_request_id
from persona.api.sse import STOP_STREAMS
from persona.settings import Settings

LINGER_SECONDS = 2.0
"""How long a refused connection keeps reading (and dropping) before it closes."""


@cache
def connection_limits() -> tuple[int, float, float]:
    """(max header bytes, header timeout, body timeout) of this process, read once."""
    settings = Settings()
    return settings.max_header_bytes, settings.header_timeout, settings.body_timeout


def problem_bytes(status: int, code: str, detail: str) -> bytes:
    """A complete HTTP/1.1 response carrying a problem, closing the connection."""
    request_id = new_request_id()
    phrase = HTTPStatus(status).phrase
    body = json.dumps(
        {
            "type": "about:blank",
            "title": phrase,
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": request_id,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        f"{REQUEST_ID_HEADER.lower()}: {request_id}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class PersonaHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head, self.header_timeout, self.body_timeout = connection_limits()
        self.in_head = True
        self.head_bytes = 0
        self.head_has_newline = False
        self.in_body = False
        self.refused = False
        self.deadline: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # lingering: the answer is out, drop the rest
        if self.in_body:
            self._arm(self.body_timeout, self._body_timed_out)
        if not self.in_head:
            super().data_received(data)
            return
        if self.head_bytes == 0 and self.deadline is None:
            self._arm(self.header_timeout, self._head_timed_out)
        # Hand the parser no more than the cap: it would buffer whatever it gets.
        room = self.max_head - self.head_bytes
        part = data[:room]
        self.head_bytes += len(part)
        self.head_has_newline = self.head_has_newline or b"\n" in part
        super().data_received(part)
        if self.refused or self.transport.is_closing():
            return
        if self.in_head and len(data) > room:
            if self.head_has_newline:
                self.refuse(431, "headers_too_large", f"headers over {self.max_head} bytes")
            else:
                self.refuse(414, "uri_too_long", f"request line over {self.max_head} bytes")
            return
        if len(data) > room:
            super().data_received(data[room:])

    # ------------------------------------------------------------------ parser callbacks

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._disarm()
        super().on_headers_complete()
        if self.parser.should_upgrade():
            return
        self.in_body = True
        self._arm(self.body_timeout, self._body_timed_out)

    def on_message_complete(self) -> None:
        self.in_body = False
        self._disarm()
        self.in_head = True
        self.head_bytes = 0
        self.head_has_newline = False
        super().on_message_complete()

    def shutdown(self) -> None:
        # uvicorn calls it on every open connection when it starts stopping, before it waits
        # for them to finish: event streams never finish by themselves.
        stop_streams = self.app_state.get(STOP_STREAMS)
        if stop_streams is not None:
            stop_streams()
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        # uvicorn has logged it already.
        self.refuse(400, "malformed_request", "not valid HTTP/1.1", log=False)

    # ------------------------------------------------------------------ refusals

    def refuse(self, status: int, code: str, reason: str, *, log: bool = True) -> None:
        """Answer with a problem, stop reading the request, close after lingering."""
        if log:
            self.logger.warning("refused a request: %s", reason)
        detail = f"{HTTPStatus(status).phrase}: {reason}."
        self.refused = True
        self._disarm()
        self.transport.write(problem_bytes(status, code, detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _head_timed_out(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.head_bytes == 0:
            self.transport.close()  # nothing asked: nothing to answer
            return
        self.refuse(408, "request_timeout", f"headers not complete in {self.header_timeout} s")

    def _body_timed_out(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # the app has yet to take what came: not the client's fault
            self._arm(self.body_timeout, self._body_timed_out)
            return
        if self.cycle is not None and not self.cycle.response_started:
            self.cycle.response_complete = True  # the app's answer, if any, goes nowhere
            self.refuse(408, "request_timeout", f"no body received for {self.body_timeout} s")
            return
        self.transport.close()

    def _arm(self, seconds: float, callback: Any) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
