"""Decisions for event streams (Server-Sent Events), shared by both clients. No I/O.

A stream resumes where it broke: ``StreamCursor`` keeps the id of the last event received
and sends it back as ``Last-Event-ID``, so a dropped connection loses and repeats nothing.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from httpx_sse import ServerSentEvent
from pydantic import Field, TypeAdapter

from persona_client.models import (
    RunCancelledEvent,
    RunFailedEvent,
    RunProgressEvent,
    RunQueuedEvent,
    RunStartedEvent,
    RunSucceededEvent,
)

RunEvent = Annotated[
    RunQueuedEvent
    | RunStartedEvent
    | RunProgressEvent
    | RunSucceededEvent
    | RunFailedEvent
    | RunCancelledEvent,
    Field(discriminator="type"),
]
"""One state change of a run; ``type`` tells which model it is."""
RUN_EVENT: TypeAdapter[RunEvent] = TypeAdapter(RunEvent)
TERMINAL_EVENT_TYPES = frozenset({"run.succeeded", "run.failed", "run.cancelled"})

EVENT_STREAM = "text/event-stream"
HEARTBEAT_GRACE = 45.0
"""Seconds without a byte (the server sends a comment every 15 s) before the connection is
taken for dead and reopened."""
MAX_RECONNECTS = 5
"""Reconnections in a row without an event in between before the stream gives up."""


class EventStreamUnavailable(Exception):
    """The server (or a proxy in front of it) answered without an event stream."""


def is_event_stream(response: httpx.Response) -> bool:
    return EVENT_STREAM in response.headers.get("content-type", "")


@dataclass(slots=True)
class StreamCursor:
    """Where a stream is, and when to reconnect after it broke."""

    last_event_id: str | None = None
    deadline: float | None = None
    """``time.monotonic()`` past which a waiting stream stops (None: never)."""
    reconnects: int = 0
    _random: random.Random = field(default_factory=random.Random)

    def headers(self) -> dict[str, str]:
        headers = {"Accept": EVENT_STREAM, "Cache-Control": "no-store"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        return headers

    def read_timeout(self) -> float:
        """Seconds a read may wait: the heartbeat grace, or less when the deadline is near."""
        if self.deadline is None:
            return HEARTBEAT_GRACE
        return max(0.01, min(HEARTBEAT_GRACE, self.deadline - time.monotonic()))

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def received(self, sse: ServerSentEvent) -> RunEvent | None:
        """The run event an SSE carries (None for one without data), remembering its id."""
        if not sse.data:
            return None
        event = RUN_EVENT.validate_json(sse.data)
        if sse.id:
            self.last_event_id = sse.id
        self.reconnects = 0
        return event

    def delay_before_reconnect(self) -> float | None:
        """Seconds to wait before reconnecting after a broken stream; None: give up."""
        if self.reconnects >= MAX_RECONNECTS:
            return None
        self.reconnects += 1
        # Jittered exponential backoff, so clients cut off together do not return together.
        return min(8.0, 0.25 * 2.0 ** (self.reconnects - 1)) * (0.5 + self._random.random() / 2)


def stream_timeout(base: httpx.Timeout, cursor: StreamCursor) -> httpx.Timeout:
    """The client's timeouts with the read timeout of a stream."""
    return httpx.Timeout(
        connect=base.connect, read=cursor.read_timeout(), write=base.write, pool=base.pool
    )
