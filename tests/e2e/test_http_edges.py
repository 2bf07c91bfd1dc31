"""HTTP edges under a real uvicorn (`persona serve`, and `uvicorn persona.api:app` with the
flags the README gives) on 127.0.0.1, over raw sockets: oversized heads, malformed requests,
slow and idle connections, and what reaches the server log."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import ServerProcess, clean_env, make_data_dir, running_server

pytestmark = pytest.mark.e2e

TOKEN = "edge-token-0123456789abcdef"
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
SLOW_CONNECTIONS = 300
ENV = {
    "PERSONA_API_TOKEN": TOKEN,
    "PERSONA_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
    "PERSONA_BODY_TIMEOUT": str(BODY_TIMEOUT),
}
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = make_data_dir(tmp_path_factory.mktemp("edges"))
    with running_server(data_dir, clean_env(**ENV), "--log-level", "info") as server:
        yield server


def address(server: ServerProcess) -> tuple[str, int]:
    host, port = server.base_url.removeprefix("http://").split(":")
    return host, int(port)


def connect(server: ServerProcess, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(address(server), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_response(sock: socket.socket, deadline: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one response, read until the server closes."""
    data = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            head, _, body = data.partition(b"\r\n\r\n")
            headers = dict(
                line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
            )
            headers = {k.lower(): v for k, v in headers.items()}
            if len(body) >= int(headers.get("content-length", "0")):
                break
    assert data, "no response"
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def assert_raw_problem(
    response: tuple[int, dict[str, str], bytes], status: int, code: str
) -> dict[str, Any]:
    got_status, headers, body = response
    assert got_status == status, body
    assert headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == status and problem["code"] == code
    assert problem["request_id"] == headers["x-request-id"]
    return problem


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def send_until_answered(sock: socket.socket, head: bytes, filler: bytes, total: int) -> float:
    """Send ``head`` then up to ``total`` bytes of ``filler``, stopping as soon as the server
    answers (as a careful client does); the seconds it took."""
    started = time.monotonic()
    sock.sendall(head)
    sent = 0
    while sent < total:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(filler)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(filler)
    return time.monotonic() - started


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_100_mb_header_gets_431_quickly_without_growing_the_server(
    server: ServerProcess,
) -> None:
    before = rss_bytes(server.process.pid)
    with connect(server) as sock:
        elapsed = send_until_answered(
            sock, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * MiB, 100 * MiB
        )
        problem = assert_raw_problem(read_response(sock), 431, "headers_too_large")

    assert elapsed < 5
    assert "65536" in problem["detail"]
    assert rss_bytes(server.process.pid) - before < 20 * MiB
    assert httpx.get(f"{server.base_url}/health").status_code == 200


def test_many_headers_adding_up_past_the_limit_get_431(server: ServerProcess) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(80))
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        assert_raw_problem(read_response(sock), 431, "headers_too_large")


def test_an_over_long_url_gets_414(server: ServerProcess) -> None:
    with connect(server) as sock:
        send_until_answered(sock, b"GET /experiments?q=", b"a" * 16384, 1 * MiB)
        assert_raw_problem(read_response(sock), 414, "uri_too_long")


def test_headers_just_under_the_limit_are_served(server: ServerProcess) -> None:
    response = httpx.get(f"{server.base_url}/health", headers={"X-Pad": "p" * 60_000})

    assert response.status_code == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS hello
        b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    ],
    ids=["bad-header-line", "tls-on-plain-port", "two-content-lengths"],
)
def test_unparsable_requests_get_a_400_problem(server: ServerProcess, request_bytes: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(request_bytes)
        assert_raw_problem(read_response(sock), 400, "malformed_request")


def test_a_stalled_body_gets_408(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /experiments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + TOKEN.encode()
            + b'\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name"'
        )
        started = time.monotonic()
        assert_raw_problem(read_response(sock), 408, "request_timeout")

    assert time.monotonic() - started < BODY_TIMEOUT + 5


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""

    assert time.monotonic() - started < HEADER_TIMEOUT + 5


def test_slowloris_connections_are_all_closed_and_the_server_keeps_serving(
    server: ServerProcess,
) -> None:
    """Each connection sends a header line every 0.3 s and never finishes its request."""
    sockets = [connect(server) for _ in range(SLOW_CONNECTIONS)]
    try:
        for sock in sockets:
            sock.setblocking(False)
            sock.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        open_sockets = set(sockets)
        answers: dict[socket.socket, bytes] = {}
        deadline = time.monotonic() + HEADER_TIMEOUT + 15
        while open_sockets and time.monotonic() < deadline:
            for sock in list(open_sockets):
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, BlockingIOError):
                    sock.send(b"X-Slow: 1\r\n")
            readable, _, _ = select.select(list(open_sockets), [], [], 0.3)
            for sock in readable:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                answers[sock] = answers.get(sock, b"") + chunk
                if not chunk:
                    open_sockets.discard(sock)
            # The server still answers others meanwhile.
            assert httpx.get(f"{server.base_url}/health", timeout=5).status_code == 200

        assert not open_sockets, f"{len(open_sockets)} slow connections still open"
        statuses = {answer.split(b" ", 2)[1] for answer in answers.values() if answer}
        assert statuses == {b"408"}
    finally:
        for sock in sockets:
            sock.close()


def test_run_lifecycle_and_request_lines_reach_the_log_without_tokens(
    server: ServerProcess,
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Request-ID": "edge-req-1"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api:
        created = api.post(
            "/experiments",
            json={
                "name": "Log check",
                "data_sources": ["small.csv"],
                "config": {"provider": "local", "persona_count": 2, "seed": 1},
            },
        ).json()
        run = api.post(f"/experiments/{created['id']}/generate").json()
        deadline = time.monotonic() + 60
        while api.get(f"/experiments/{created['id']}/runs/{run['id']}").json()["status"] in (
            "queued",
            "running",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        refused = httpx.get(f"{server.base_url}/experiments", params={"token": TOKEN})
        assert "?token=" in refused.json()["detail"]

    deadline = time.monotonic() + 5
    while f"run {run['id']} succeeded" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.output()
    assert f"run {run['id']} claimed (attempt 1)" in log
    assert f"run {run['id']} succeeded" in log
    assert "request_id=edge-req-1" in log
    assert f'"POST /experiments/{created["id"]}/generate HTTP/1.1" 202' in log
    assert TOKEN not in log
    # One line per request: uvicorn's own request lines are off.
    assert log.count(f"/experiments/{created['id']}/generate HTTP/1.1") == 1


def test_uvicorn_with_the_readme_flags_behaves_the_same(tmp_path: Path) -> None:
    data_dir = make_data_dir(tmp_path)
    command = [
        sys.executable, "-m", "uvicorn", "persona.api:app",
        "--host", "127.0.0.1", "--port", "{port}",
        "--loop", "asyncio", "--timeout-keep-alive", "75",
        "--http", "persona.api.protocol:PersonaHttpProtocol",
    ]  # fmt: skip
    env = clean_env(PERSONA_DATA_DIR=str(data_dir), PERSONA_MAX_HEADER_BYTES="4096")
    with running_server(data_dir, env, command=command) as server:
        with connect(server) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n")
            assert_raw_problem(read_response(sock), 431, "headers_too_large")
        httpx.get(f"{server.base_url}/health", headers={"X-Request-ID": "uv-1"})
        deadline = time.monotonic() + 5
        while "request_id=uv-1" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = server.output()

    assert '"GET /health HTTP/1.1" 200' in log and "request_id=uv-1" in log
    assert log.count("request_id=uv-1") == 1
    assert '" 200 OK' not in log  # uvicorn's request line for the same request
