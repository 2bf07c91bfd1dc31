"""Event streams in both clients under scripted transport faults: typed events, resuming
with Last-Event-ID after a dropped connection, giving up, and runs.wait on a stream.
httpx.MockTransport stands in for the network only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import persona_client as pc
import pytest
from persona_client import _streams

from .test_transport_faults import Script, ok

NOW = "2025-01-01T12:00:00Z"
DATA = {
    "run.queued": {},
    "run.started": {"attempt": 1},
    "run.progress": {"stage": "thinking", "progress": 0.5},
    "run.succeeded": {"persona_ids": ["persona-1"], "usage": {"input_tokens": 3}},
}


def sse(seq: int, event_type: str) -> bytes:
    event = {
        "id": seq,
        "type": event_type,
        "run_id": "run-abc",
        "experiment_id": "exp-abc",
        "timestamp": NOW,
        "created_at": NOW,
        "data": DATA[event_type],
    }
    return f"event: {event_type}\ndata: {json.dumps(event)}\nid: {seq}\n\n".encode()


class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that sends ``chunks`` and then loses the connection (unless ``complete``)."""

    def __init__(self, *chunks: bytes, complete: bool = False) -> None:
        self.chunks = chunks
        self.complete = complete

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if not self.complete:
            raise httpx.ReadError("connection lost")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if not self.complete:
            raise httpx.ReadError("connection lost")


def stream(*chunks: bytes, complete: bool = True) -> httpx.Response:
    headers = {"content-type": "text/event-stream"}
    return httpx.Response(
        200, headers=headers, stream=Broken(b": hi\n\n", *chunks, complete=complete)
    )


@pytest.fixture
def run(run_payload: Any) -> pc.models.Run:
    return pc.models.Run.model_validate(run_payload("queued"))


def test_a_stream_yields_typed_events_and_resumes_where_it_broke(
    run: pc.models.Run, sleeps: list[float]
) -> None:
    script = Script(
        stream(sse(1, "run.queued"), sse(2, "run.started"), complete=False),
        httpx.ConnectError,
        stream(sse(3, "run.progress"), sse(4, "run.succeeded")),
    )

    events = list(script.sync_client().runs.stream(run))

    assert [type(e) for e in events] == [
        pc.models.RunQueuedEvent,
        pc.models.RunStartedEvent,
        pc.models.RunProgressEvent,
        pc.models.RunSucceededEvent,
    ]
    assert isinstance(events[-1], pc.models.RunSucceededEvent)
    assert events[-1].data.persona_ids == ["persona-1"]
    assert "last-event-id" not in script.requests[0].headers
    assert [r.headers["last-event-id"] for r in script.requests[1:]] == ["2", "2"]
    assert script.requests[0].headers["accept"] == "text/event-stream"
    assert len(sleeps) == 2  # one backoff per reconnection


def test_a_stream_starts_after_the_given_event(run: pc.models.Run, sleeps: list[float]) -> None:
    script = Script(stream(sse(4, "run.succeeded")))
    assert [e.id for e in script.sync_client().runs.stream(run, after=3)] == [4]
    assert script.requests[0].headers["last-event-id"] == "3"


def test_a_stream_after_the_last_event_of_an_ended_run_is_empty(
    run: pc.models.Run, sleeps: list[float]
) -> None:
    """204 No Content: the run has ended and nothing follows; no reconnecting."""
    script = Script(httpx.Response(204))
    assert list(script.sync_client().runs.stream(run, after=4)) == []
    assert len(script.requests) == 1 and sleeps == []


async def test_an_async_stream_after_the_last_event_of_an_ended_run_is_empty(
    run: pc.models.Run, sleeps: list[float]
) -> None:
    script = Script(httpx.Response(204))
    async with script.async_client() as client:
        assert [event async for event in client.runs.stream(run, after=4)] == []
    assert len(script.requests) == 1 and sleeps == []


def test_a_stream_gives_up_after_reconnecting_in_vain(
    run: pc.models.Run, sleeps: list[float]
) -> None:
    script = Script(*([httpx.ConnectError] * (_streams.MAX_RECONNECTS + 1)))
    with pytest.raises(pc.APIConnectionError):
        list(script.sync_client().runs.stream(run))
    assert len(sleeps) == _streams.MAX_RECONNECTS
    assert all(0 < pause <= 8.0 for pause in sleeps)


def test_a_stream_the_server_keeps_ending_early_is_an_error(
    run: pc.models.Run, sleeps: list[float]
) -> None:
    script = Script(*(stream() for _ in range(_streams.MAX_RECONNECTS + 1)))
    with pytest.raises(pc.APIConnectionError, match="kept ending before the run's last event"):
        list(script.sync_client().runs.stream(run))


def test_a_stream_of_an_unknown_run_raises_not_found(run: pc.models.Run) -> None:
    problem = {"title": "Not Found", "status": 404, "detail": "run 'run-abc' not found"}
    script = Script(httpx.Response(404, json=problem))
    with pytest.raises(pc.NotFoundError):
        list(script.sync_client().runs.stream(run))


def test_wait_listens_to_the_stream_then_reads_the_run_once(
    run: pc.models.Run, run_payload: Any, sleeps: list[float]
) -> None:
    finished = run_payload("succeeded", progress=1.0, persona_ids=["persona-1"])
    script = Script(stream(sse(1, "run.queued"), sse(2, "run.succeeded")), ok(finished))

    done = script.sync_client().runs.wait(run)

    assert done.status == "succeeded"
    assert sleeps == []
    assert [r.url.path.rsplit("/", 1)[-1] for r in script.requests] == ["events", "run-abc"]


def test_wait_falls_back_to_polling_when_the_stream_cannot_be_kept(
    run: pc.models.Run, run_payload: Any, sleeps: list[float]
) -> None:
    broken = [httpx.ReadError] * (_streams.MAX_RECONNECTS + 1)
    script = Script(*broken, ok(run_payload("running")), ok(run_payload("succeeded")))

    done = script.sync_client().runs.wait(run, poll_interval=0.3)

    assert done.status == "succeeded"
    assert sleeps[-1] == 0.3


async def test_the_async_stream_resumes_and_async_wait_uses_it(
    run: pc.models.Run, run_payload: Any, sleeps: list[float]
) -> None:
    script = Script(
        stream(sse(1, "run.queued"), complete=False),
        stream(sse(2, "run.succeeded")),
        stream(sse(2, "run.succeeded")),
        ok(run_payload("succeeded")),
    )
    async with script.async_client() as client:
        events = [event async for event in client.runs.stream(run)]
        done = await client.runs.wait(run)

    assert [e.id for e in events] == [1, 2]
    assert script.requests[1].headers["last-event-id"] == "1"
    assert done.status == "succeeded"
    assert len(sleeps) == 1


def test_wait_polls_a_server_that_predates_event_streams(
    run: pc.models.Run, run_payload: Any, sleeps: list[float]
) -> None:
    problem = {"title": "Not Found", "status": 404, "detail": "no such path"}
    script = Script(httpx.Response(404, json=problem), ok(run_payload("succeeded")))

    assert script.sync_client().runs.wait(run).status == "succeeded"
    assert [r.url.path.rsplit("/", 1)[-1] for r in script.requests] == ["events", "run-abc"]
