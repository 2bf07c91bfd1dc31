"""The SDK facade: experiments, runs and personas. The API and the CLI call only this.

``PersonaService`` is async; ``SyncPersonaService`` wraps it for scripts.

    async with PersonaService(Settings(data_dir="research")) as svc:
        exp = await svc.create_experiment(
            ExperimentCreate(name="Q3", data_sources=["interviews.csv"])
        )
        started = await svc.start_run(exp.id)
        run = await svc.wait_for_run(exp.id, started.run.id)
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar

from persona.__about__ import __version__
from persona.access.operations import AccessOperations
from persona.errors import (
    InvalidInputError,
    NotFoundError,
)
from persona.generation.citations import cited_evidence, statement_evidence_ids
from persona.generation.cited_cache import CitedRecordsCache
from persona.generation.render import MAX_LISTED_SOURCES, persona_markdown
from persona.ids import new_id
from persona.privacy.operations import PrivacyOperations
from persona.providers import list_providers, require_configured
from persona.push import PushOperations
from persona.runs.config import effective_config, require_known_provider
from persona.runs.dispatch import Dispatcher
from persona.runs.executor import Runner
from persona.runs.idempotency import checked_key, replayed, request_hash
from persona.runs.waiting import wait_for_run
from persona.runtime import Parts, release, start_parts, stop_runs
from persona.schemas import (
    CitedEvidence,
    CitedEvidencePage,
    Evidence,
    EvidencePage,
    Experiment,
    ExperimentCreate,
    ExperimentPage,
    ExperimentSourceList,
    GenerationOverrides,
    Health,
    Persona,
    PersonaPage,
    ProviderInfo,
    ResolvedConfig,
    Run,
    RunDetail,
    RunPage,
    RunStatus,
)
from persona.settings import Settings
from persona.sources.stored import (
    check_uploads,
    describe_sources,
    removable_source,
    remove_stored_file,
)
from persona.sources.stored import experiment_dir as _experiment_dir
from persona.sources.uploads import (
    UploadedFile,
    base_name,
    prepare_sources,
    relative_name,
    remove_experiment_files,
    remove_files,
    safe_file_name,
    store_uploads,
)
from persona.spend.budgets import Budget
from persona.spend.operations import SpendOperations
from persona.storage import ReadWouldWait, Repository
from persona.storage.evidence import NO_FILTER, EvidenceFilter
from persona.storage.sources import experiment_text_column, remove_data_source
from persona.web.card import card_html

if TYPE_CHECKING:
    pass

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger("persona.service")


HEALTH_STATUS: dict[str, Literal["ok", "degraded", "unavailable"]] = {
    "ok": "ok",
    "busy": "degraded",
    "unreachable": "unavailable",
}
"""The service's status for each state of the database."""


@dataclass
class StartedRun:
    run: Run
    created: bool
    """False when an idempotency key matched an earlier request: ``run`` is that earlier run."""


class PersonaService(PushOperations, SpendOperations, PrivacyOperations, AccessOperations):
    """Owns the database, the runner and the providers for one data directory."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._parts: Parts | None = None
        self._closed = False
        self._cited_records = CitedRecordsCache()

    async def start(self) -> None:
        """Apply migrations, start the runner, re-queue runs a previous process left behind."""
        if self._parts is not None:
            return
        if self._closed:
            raise RuntimeError("this PersonaService was closed; create a new one")
        self._parts = await start_parts(self.settings)

    async def aclose(self) -> None:
        """Stop the runner (active runs stay re-queueable) and dispose of the engine."""
        parts = self._parts
        self._closed = True
        if parts is None:
            return
        await stop_runs(parts)
        self._parts = None
        await release(parts)

    async def __aenter__(self) -> PersonaService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def _started(self) -> Parts:
        if self._parts is None:
            raise RuntimeError(
                "PersonaService is not running: use 'async with PersonaService(...)' "
                "or await start() first"
            )
        return self._parts

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking database call on the service's database threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._started.executor, functools.partial(fn, *args, **kwargs)
        )

    async def _write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking database write (a transaction of its own) on the writer thread."""
        return await self._started.writes.run(fn, *args, **kwargs)

    @property
    def _repository(self) -> Repository:
        return self._started.repository

    @property
    def _runner(self) -> Runner:
        return self._started.runner

    @property
    def _dispatcher(self) -> Dispatcher:
        return self._started.dispatcher

    # ------------------------------------------------------------------ experiments

    async def create_experiment(
        self, data: ExperimentCreate, *, text_column: str | None = None
    ) -> Experiment:
        """Validate the sources, store inline ones in the experiment's folder, save it.

        ``text_column`` names the column holding the participants' words in tabular
        sources (else ``config.columns.text``; inferred when neither does)."""
        repository = self._repository
        columns = data.config.columns
        text_column = text_column or (columns.text if columns else None)
        provider = data.config.provider or self.settings.default_provider
        require_known_provider(provider, ["config", "provider"])
        experiment_id = new_id("exp")
        sources = await asyncio.to_thread(
            prepare_sources, self.settings, experiment_id, data.data_sources, text_column
        )
        try:
            return await self._write(
                repository.create_experiment,
                experiment_id=experiment_id,
                name=data.name,
                description=data.description,
                data_sources=sources,
                config=ResolvedConfig.model_validate(
                    data.config.model_dump() | {"provider": provider}
                ),
                text_column=text_column,
            )
        except BaseException:
            await asyncio.to_thread(remove_experiment_files, self.settings, experiment_id, [])
            raise

    async def list_experiments(
        self, *, name: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> ExperimentPage:
        """Experiments, newest first; with ``name``, those whose name holds it (any case)."""
        return await self._call(
            self._repository.list_experiments, name=name, limit=limit, cursor=cursor
        )

    async def get_experiment(self, experiment_id: str) -> Experiment:
        return await self._call(self._repository.get_experiment, experiment_id)

    def data_version(self) -> Hashable | None:
        """A value that changes whenever anything stored changes, by this process or another
        sharing the database; None when it cannot be told without waiting. Cheap (one
        statement on the calling thread), for caches of what the service returns."""
        try:
            return self._started.database.data_version_now()
        except ReadWouldWait:
            return None

    async def delete_experiment(self, experiment_id: str) -> None:
        """Stop its active runs, delete it with its runs and personas, remove its files."""
        repository, runner = self._repository, self._runner
        await self._dispatcher.cancel(await self._call(repository.active_run_ids, experiment_id))
        run_ids = await self._write(repository.delete_experiment, experiment_id)
        for run_id in run_ids:
            runner.notify_finished(run_id)
        await asyncio.to_thread(remove_experiment_files, self.settings, experiment_id, run_ids)

    async def upload_sources(self, experiment_id: str, files: Sequence[UploadedFile]) -> Experiment:
        """Store uploaded files in the experiment's folder and append them to its sources.

        A file a run could not read (empty, header only, binary, undecodable, ...) is refused
        with a SourceError naming it, and then none of the files is kept."""
        repository = self._repository
        await self.get_experiment(experiment_id)
        if not files:
            raise InvalidInputError("no files were uploaded", location=["files"])
        written = await asyncio.to_thread(store_uploads, self.settings, experiment_id, files)
        stored = [relative_name(self.settings, p) for p in written]
        try:
            text_column = await self._call(experiment_text_column, repository, experiment_id)
            names = [base_name(upload.filename) for upload in files]
            await asyncio.to_thread(check_uploads, self.settings, stored, names, text_column)
            return await self._write(repository.add_data_sources, experiment_id, stored)
        except BaseException:
            await asyncio.to_thread(remove_files, written)
            raise

    async def list_sources(self, experiment_id: str) -> ExperimentSourceList:
        """The experiment's sources: kind, size, and record count when known."""
        experiment = await self.get_experiment(experiment_id)
        text_column = await self._call(experiment_text_column, self._repository, experiment_id)
        return await asyncio.to_thread(describe_sources, self.settings, experiment, text_column)

    async def delete_source(self, experiment_id: str, name: str) -> Experiment:
        """Remove an inline or uploaded source from the experiment and delete its file.

        A path source is a ConflictError (the file is the user's), and so is removing the
        last source, or any source while a run of the experiment is queued or running."""
        experiment = await self.get_experiment(experiment_id)
        removable_source(self.settings, experiment, name)
        updated = await self._write(remove_data_source, self._repository, experiment_id, name)
        await asyncio.to_thread(remove_stored_file, self.settings, experiment_id, name)
        return updated

    # ------------------------------------------------------------------ runs

    async def start_run(
        self,
        experiment_id: str,
        overrides: GenerationOverrides | None = None,
        *,
        idempotency_key: str | None = None,
        budgets: Sequence[Budget] = (),
        key_id: str | None = None,
    ) -> StartedRun:
        """Queue a run of the experiment (its config with ``overrides``) and return at once.

        The same ``idempotency_key`` with the same overrides returns the run it made first;
        with other overrides it is an IdempotencyConflictError. The experiment's budget and
        ``budgets`` (a caller's, such as an API key's) apply: a run whose estimate may exceed
        what is left of one is a BudgetExceededError, and a run may spend the least left.
        ``key_id``: the API key
        starting it (its spend counts the run's cost)."""
        repository = self._repository
        experiment = await self.get_experiment(experiment_id)
        config = effective_config(experiment.config, overrides, self.settings.default_provider)
        idempotency = None
        if idempotency_key is not None:
            idempotency = (checked_key(idempotency_key), request_hash(overrides))
            found = await self._call(repository.find_idempotent_run, experiment_id, idempotency[0])
            if found is not None:
                return StartedRun(replayed(idempotency, *found), created=False)
        provider = config.provider or self.settings.default_provider
        require_known_provider(provider, ["provider"])
        require_configured(provider)
        spend = await self._run_spend(experiment, config, budgets)
        run, created = await self._started.writes.write_new_run(
            repository.create_run,
            experiment_id,
            config,
            idempotency=idempotency,
            spend=spend,
            key_id=key_id,
        )
        if created:
            await self._dispatcher.submit(run.id, experiment_id)
        return StartedRun(run=run, created=created)

    async def list_runs(
        self,
        experiment_id: str,
        *,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        return await self._call(
            self._repository.list_runs, experiment_id, status=status, limit=limit, cursor=cursor
        )

    async def get_run(self, experiment_id: str, run_id: str) -> RunDetail:
        return await self._call(self._repository.get_run, experiment_id, run_id)

    async def cancel_run(self, experiment_id: str, run_id: str) -> Run:
        """Queued or running → cancelled (its task is stopped); finished → ConflictError."""
        repository, runner = self._repository, self._runner
        run = await self._write(repository.cancel_run, experiment_id, run_id)
        logger.info("run %s cancelled", run_id)
        await self._dispatcher.cancel([run_id])
        runner.notify_finished(run_id)
        return run

    async def wait_for_run(
        self,
        experiment_id: str,
        run_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - part of the SDK interface
    ) -> RunDetail:
        """Wait until the run has finished; TimeoutError after ``timeout`` seconds."""
        return await wait_for_run(
            self._runner,
            functools.partial(self.get_run, experiment_id),
            experiment_id,
            run_id,
            timeout=timeout,
        )

    # ------------------------------------------------------------------ personas

    async def get_persona(self, persona_id: str) -> Persona:
        return await self._call(self._repository.get_persona, persona_id)

    async def get_cited_persona(self, persona_id: str) -> tuple[Persona, list[CitedEvidence]]:
        """The persona and the records its statements cite (the first MAX_LISTED_SOURCES),
        each with the statements citing it and the spans of its quotes."""
        persona = await self._call(self._repository.get_persona, persona_id)
        cited = self._cited_records.get(persona.id)
        if cited is None:
            ids = statement_evidence_ids(persona)[:MAX_LISTED_SOURCES]
            records = await self._call(self._repository.run_records, persona.run_id, ids)
            cited = await asyncio.to_thread(cited_evidence, persona, records)
            self._cited_records.put(persona.id, cited)
        return persona, cited

    async def get_persona_markdown(self, persona_id: str) -> str:
        """The persona as Markdown, ending with the sources of the records it cites."""
        return persona_markdown(*await self.get_cited_persona(persona_id))

    async def get_persona_html(self, persona_id: str) -> str:
        """The persona as a self-contained, printable HTML card followed by its sources."""
        return card_html(*await self.get_cited_persona(persona_id))

    async def list_personas(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PersonaPage:
        """The experiment's personas: of one run, or of its newest succeeded run (``latest``),
        in the run's order; or all, newest first."""
        if latest and run_id is not None:
            raise InvalidInputError(
                "give run_id or latest=true, not both", location=["query", "latest"]
            )
        if latest:
            run_id = await self._call(self._repository.latest_succeeded_run, experiment_id)
            if run_id is None:
                return PersonaPage(items=[])
        return await self._call(
            self._repository.list_personas, experiment_id, run_id=run_id, limit=limit, cursor=cursor
        )

    # ------------------------------------------------------------------ evidence

    async def list_run_evidence(
        self,
        experiment_id: str,
        run_id: str,
        where: EvidenceFilter = NO_FILTER,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> EvidencePage:
        """The evidence records the run read, in source order, filtered by ``where``."""
        return await self._call(
            self._repository.list_run_evidence,
            experiment_id,
            run_id,
            where,
            limit=limit,
            cursor=cursor,
        )

    async def get_run_evidence(self, run_id: str, evidence_id: str) -> Evidence:
        """One evidence record of a run, found by the run's id alone."""
        experiment_id = await self._call(self._repository.experiment_of_run, run_id)
        where = EvidenceFilter(ids=[evidence_id])
        page = await self.list_run_evidence(experiment_id, run_id, where, limit=1)
        if not page.items:
            raise NotFoundError("evidence", evidence_id)
        return page.items[0]

    async def list_persona_evidence(
        self, persona_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> CitedEvidencePage:
        """The records the persona cites, each with the statements citing it."""
        persona, records, next_cursor = await self._call(
            self._repository.persona_evidence, persona_id, limit=limit, cursor=cursor
        )
        return CitedEvidencePage(items=cited_evidence(persona, records), next_cursor=next_cursor)

    # ------------------------------------------------------------------ misc

    def list_providers(self) -> list[ProviderInfo]:
        return list_providers()

    def runs_alive(self) -> bool:
        """True while this service's run dispatching (its timer and, on a queue worker, the
        job worker it keeps running) is alive, whatever the database's state: what a
        liveness probe asks."""
        return self._parts is not None and self._parts.dispatcher.alive

    async def get_health(self) -> Health:
        """Whether the database answers (``unreachable`` when not), and whether this
        process's connections get through to it (``busy`` when not, e.g. behind a lock);
        never raises."""
        parts = self._parts
        state = "unreachable" if parts is None else await parts.health.check()
        return Health(status=HEALTH_STATUS[state], version=__version__, database=state)

    # ------------------------------------------------------------------ files

    def experiment_dir(self, experiment_id: str) -> Path:
        """The folder holding an experiment's inline and uploaded sources."""
        return _experiment_dir(self.settings, experiment_id)


__all__ = [
    "EvidenceFilter",
    "PersonaService",
    "StartedRun",
    "UploadedFile",
    "safe_file_name",
]
