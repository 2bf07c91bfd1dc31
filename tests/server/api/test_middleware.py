"""The ASGI plumbing on its own: lifespan pass-through, body limits outside a route, lazy app,
the frozen start-up heap of a server app."""

from __future__ import annotations

import gc
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import persona.api
import pytest
from fastapi import FastAPI
from persona.api import create_app
from persona.api.main import server_app
from persona.api.middleware import BodyLimitMiddleware
from persona.settings import Settings
from starlette.types import Message, Receive, Scope, Send


async def drive_lifespan(app: FastAPI) -> list[str]:
    """Run startup then shutdown through the ASGI interface, as uvicorn does."""
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> Message:
        return next(incoming)

    async def send(message: Message) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


async def test_lifespan_passes_through_the_middleware_and_starts_the_service(
    tmp_path: Path,
) -> None:
    app = create_app(Settings(data_dir=tmp_path, _env_file=None))  # type: ignore[call-arg]

    sent = await drive_lifespan(app)

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert (tmp_path / ".persona" / "persona.db").exists()


def test_module_level_app_uses_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PERSONA_API_TOKEN", "env-token")
    monkeypatch.setattr(persona.api, "_app", None)

    app = persona.api.app

    assert app is persona.api.app
    assert app.state.settings.data_dir == tmp_path.resolve()
    assert app.state.api_tokens == (b"env-token",)
    with pytest.raises(AttributeError):
        _ = persona.api.no_such_thing


async def body_reading_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI app that reads the whole body itself, outside any FastAPI route."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def limited(app: Any, limit: int = 100) -> httpx.AsyncClient:
    wrapped = BodyLimitMiddleware(
        app, json_limit=limit, upload_limit=limit * 10, upload_path=re.compile("/upload")
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t")


async def chunked(count: int, size: int = 40) -> Any:
    for _ in range(count):
        yield b"x" * size


async def test_body_limit_answers_413_when_the_app_reads_past_it() -> None:
    async with limited(body_reading_app) as client:
        small = await client.post("/", content=chunked(2))
        large = await client.post("/", content=chunked(5))
        upload = await client.post(
            "/upload", content=chunked(5), headers={"content-type": "multipart/form-data; b=x"}
        )

    assert (small.status_code, small.text) == (200, "80")
    assert large.status_code == 413
    assert large.headers["content-type"] == "application/problem+json"
    assert large.json()["code"] == "payload_too_large"
    assert (upload.status_code, upload.text) == (200, "200")


async def test_body_limit_cannot_replace_a_response_already_started() -> None:
    async def streams_then_reads(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            pass

    async with limited(streams_then_reads) as client:
        with pytest.raises(Exception) as raised:
            await client.post("/", content=chunked(5))

    assert raised.value.__class__.__name__ == "BodyTooLarge"


async def test_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")

    assert response.status_code == 200
    assert "oauth2" in response.text.lower()


async def call_raw(app: Any, *, http_version: str, body: bytes) -> list[Message]:
    """One request with no Content-Length or Transfer-Encoding header, straight through ASGI."""
    scope = {
        "type": "http", "http_version": http_version, "method": "POST", "path": "/",
        "raw_path": b"/", "query_string": b"", "headers": [], "state": {},
    }  # fmt: skip
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyLimitMiddleware(
        app, json_limit=100, upload_limit=1000, upload_path=re.compile("/upload")
    )(scope, receive, send)
    return sent


async def test_a_body_without_length_headers_is_still_counted_beyond_http1() -> None:
    # Over HTTP/2 a body needs neither header; only HTTP/1 lets their absence mean "no body".
    sent = await call_raw(body_reading_app, http_version="2", body=b"x" * 500)

    assert sent[0]["status"] == 413


async def test_an_http1_request_without_length_headers_reaches_the_app() -> None:
    sent = await call_raw(body_reading_app, http_version="1.1", body=b"")

    assert (sent[0]["status"], sent[1]["body"]) == (200, b"0")


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Whatever a test freezes is given back to the collector afterwards (and the switch
    interval a server app sets is put back)."""
    assert gc.get_freeze_count() == 0
    interval = sys.getswitchinterval()
    yield
    gc.unfreeze()
    sys.setswitchinterval(interval)


async def test_a_server_app_freezes_its_start_up_heap(tmp_path: Path, unfrozen: None) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]

    await drive_lifespan(create_app(settings))
    assert gc.get_freeze_count() == 0  # apps that come and go (tests) leave the collector be

    await drive_lifespan(create_app(settings, long_running=True))
    assert gc.get_freeze_count() > 0


LIFESPAN_THEN_REPORT_IMPORTS = """
import asyncio, sys
from persona.api.main import create_app
from persona.settings import Settings

app = create_app(Settings(data_dir=sys.argv[1], _env_file=None), long_running=sys.argv[2] == "1")


async def start_and_stop():
    async with app.router.lifespan_context(app):
        pass


asyncio.run(start_and_stop())
print("persona.providers.openai" in sys.modules, "aiohttp" in sys.modules, sys.getswitchinterval())
"""


@pytest.mark.parametrize(
    ("long_running", "imported"), [(True, "True True 0.0005"), (False, "False False 0.005")]
)
def test_a_server_app_imports_the_providers_and_tunes_its_threads_at_start_up(
    tmp_path: Path, long_running: bool, imported: str
) -> None:
    # A fresh interpreter: this one has imported every provider in other tests.
    done = subprocess.run(
        [sys.executable, "-c", LIFESPAN_THEN_REPORT_IMPORTS, str(tmp_path), str(int(long_running))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    assert done.stdout.strip() == imported


def test_the_served_apps_are_server_apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(persona.api, "_app", None)

    assert persona.api.app.state.long_running is True
    assert server_app().state.long_running is True
