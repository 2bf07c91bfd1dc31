"""Runs: start, list, get, cancel, wait, events and evidence."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from persona_client import _operations as ops
from persona_client._base import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, PollSchedule
from persona_client._base import finished_run as _finished_run
from persona_client._resources._resource import _apaginate, _AsyncResource, _paginate, _Resource
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

    def events(
        self, experiment_id: str, run_id: str, *, after: int | None = None, limit: int | None = None
    ) -> RunEventPage:
        """One page of the run's events (its state changes), oldest first, after ``after``."""
        operation = ops.list_run_events(experiment_id, run_id, after=after, limit=limit)
        return self._request(operation)

    def iter(
        self, experiment_id: str, *, status: str | None = None, page_size: int | None = None
    ) -> Iterator[Run]:
        return _paginate(
            lambda cursor: self.list(experiment_id, status=status, limit=page_size, cursor=cursor)
        )

    def get(self, experiment_id: str, run_id: str) -> RunDetail:
        """The run, with its personas embedded once it has succeeded."""
        return self._request(ops.get_run(experiment_id, run_id))

    def evidence_page(
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
        """One page of the evidence the run read, in source order; see ``evidence``."""
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

    def evidence(
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
            lambda cursor: self.evidence_page(
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

    def wait(
        self,
        run: Run | RunDetail,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> RunDetail:
        """Poll until the run finishes and return it, personas embedded.

        Raises RunFailedError (``.error`` says why) if it failed, RunCancelledError (a
        RunFailedError) if it was cancelled, and WaitTimeoutError (a TimeoutError) if it is
        still unfinished after ``timeout`` seconds (None: no limit); the run itself goes on.
        """
        schedule = PollSchedule.start(timeout, poll_interval)
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

    async def events(
        self, experiment_id: str, run_id: str, *, after: int | None = None, limit: int | None = None
    ) -> RunEventPage:
        """One page of the run's events (its state changes), oldest first, after ``after``."""
        operation = ops.list_run_events(experiment_id, run_id, after=after, limit=limit)
        return await self._request(operation)

    def iter(
        self, experiment_id: str, *, status: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Run]:
        return _apaginate(
            lambda cursor: self.list(experiment_id, status=status, limit=page_size, cursor=cursor)
        )

    async def get(self, experiment_id: str, run_id: str) -> RunDetail:
        """The run, with its personas embedded once it has succeeded."""
        return await self._request(ops.get_run(experiment_id, run_id))

    async def evidence_page(
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
        """One page of the evidence the run read; see ``Runs.evidence``."""
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

    def evidence(
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
        """Every evidence record the run read; see ``Runs.evidence``."""
        return _apaginate(
            lambda cursor: self.evidence_page(
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

    async def wait(
        self,
        run: Run | RunDetail,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 - the twin of Runs.wait
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> RunDetail:
        """Poll until the run finishes and return it; see ``Runs.wait``."""
        schedule = PollSchedule.start(timeout, poll_interval)
        while True:
            current = await self.get(run.experiment_id, run.id)
            if _finished_run(current) is not None:
                return current
            await self._sleep(schedule.next_delay(current))
