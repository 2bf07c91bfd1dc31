"""A webhook receiver on 127.0.0.1: records every delivery and answers with scripted
statuses (then 200), as a service that takes webhooks would."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    answered: int


class WebhookReceiver:
    def __init__(
        self, *statuses: int, port: int = 0, stall: bool = False, retry_after: str | None = None
    ) -> None:
        """``stall``: take each delivery and answer only once ``release`` is set.
        ``retry_after``: the Retry-After header of every answer that is not a 2xx."""
        self.statuses: deque[int] = deque(statuses)
        self.deliveries: list[Delivery] = []
        self.received = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.received:
                    status = receiver.statuses.popleft() if receiver.statuses else 200
                    receiver.deliveries.append(
                        Delivery({k.lower(): v for k, v in self.headers.items()}, body, status)
                    )
                    receiver.received.notify_all()
                if stall:
                    receiver.release.wait(60)
                self.send_response(status)
                if retry_after is not None and not 200 <= status < 300:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        """The first ``count`` deliveries, once they have arrived (AssertionError if not)."""
        with self.received:
            arrived = self.received.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert arrived, f"{len(self.deliveries)} of {count} deliveries after {timeout} s"
            return list(self.deliveries[:count])

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
