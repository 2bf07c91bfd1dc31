"""Runs: start, list, get, cancel, wait, events and evidence."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence

import httpx

from persona_client import _operations as ops
from persona_client._base import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    PollSchedule,
    connection_error,
    stream_ended_error,
)
from persona_client._base import finished_run as _finished_run
from persona_client._exceptions import APIConnectionError, NotFoundError
from persona_client._resources._resource import (
    _apaginate,
    _apaginate_after,
    _AsyncResource,
    _paginate,
    _paginate_after,
    _Resource,
)
from persona_client._streams import (
    TERMINAL_EVENT_TYPES,
    EventStreamUnavailable,
    RunEvent,
    StreamCursor,
)
from persona_client.models import Evidence, EvidencePage, Run, RunDetail, RunEventPage, RunPage


class Runs(_Resource):
    def start(
        self,
        experiment_id: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        persona_count: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Start a run of the experiment (queued); overrides apply to this run only.

        Retries reuse one Idempotency-Key, so they never start a second run. Pass your own
        ``idempotency_key`` to make a repeated call of yours just as safe.
        """
        overrides = {
            "provider": provider,
            "model": model,
            "persona_count": persona_count,
            "temperature": temperature,
            "seed": seed,
        }
        operation = ops.start_run(experiment_id, overrides, idempotency_key=idempotency_key)
        return self._request(operation)

    def list(
        self,
        experiment_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> RunPage:
        """One page of the experiment's runs, newest first, optionally of one ``status``."""
        operation = ops.list_runs(experiment_id, status=status, limit=limit, cursor=cursor)
        return self._request(operation)

    def list_events(
        self, experiment_id: str, run_id: str, *, after: int | None = None, limit: int | None = None
    ) -> RunEventPage:
        """One page of the run's events (its state changes), oldest first, after ``after``;
        pass ``next_after`` back as ``after`` for the next."""
        operation = ops.list_run_events(experiment_id, run_id, after=after, limit=limit)
        return self._request(operation)

    def iter_events(
        self,
        experiment_id: str,
        run_id: str,
        *,
        after: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[RunEvent]:
        """Every event of the run stored so far (after ``after``), page after page; ``stream``
        follows them live."""
        return _paginate_after(
            lambda next_after: self.list_events(
                experiment_id,
                run_id,
                after=after if next_after is None else next_after,
                limit=page_size,
            )
        )

    def iter(
        self, experiment_id: str, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[Run]:
        return _paginate(
            lambda cursor: self.list(experiment_id, status=status, limit=page_size, cursor=cursor)
        )

    def get(self, experiment_id: str, run_id: str) -> RunDetail:
        """The run, with its personas embedded once it has succeeded."""
        return self._request(ops.get_run(experiment_id, run_id))

    def list_evidence(
        self,
        experiment_id: str,
        run_id: str,
        *,
        ids: Sequence[str] | None = None,
        participant: str | None = None,
        source: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> EvidencePage:
        """One page of the evidence the run read, in source order; see ``iter_evidence``."""
        operation = ops.list_run_evidence(
            experiment_id,
            run_id,
            ids=ids,
            participant=participant,
            source=source,
            q=q,
            limit=limit,
            cursor=cursor,
        )
        return self._request(operation)

    def iter_evidence(
        self,
        experiment_id: str,
        run_id: str,
        *,
        ids: Sequence[str] | None = None,
        participant: str | None = None,
        source: str | None = None,
        q: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Evidence]:
        """Every evidence record the run read (as it was then), in source order, page after
        page: only ``ids``, one ``participant``, one ``source``, text containing ``q``."""
        return _paginate(
            lambda cursor: self.list_evidence(
                experiment_id,
                run_id,
                ids=ids,
                participant=participant,
                source=source,
                q=q,
                limit=page_size,
                cursor=cursor,
            )
        )

    def cancel(self, experiment_id: str, run_id: str) -> Run:
        """Cancel a queued or running run; ConflictError if it has already finished."""
        return self._request(ops.cancel_run(experiment_id, run_id))

    def stream(self, run: Run | RunDetail, *, after: int = 0) -> Iterator[RunEvent]:
        """Yield the run's events (after event ``after``) as they happen, ending after its
        terminal event (run.succeeded, run.failed or run.cancelled).

        A dropped connection is reopened with ``Last-Event-ID``, so no event is lost or
        repeated; APIConnectionError after several failed reconnections in a row."""
        cursor = StreamCursor(last_event_id=str(after) if after else None)
        return self._events(run, cursor)

    def _events(self, run: Run | RunDetail, cursor: StreamCursor) -> Iterator[RunEvent]:
        operation = ops.stream_run_events(run.experiment_id, run.id)
        while True:
            try:
                with self._stream(operation, cursor) as source:
                    if source is None:
                        return  # the run has ended; nothing follows the last event
                    request = source.response.request
                    for sse in source.iter_sse():
                        event = cursor.received(sse)
                        if event is not None:
                            yield event
                            if event.type in TERMINAL_EVENT_TYPES:
                                return
            except httpx.TransportError as error:
                if cursor.past_deadline():
                    return
                delay = cursor.delay_before_reconnect()
                if delay is None:
                    raise connection_error(error) from error
            else:  # the server ended the stream early (it is shutting down): reconnect
                delay = cursor.delay_before_reconnect()
                if delay is None:
                    raise stream_ended_error(request)
            self._sleep(delay)

    def wait(
        self,
        run: Run | RunDetail,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> RunDetail:
        """Wait until the run finishes and return it, personas embedded.

        Listens to the run's event stream, and polls every ``poll_interval`` seconds instead
        when the server (or a proxy) does not stream. Raises RunFailedError (``.error`` says
        why) if it failed, RunCancelledError (a RunFailedError) if it was cancelled, and
        WaitTimeoutError (a TimeoutError) if it is still unfinished after ``timeout`` seconds
        (None: no limit); the run itself goes on.
        """
        schedule = PollSchedule.start(timeout, poll_interval)
        cursor = StreamCursor(deadline=schedule.deadline)
        # A server without event streams (404 from one that predates them) is polled; so is
        # one whose stream cannot be kept (the connection errors).
        with contextlib.suppress(EventStreamUnavailable, APIConnectionError, NotFoundError):
            for _ in self._events(run, cursor):
                if cursor.past_deadline():
                    break
        while True:
            current = self.get(run.experiment_id, run.id)
            if _finished_run(current) is not None:
                return current
            self._sleep(schedule.next_delay(current))


class AsyncRuns(_AsyncResource):
    async def start(
        self,
        experiment_id: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        persona_count: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Start a run of the experiment (queued); see ``Runs.start``."""
        overrides = {
            "provider": provider,
            "model": model,
            "persona_count": persona_count,
            "temperature": temperature,
            "seed": seed,
        }
        operation = ops.start_run(experiment_id, overrides, idempotency_key=idempotency_key)
        return await self._request(operation)

    async def list(
        self,
        experiment_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> RunPage:
        """One page of the experiment's runs, newest first, optionally of one ``status``."""
        operation = ops.list_runs(experiment_id, status=status, limit=limit, cursor=cursor)
        return await self._request(operation)

    async def list_events(
        self, experiment_id: str, run_id: str, *, after: int | None = None, limit: int | None = None
    ) -> RunEventPage:
        """One page of the run's events; see ``Runs.list_events``."""
        operation = ops.list_run_events(experiment_id, run_id, after=after, limit=limit)
        return await self._request(operation)

    def iter_events(
        self,
        experiment_id: str,
        run_id: str,
        *,
        after: int | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[RunEvent]:
        """Every event of the run stored so far; see ``Runs.iter_events``."""
        return _apaginate_after(
            lambda next_after: self.list_events(
                experiment_id,
                run_id,
                after=after if next_after is None else next_after,
                limit=page_size,
            )
        )

    def iter(
        self, experiment_id: str, *, status: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Run]:
        return _apaginate(
            lambda cursor: self.list(experiment_id, status=status, limit=page_size, cursor=cursor)
        )

    async def get(self, experiment_id: str, run_id: str) -> RunDetail:
        """The run, with its personas embedded once it has succeeded."""
        return await self._request(ops.get_run(experiment_id, run_id))

    async def list_evidence(
        self,
        experiment_id: str,
        run_id: str,
        *,
        ids: Sequence[str] | None = None,
        participant: str | None = None,
        source: str | None = None,
        q: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> EvidencePage:
        """One page of the evidence the run read; see ``Runs.iter_evidence``."""
        operation = ops.list_run_evidence(
            experiment_id,
            run_id,
            ids=ids,
            participant=participant,
            source=source,
            q=q,
            limit=limit,
            cursor=cursor,
        )
        return await self._request(operation)

    def iter_evidence(
        self,
        experiment_id: str,
        run_id: str,
        *,
        ids: Sequence[str] | None = None,
        participant: str | None = None,
        source: str | None = None,
        q: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Evidence]:
        """Every evidence record the run read; see ``Runs.iter_evidence``."""
        return _apaginate(
            lambda cursor: self.list_evidence(
                experiment_id,
                run_id,
                ids=ids,
                participant=participant,
                source=source,
                q=q,
                limit=page_size,
                cursor=cursor,
            )
        )

    async def cancel(self, experiment_id: str, run_id: str) -> Run:
        """Cancel a queued or running run; ConflictError if it has already finished."""
        return await self._request(ops.cancel_run(experiment_id, run_id))

    def stream(self, run: Run | RunDetail, *, after: int = 0) -> AsyncIterator[RunEvent]:
        """Yield the run's events as they happen; see ``Runs.stream``."""
        cursor = StreamCursor(last_event_id=str(after) if after else None)
        return self._events(run, cursor)

    async def _events(self, run: Run | RunDetail, cursor: StreamCursor) -> AsyncIterator[RunEvent]:
        operation = ops.stream_run_events(run.experiment_id, run.id)
        while True:
            try:
                async with self._stream(operation, cursor) as source:
                    if source is None:
                        return  # the run has ended; nothing follows the last event
                    request = source.response.request
                    async for sse in source.aiter_sse():
                        event = cursor.received(sse)
                        if event is not None:
                            yield event
                            if event.type in TERMINAL_EVENT_TYPES:
                                return
            except httpx.TransportError as error:
                if cursor.past_deadline():
                    return
                delay = cursor.delay_before_reconnect()
                if delay is None:
                    raise connection_error(error) from error
            else:  # the server ended the stream early (it is shutting down): reconnect
                delay = cursor.delay_before_reconnect()
                if delay is None:
                    raise stream_ended_error(request)
            await self._sleep(delay)

    async def wait(
        self,
        run: Run | RunDetail,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 - the twin of Runs.wait
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> RunDetail:
        """Wait until the run finishes and return it; see ``Runs.wait``."""
        schedule = PollSchedule.start(timeout, poll_interval)
        cursor = StreamCursor(deadline=schedule.deadline)
        events = self._events(run, cursor)
        try:
            async for _ in events:
                if cursor.past_deadline():
                    break
        except (EventStreamUnavailable, APIConnectionError, NotFoundError):
            pass  # no stream: poll (see Runs.wait)
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        while True:
            current = await self.get(run.experiment_id, run.id)
            if _finished_run(current) is not None:
                return current
            await self._sleep(schedule.next_delay(current))
