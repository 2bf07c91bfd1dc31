"""Server-Sent Events: a stream of run events as ``text/event-stream``, with heartbeats.

Each event is sent with its type as the SSE ``event``, its JSON as ``data`` and its resume key
as ``id`` (a browser's EventSource sends it back as ``Last-Event-ID`` when it reconnects). A
comment line goes out when nothing was sent for ``HEARTBEAT_INTERVAL`` seconds, so proxies
keep the connection open and a gone client is noticed. When the client disconnects Starlette
cancels the response, and closing the event iterator ends its subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event
from starlette.responses import StreamingResponse

from persona.events.schemas import RunEvent

EVENT_STREAM = "text/event-stream"
HEARTBEAT_INTERVAL = 15.0
RETRY_MILLISECONDS = 2000
"""How long an EventSource waits before it reconnects, sent once at the start."""


def wants_event_stream(accept: str | None) -> bool:
    """True when the client asked for Server-Sent Events (``Accept: text/event-stream``)."""
    return accept is not None and EVENT_STREAM in accept.lower()


def event_stream_response(
    events: AsyncIterator[RunEvent], event_id: Callable[[RunEvent], str]
) -> StreamingResponse:
    return StreamingResponse(
        _encoded(events, event_id),
        media_type=EVENT_STREAM,
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx would otherwise hold events back
            "Vary": "Accept",
        },
    )


async def _encoded(
    events: AsyncIterator[RunEvent], event_id: Callable[[RunEvent], str]
) -> AsyncIterator[bytes]:
    yield format_sse_event(retry=RETRY_MILLISECONDS, comment="events follow")
    pending: asyncio.Future[RunEvent] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_INTERVAL)
            if not done:
                yield KEEPALIVE_COMMENT
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None if done else pending
            yield format_sse_event(
                data_str=event.model_dump_json(), event=event.type, id=event_id(event)
            )
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        await events.aclose()  # type: ignore[attr-defined]
