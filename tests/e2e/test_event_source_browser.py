"""A browser app on another origin follows a run with a real ``EventSource``, the documented way:
Debian's headless Chromium (driven by Playwright) on a page served from a second loopback
port, a `persona serve` with a token and PERSONA_CORS_ORIGINS naming that page's origin.

The page mints a stream ticket with an authenticated ``fetch`` and opens
``new EventSource(api + ticket.url)``. The API is reached through a loopback relay that
the test can cut, to drop the stream's connection mid-run.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.browsers import launched_chromium
from tests.servers import (
    RUN_TIMEOUT,
    ServerProcess,
    StalledProvider,
    clean_env,
    make_data_dir,
    running_server,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "browser-app-token-0123456789"
RUN_TIMEOUT_MS = int(RUN_TIMEOUT * 1000)
RECONNECT_SECONDS = 2.0
"""The stream's ``retry`` hint: how long an EventSource waits before reconnecting."""
LOCAL = {"name": "Browser app", "data_sources": ["small.csv"], "config": {"provider": "local"}}
STALLED = {**LOCAL, "config": {"provider": "openai"}}
APP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Run watcher</title></head>
<body><script>
const TERMINAL = ["run.succeeded", "run.failed", "run.cancelled"];
const TYPES = ["run.queued", "run.started", "run.progress", ...TERMINAL];
window.received = []; window.opens = 0; window.errors = 0;
window.watch = async (api, token, experimentId, runId, closeOnEnd) => {
  const minted = await fetch(
    `${api}/experiments/${experimentId}/runs/${runId}/stream-tickets`,
    {method: "POST", headers: {Authorization: `Bearer ${token}`}});
  if (minted.status !== 201) throw new Error(`ticket: ${minted.status}`);
  const ticket = await minted.json();
  const source = new EventSource(api + ticket.url);
  window.source = source;
  source.onopen = () => { window.opens += 1; };
  source.onerror = () => { window.errors += 1; };
  for (const type of TYPES) {
    source.addEventListener(type, (message) => {
      window.received.push({type, id: Number(message.lastEventId)});
      if (closeOnEnd && TERMINAL.includes(type)) source.close();
    });
  }
  return ticket.ticket;
};
</script></body></html>
"""


class AppOrigin:
    """The browser app: one page on its own loopback port (its own origin)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = APP_PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Relay:
    """A loopback TCP relay to the API whose open connections the test can cut."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every connection open now, as a network failure would."""
        with self.lock:
            cut, self.open = self.open, []
        for end in cut:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()
        self.cut()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def app_origin() -> Iterator[AppOrigin]:
    origin = AppOrigin()
    yield origin
    origin.close()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    app_origin: AppOrigin,
    stalled_provider: StalledProvider,
) -> Iterator[ServerProcess]:
    data_dir = make_data_dir(tmp_path_factory.mktemp("browser-app"))
    env = clean_env(PERSONA_CORS_ORIGINS=app_origin.url, OPENAI_BASE_URL=stalled_provider.url)
    with running_server(data_dir, env, "--auth-token", TOKEN, "--log-level", "info") as running:
        yield running


@pytest.fixture
def relay(server: ServerProcess) -> Iterator[Relay]:
    opened = Relay(int(server.base_url.rsplit(":", 1)[1]))
    yield opened
    opened.close()


@pytest.fixture
def api(server: ServerProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def tab(browser: Any, app_origin: AppOrigin) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(app_origin.url)
    yield page
    context.close()


def start_run(api: httpx.Client, body: dict[str, Any]) -> tuple[str, str, str]:
    """(experiment id, run id, run URL) of a new run of a new experiment."""
    experiment = api.post("/experiments", json=body).json()
    location = api.post(f"/experiments/{experiment['id']}/generate").headers["location"]
    return experiment["id"], location.rsplit("/", 1)[1], location


def stream_requests(server: ServerProcess, run_id: str) -> list[tuple[str, int]]:
    """The access log's requests for the run's events with a ticket (the browser's):
    (target, status)."""
    pattern = re.compile(rf'"GET (\S*/runs/{run_id}/events\?ticket=\S*) HTTP/1.1" (\d+)')
    return [(m[1], int(m[2])) for m in pattern.finditer(server.output())]


def stored_events(api: httpx.Client, location: str) -> list[tuple[str, int]]:
    items = api.get(f"{location}/events", params={"limit": 200}).json()["items"]
    return [(event["type"], event["id"]) for event in items]


def received(tab: Any) -> list[tuple[str, int]]:
    return [(event["type"], event["id"]) for event in tab.evaluate("window.received")]


def test_a_ticketed_event_source_receives_every_event_and_never_reconnects(
    tab: Any, relay: Relay, api: httpx.Client, server: ServerProcess
) -> None:
    experiment_id, run_id, location = start_run(api, LOCAL)

    ticket = tab.evaluate(
        "([api, token, e, r]) => watch(api, token, e, r, true)",
        [relay.url, TOKEN, experiment_id, run_id],
    )
    tab.wait_for_function("window.source.readyState === 2", timeout=RUN_TIMEOUT_MS)
    time.sleep(RECONNECT_SECONDS * 1.5)  # a reconnect would have come by now

    assert received(tab) == stored_events(api, location)
    assert received(tab)[-1][0] == "run.succeeded"
    assert stream_requests(server, run_id) == [
        (f"/experiments/{experiment_id}/runs/{run_id}/events?ticket=%2A%2A%2A", 200)
    ]
    assert ticket not in server.output()


def test_without_close_the_reconnect_after_the_terminal_event_gets_204_and_stops(
    tab: Any, relay: Relay, api: httpx.Client, server: ServerProcess
) -> None:
    experiment_id, run_id, location = start_run(api, LOCAL)
    wait_for(api, location, {"succeeded"})

    tab.evaluate(
        "([api, token, e, r]) => watch(api, token, e, r, false)",
        [relay.url, TOKEN, experiment_id, run_id],
    )
    tab.wait_for_function("window.source.readyState === 2", timeout=RUN_TIMEOUT_MS)
    time.sleep(RECONNECT_SECONDS * 1.5)

    assert received(tab) == stored_events(api, location)
    assert [status for _, status in stream_requests(server, run_id)] == [200, 204]
    assert tab.evaluate("window.opens") == 1


def test_a_dropped_stream_resumes_without_losing_or_repeating_an_event(
    tab: Any,
    relay: Relay,
    api: httpx.Client,
    server: ServerProcess,
    stalled_provider: StalledProvider,
) -> None:
    stalled_provider.called.clear()
    experiment_id, run_id, location = start_run(api, STALLED)
    assert stalled_provider.called.wait(RUN_TIMEOUT)  # running, and staying so until cancelled

    tab.evaluate(
        "([api, token, e, r]) => watch(api, token, e, r, true)",
        [relay.url, TOKEN, experiment_id, run_id],
    )
    tab.wait_for_function(
        "window.received.some((event) => event.type === 'run.started')", timeout=RUN_TIMEOUT_MS
    )
    before_the_cut = len(received(tab))
    relay.cut()
    tab.wait_for_function("window.opens === 2", timeout=RUN_TIMEOUT_MS)
    assert api.post(f"{location}/cancel").status_code == 202
    tab.wait_for_function("window.source.readyState === 2", timeout=RUN_TIMEOUT_MS)

    events = received(tab)
    assert events == stored_events(api, location)
    assert len({event_id for _, event_id in events}) == len(events)
    assert before_the_cut >= 2 and events[-1][0] == "run.cancelled"
    assert [status for _, status in stream_requests(server, run_id)] == [200, 200]
