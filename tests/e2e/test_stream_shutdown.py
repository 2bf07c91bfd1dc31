"""Stopping `persona serve` with event streams open: every stream ends at once with a clean
close (the chunked body complete, a last comment saying the server stops, the retry hint),
the server exits without waiting out its grace period, and logs no error.

The exit time is measured by benchmarks/stream_shutdown.py; here it only has to stay well
under the 10 s grace period that streams used to wait out."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import RUN_TIMEOUT, StalledProvider, clean_env, running_server

from .test_server_http import LOCAL_BODY, TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STREAMS = 50
GRACE_SECONDS = 10.0
"""`persona serve`'s graceful shutdown timeout: a stream still open then is cut."""
STOPPING_COMMENT = ": server stopping: reconnect with Last-Event-ID"


async def _follow(url: str, opened: asyncio.Queue[None]) -> str:
    """Read one stream to its end; its text (raises if the connection was cut)."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30, read=60)) as http,
        http.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        text = ""
        async for chunk in response.aiter_text():
            if not text:
                opened.put_nowait(None)
            text += chunk
        return text


async def _open_streams_then_stop(url: str, stop: asyncio.Event) -> list[str | BaseException]:
    opened: asyncio.Queue[None] = asyncio.Queue()
    streams = [asyncio.create_task(_follow(url, opened)) for _ in range(STREAMS)]
    async with asyncio.timeout(RUN_TIMEOUT):
        for _ in range(STREAMS):
            await opened.get()
    stop.set()
    return await asyncio.gather(*streams, return_exceptions=True)


def test_a_stop_with_50_open_streams_ends_them_cleanly_at_once(
    data_dir: Path, stalled_provider: StalledProvider
) -> None:
    env = clean_env(OPENAI_BASE_URL=stalled_provider.url)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with running_server(data_dir, env, "--auth-token", TOKEN, "--log-level", "info") as server:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as api:
            experiment = api.post(
                "/experiments", json={**LOCAL_BODY, "config": {"provider": "openai"}}
            ).json()
            location = api.post(f"/experiments/{experiment['id']}/generate").headers["location"]
        assert stalled_provider.called.wait(RUN_TIMEOUT)  # the run stays running: streams wait
        stop = asyncio.Event()
        stopped_after: list[float] = []

        async def stop_when_open() -> None:
            await stop.wait()
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(server.process.wait, GRACE_SECONDS * 3)
            stopped_after.append(time.monotonic() - started)

        async def scenario() -> list[str | BaseException]:
            stopping = asyncio.create_task(stop_when_open())
            ended = await _open_streams_then_stop(f"{server.base_url}{location}/events", stop)
            await stopping
            return ended

        ended = asyncio.run(scenario())
        log = server.output()

    cut = [repr(result) for result in ended if isinstance(result, BaseException)]
    assert cut == [], f"{len(cut)} streams were cut: {cut[:3]}"
    for text in ended:
        assert isinstance(text, str)
        assert "event: run.queued" in text and "event: run.started" in text
        assert text.endswith(f"{STOPPING_COMMENT}\nretry: 2000\n\n"), text[-200:]
    assert stopped_after[0] < GRACE_SECONDS / 2, f"exit took {stopped_after[0]:.1f} s"
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]
    assert "graceful shutdown exceeded" not in log
    assert "Application shutdown complete" in log
    print(f"exit with {STREAMS} open streams: {stopped_after[0]:.2f} s")
