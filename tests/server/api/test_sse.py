"""The Server-Sent Events encoder: heartbeats in silences, and closing what it streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from persona.api import sse
from persona.events.schemas import NoEventData, RunCancelledEvent, RunEvent


def _cancelled() -> RunEvent:
    return RunCancelledEvent(
        type="run.cancelled",
        id=7,
        run_id="run-a",
        experiment_id="exp-a",
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        data=NoEventData(),
    )


async def test_silence_is_filled_with_heartbeat_comments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "HEARTBEAT_INTERVAL", 0.01)

    async def slow() -> AsyncIterator[RunEvent]:
        await asyncio.sleep(0.1)
        yield _cancelled()

    chunks = [chunk async for chunk in sse._encoded(slow(), lambda event: f"key-{event.id}")]

    assert chunks[0] == b": events follow\nretry: 2000\n\n"
    assert chunks[1] == sse.KEEPALIVE_COMMENT == b": ping\n\n"
    assert chunks[-2] == sse.KEEPALIVE_COMMENT
    event = chunks[-1].decode()
    assert event.startswith("event: run.cancelled\ndata: {")
    assert event.endswith("\nid: key-7\n\n")
    assert len(chunks) >= 4


async def test_stopping_the_response_closes_the_events_it_was_waiting_on() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[RunEvent]:
        try:
            yield _cancelled()
            await asyncio.Event().wait()
            yield _cancelled()
        finally:
            closed.set()

    encoded = sse._encoded(endless(), lambda event: str(event.id))
    assert (await anext(encoded)).startswith(b": events follow")
    assert b"run.cancelled" in await anext(encoded)
    waiting = asyncio.ensure_future(anext(encoded))
    await asyncio.sleep(0.01)

    waiting.cancel()  # what Starlette does when the client disconnects
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await encoded.aclose()

    assert closed.is_set()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/event-stream", True),
        ("application/json, Text/Event-Stream;q=0.9", True),
        ("application/json", False),
        (None, False),
    ],
)
def test_an_event_stream_is_sent_only_to_who_asks_for_one(
    accept: str | None, expected: bool
) -> None:
    assert sse.wants_event_stream(accept) is expected
