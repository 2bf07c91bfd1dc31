"""A loopback recorder: an HTTP server on 127.0.0.1 that keeps every request it is sent and
answers with canned replies, in order (the last one again once they run out).

Requests for what a server says about itself (``/v1/models``, ``/api/show``) are kept apart, in
``lookups``, and answered from ``about`` (404 for a path not in it), so that they take no canned
reply meant for a generation.

Persona's providers and the official SDKs are pointed at the same recorder in turn, so that a
test can compare what each sent for the same call."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    """Names in lower case."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, value: Any, status: int = 200, **headers: str) -> Reply:
        """A JSON reply (``value`` as pydantic's ``model_dump(mode="json")`` gives it)."""
        return cls(
            status, json.dumps(value).encode(), {"content-type": "application/json", **headers}
        )

    @classmethod
    def events(cls, events: list[dict[str, Any]]) -> Reply:
        """A stream of server-sent events, each named by its ``type``."""
        text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
        return cls(200, text.encode(), {"content-type": "text/event-stream"})

    @classmethod
    def data(cls, events: list[dict[str, Any]], *, done: bool = False) -> Reply:
        """A stream of unnamed server-sent events (OpenAI's and Gemini's), closed with OpenAI's
        ``[DONE]`` when ``done``."""
        data = [json.dumps(e) for e in events] + (["[DONE]"] if done else [])
        text = "".join(f"data: {d}\n\n" for d in data)
        return cls(200, text.encode(), {"content-type": "text/event-stream"})

    @classmethod
    def lines(cls, events: list[dict[str, Any]]) -> Reply:
        """A stream of one JSON object a line (Ollama's)."""
        text = "".join(json.dumps(e) + "\n" for e in events)
        return cls(200, text.encode(), {"content-type": "application/x-ndjson"})


LOOKUPS = ("/v1/models", "/api/show")


class Recorder:
    def __init__(self, *replies: Reply) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.requests: list[Recorded] = []
        self.lookups: list[Recorded] = []
        self.about: dict[str, Reply] = {}
        self._last = Reply()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorded = Recorded(self.command, self.path, headers, body)
                if self.path.endswith(LOOKUPS):
                    recorder.lookups.append(recorded)
                    reply = recorder.about.get(self.path, Reply(404, b'{"error": "not found"}'))
                else:
                    recorder.requests.append(recorded)
                    reply = recorder.next_reply()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = do_GET = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def next_reply(self) -> Reply:
        if self.replies:
            self._last = self.replies.popleft()
        return self._last

    def serve(self, *replies: Reply) -> None:
        """Forget what was recorded and answer the next requests with ``replies``."""
        self.requests.clear()
        self.replies = deque(replies)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
