"""The API's resources, as attributes of a client: experiments, runs, personas, sources, providers.

Each sync class has an async twin of the same shape; both only pick an operation from
``_operations`` and hand it to their client's ``request`` (waiting through its ``sleep``),
so they cannot drift apart in what they send.
"""

from __future__ import annotations

import builtins
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, TypeVar

from persona_client import _operations as ops
from persona_client._base import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, Page, PollSchedule
from persona_client._base import finished_run as _finished_run
from persona_client.models import (
    CitedEvidence,
    Evidence,
    EvidencePage,
    Experiment,
    ExperimentPage,
    ExperimentSourceList,
    GenerationConfig,
    Persona,
    PersonaPage,
    ProviderInfo,
    Run,
    RunDetail,
    RunEventPage,
    RunPage,
)

if TYPE_CHECKING:
    from persona_client._client import AsyncPersonaClient, PersonaClient

ItemT = TypeVar("ItemT")


def _paginate(fetch: Callable[[str | None], Page[ItemT]]) -> Iterator[ItemT]:
    """Every item of every page, following ``next_cursor`` until the last page."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _apaginate(fetch: Callable[[str | None], Awaitable[Page[ItemT]]]) -> AsyncIterator[ItemT]:
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


class _Resource:
    """Binds the client's public request methods, the only ones a resource uses."""

    def __init__(self, client: PersonaClient) -> None:
        self._request = client.request
        self._sleep = client.sleep


class _AsyncResource:
    def __init__(self, client: AsyncPersonaClient) -> None:
        self._request = client.request
        self._sleep = client.sleep


# --------------------------------------------------------------------------- experiments


class Experiments(_Resource):
    def list(self, *, limit: int | None = None, cursor: str | None = None) -> ExperimentPage:
        """One page, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""
        return self._request(ops.list_experiments(limit=limit, cursor=cursor))

    def iter(self, *, page_size: int | None = None) -> Iterator[Experiment]:
        """Every experiment, newest first, fetching pages of ``page_size`` as it goes."""
        return _paginate(lambda cursor: self.list(limit=page_size, cursor=cursor))

    def create(
        self,
        *,
        name: str,
        data_sources: Sequence[ops.DataSource],
        config: GenerationConfig | Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> Experiment:
        """Create an experiment; ``data_sources`` are server-side paths or inline sources."""
        operation = ops.create_experiment(
            name=name, data_sources=data_sources, config=config, description=description
        )
        return self._request(operation)

    def get(self, experiment_id: str) -> Experiment:
        return self._request(ops.get_experiment(experiment_id))

    def delete(self, experiment_id: str) -> None:
        """Delete the experiment with its runs and personas, cancelling active runs."""
        self._request(ops.delete_experiment(experiment_id))


class AsyncExperiments(_AsyncResource):
    async def list(self, *, limit: int | None = None, cursor: str | None = None) -> ExperimentPage:
        """One page, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""
        return await self._request(ops.list_experiments(limit=limit, cursor=cursor))

    def iter(self, *, page_size: int | None = None) -> AsyncIterator[Experiment]:
        """Every experiment, newest first, fetching pages of ``page_size`` as it goes."""
        return _apaginate(lambda cursor: self.list(limit=page_size, cursor=cursor))

    async def create(
        self,
        *,
        name: str,
        data_sources: Sequence[ops.DataSource],
        config: GenerationConfig | Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> Experiment:
        """Create an experiment; ``data_sources`` are server-side paths or inline sources."""
        operation = ops.create_experiment(
            name=name, data_sources=data_sources, config=config, description=description
        )
        return await self._request(operation)

    async def get(self, experiment_id: str) -> Experiment:
        return await self._request(ops.get_experiment(experiment_id))

    async def delete(self, experiment_id: str) -> None:
        """Delete the experiment with its runs and personas, cancelling active runs."""
        await self._request(ops.delete_experiment(experiment_id))


# --------------------------------------------------------------------------- runs


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


# --------------------------------------------------------------------------- personas


class Personas(_Resource):
    def get(self, persona_id: str) -> Persona:
        return self._request(ops.get_persona(persona_id))

    def markdown(self, persona_id: str) -> str:
        """The persona rendered as a Markdown document by the server, ending with its sources."""
        return self._request(ops.get_persona_markdown(persona_id))

    def list(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> PersonaPage:
        """One page of the experiment's personas: of one run, of the newest succeeded run
        (``latest``), or all."""
        operation = ops.list_personas(
            experiment_id, run_id=run_id, latest=latest, limit=limit, cursor=cursor
        )
        return self._request(operation)

    def iter(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        page_size: int | None = None,
    ) -> Iterator[Persona]:
        return _paginate(
            lambda cursor: self.list(
                experiment_id, run_id=run_id, latest=latest, limit=page_size, cursor=cursor
            )
        )

    def evidence(self, persona_id: str, *, page_size: int | None = None) -> Iterator[CitedEvidence]:
        """Every record the persona cites (source, locator, participant, text), each with the
        statements citing it and where its quotes stand in its text, page after page."""
        return _paginate(
            lambda cursor: self._request(
                ops.list_persona_evidence(persona_id, limit=page_size, cursor=cursor)
            )
        )


class AsyncPersonas(_AsyncResource):
    async def get(self, persona_id: str) -> Persona:
        return await self._request(ops.get_persona(persona_id))

    async def markdown(self, persona_id: str) -> str:
        """The persona rendered as a Markdown document by the server, ending with its sources."""
        return await self._request(ops.get_persona_markdown(persona_id))

    async def list(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> PersonaPage:
        """One page of the experiment's personas; see ``Personas.list``."""
        operation = ops.list_personas(
            experiment_id, run_id=run_id, latest=latest, limit=limit, cursor=cursor
        )
        return await self._request(operation)

    def iter(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        page_size: int | None = None,
    ) -> AsyncIterator[Persona]:
        return _apaginate(
            lambda cursor: self.list(
                experiment_id, run_id=run_id, latest=latest, limit=page_size, cursor=cursor
            )
        )

    def evidence(
        self, persona_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[CitedEvidence]:
        """Every record the persona cites; see ``Personas.evidence``."""
        return _apaginate(
            lambda cursor: self._request(
                ops.list_persona_evidence(persona_id, limit=page_size, cursor=cursor)
            )
        )


# --------------------------------------------------------------------------- sources, providers


class Sources(_Resource):
    def upload(self, experiment_id: str, paths: ops.StrPath | Iterable[ops.StrPath]) -> Experiment:
        """Upload local files into the experiment's folder on the server (multipart)."""
        return self._request(ops.upload_sources(experiment_id, paths))

    def list(self, experiment_id: str) -> ExperimentSourceList:
        """The experiment's sources: name, kind (path, inline, upload), size and, when the
        server knows it, record count."""
        return self._request(ops.list_sources(experiment_id))

    def delete(self, experiment_id: str, name: str) -> None:
        """Remove an inline or uploaded source (``name`` as listed) and its stored file.

        ConflictError for a path source, the last source, or while a run is active."""
        self._request(ops.delete_source(experiment_id, name))


class AsyncSources(_AsyncResource):
    async def upload(
        self, experiment_id: str, paths: ops.StrPath | Iterable[ops.StrPath]
    ) -> Experiment:
        """Upload local files into the experiment's folder on the server (multipart)."""
        return await self._request(ops.upload_sources(experiment_id, paths))

    async def list(self, experiment_id: str) -> ExperimentSourceList:
        """The experiment's sources; see ``Sources.list``."""
        return await self._request(ops.list_sources(experiment_id))

    async def delete(self, experiment_id: str, name: str) -> None:
        """Remove an inline or uploaded source and its stored file; see ``Sources.delete``."""
        await self._request(ops.delete_source(experiment_id, name))


class Providers(_Resource):
    def list(self) -> builtins.list[ProviderInfo]:
        """Every provider the server knows, and whether it is configured (never its key)."""
        return self._request(ops.list_providers())


class AsyncProviders(_AsyncResource):
    async def list(self) -> builtins.list[ProviderInfo]:
        """Every provider the server knows, and whether it is configured (never its key)."""
        return await self._request(ops.list_providers())
