"""Server-Sent Events: a stream of run events as ``text/event-stream``, with heartbeats.

Each event is sent with its type as the SSE ``event``, its JSON as ``data`` and its resume key
as ``id`` (a browser's EventSource sends it back as ``Last-Event-ID`` when it reconnects). A
comment line goes out when nothing was sent for ``HEARTBEAT_INTERVAL`` seconds, so proxies
keep the connection open and a gone client is noticed. When the client disconnects Starlette
cancels the response, and closing the event iterator ends its subscription.

When the server stops, the event iterators end (``EventHub.stop_streams``) and the stream
closes cleanly with a last comment saying so and the ``retry`` hint again: the client
reconnects (to another replica, or after the restart) with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event
from starlette.responses import Response, StreamingResponse

from persona.events.schemas import RunEvent

EVENT_STREAM = "text/event-stream"
HEARTBEAT_INTERVAL = 15.0
RETRY_MILLISECONDS = 2000
"""How long an EventSource waits before it reconnects, sent at the start (and at a stop)."""
STOP_STREAMS = "persona.stop_streams"
"""The lifespan state's key of the callable that ends every stream of the app."""
STOPPING = format_sse_event(
    retry=RETRY_MILLISECONDS, comment="server stopping: reconnect with Last-Event-ID"
)


def wants_event_stream(accept: str | None) -> bool:
    """True when the client asked for Server-Sent Events (``Accept: text/event-stream``)."""
    return accept is not None and EVENT_STREAM in accept.lower()


def event_stream_response(
    events: AsyncIterator[RunEvent],
    event_id: Callable[[RunEvent], str],
    stopped: Callable[[], bool] = lambda: False,
) -> StreamingResponse:
    """``stopped`` says, once the events end, whether they ended for a server stop."""
    return StreamingResponse(
        _encoded(events, event_id, stopped),
        media_type=EVENT_STREAM,
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx would otherwise hold events back
            "Vary": "Accept",
        },
    )


def nothing_follows() -> Response:
    """The answer to a stream that would be empty for good (a run that has ended, resumed
    after its last event): 204 is what stops an EventSource from reconnecting."""
    return Response(status_code=204, headers={"Cache-Control": "no-store", "Vary": "Accept"})


async def _encoded(
    events: AsyncIterator[RunEvent],
    event_id: Callable[[RunEvent], str],
    stopped: Callable[[], bool] = lambda: False,
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
                if stopped():
                    yield STOPPING
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
