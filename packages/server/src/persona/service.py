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
import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Coroutine, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, ParamSpec, TypeVar

from persona.__about__ import __version__
from persona.dispatch import Dispatcher, LocalDispatcher
from persona.errors import (
    ConflictError,
    IdempotencyConflictError,
    InvalidInputError,
    PayloadTooLargeError,
    PersonaError,
    SourceError,
)
from persona.generation.citations import cited_evidence, statement_evidence_ids
from persona.generation.render import MAX_LISTED_SOURCES, persona_markdown
from persona.ids import new_id
from persona.providers import list_providers, provider_names, require_configured
from persona.runner import Runner
from persona.schemas import (
    FINISHED_RUN_STATUSES,
    CitedEvidencePage,
    DataSource,
    EvidencePage,
    Experiment,
    ExperimentCreate,
    ExperimentPage,
    ExperimentSourceList,
    GenerationConfig,
    GenerationOverrides,
    Health,
    InlineSource,
    Persona,
    PersonaPage,
    ProviderInfo,
    ResolvedConfig,
    Run,
    RunDetail,
    RunPage,
    RunStatus,
)
from persona.service_sources import (
    INLINE_FOLDER,
    UPLOAD_FOLDER,
    check_new_sources,
    check_uploads,
    describe_sources,
    removable_source,
    remove_stored_file,
)
from persona.service_sources import experiment_dir as _experiment_dir
from persona.settings import Settings
from persona.sources import SUPPORTED_EXTENSIONS, resolve_source
from persona.storage import Database, ReadWouldWait, Repository
from persona.storage.evidence import NO_FILTER, EvidenceFilter
from persona.storage.sources import experiment_text_column, remove_data_source

if TYPE_CHECKING:
    from persona.finished_runs import FinishedRunListener

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger("persona.service")

DATABASE_THREADS = 8
HEALTH_TIMEOUT = 5.0
"""Seconds ``health`` waits for ``SELECT 1`` before calling the database unreachable."""
WAIT_RECHECK = 2.0
"""Seconds between database re-reads while waiting for a run another process executes. On
PostgreSQL its end is also notified (``FinishedRunListener``): the re-read is the fallback."""
LOCAL_WAIT_RECHECK = 10.0
"""Seconds between re-reads while waiting for a run this process executes: its end here is
signalled (``Runner.finished``), so a re-read only notices a change made by another process
(a cancel there)."""
UPLOAD_CHUNK = 64 * 1024
MAX_IDEMPOTENCY_KEY = 255
IDEMPOTENCY_LOCATION: list[str | int] = ["header", "Idempotency-Key"]


@dataclass
class UploadedFile:
    """A file sent to ``add_sources``: its name and a readable binary stream."""

    filename: str
    stream: BinaryIO


@dataclass
class StartedRun:
    run: Run
    created: bool
    """False when an idempotency key matched an earlier request: ``run`` is that earlier run."""


@dataclass
class _Parts:
    """What a started service owns."""

    executor: ThreadPoolExecutor
    writer: ThreadPoolExecutor
    """One thread for writes: SQLite takes one writer at a time, so more threads would only
    wait on the write lock, holding back the reads queued behind them."""
    database: Database
    repository: Repository
    runner: Runner
    dispatcher: Dispatcher
    listener: FinishedRunListener | None = None
    """On PostgreSQL: wakes ``wait_for_run`` when a run ends in another process."""


class PersonaService:
    """Owns the database, the runner and the providers for one data directory."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._parts: _Parts | None = None
        self._closed = False

    async def start(self) -> None:
        """Apply migrations, start the runner, re-queue runs a previous process left behind."""
        if self._parts is not None:
            return
        if self._closed:
            raise RuntimeError("this PersonaService was closed; create a new one")
        if not self.settings.data_dir.is_dir():
            # Otherwise the SQLite file's folder would be created in it: a mistyped data_dir
            # would become a new, empty directory holding a fresh database.
            raise PersonaError(
                f"the data directory {self.settings.data_dir} does not exist or is not a "
                "directory (Settings.data_dir, PERSONA_DATA_DIR); relative paths are taken "
                "from the current directory",
                code="data_dir_missing",
            )
        executor = ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="persona-db")
        writer = ThreadPoolExecutor(1, thread_name_prefix="persona-db-write")
        database: Database | None = None
        try:
            database = Database(self.settings.effective_database_url, pool_size=DATABASE_THREADS)
            await asyncio.get_running_loop().run_in_executor(executor, database.migrate)
            repository = Repository(database)
            runner = Runner(self.settings, repository, self._write)
            dispatcher = self._dispatcher_for(runner)
            self._parts = _Parts(executor, writer, database, repository, runner, dispatcher)
            await dispatcher.start()
            self._parts.listener = await self._listen_for_finished_runs(runner, dispatcher)
        except BaseException:
            self._parts = None
            executor.shutdown(wait=False)
            writer.shutdown(wait=False)
            if database is not None:
                database.dispose()
            raise

    async def _listen_for_finished_runs(
        self, runner: Runner, dispatcher: Dispatcher
    ) -> FinishedRunListener | None:
        url = self.settings.effective_database_url
        if not url.startswith("postgresql"):
            return None  # SQLite: runs end in this process or are found by polling
        from persona.finished_runs import FinishedRunListener  # needs the postgres extra
        from persona.queue import psycopg_conninfo

        def heard_finished(run_id: str) -> None:
            # A run executing here is resolved by the runner itself, with the run as stored:
            # its waiters then need no read.
            if run_id not in dispatcher.active_run_ids:
                runner.notify_finished(run_id)

        listener = FinishedRunListener(psycopg_conninfo(url), heard_finished)
        await listener.start()
        return listener

    def _dispatcher_for(self, runner: Runner) -> Dispatcher:
        if self.settings.run_dispatch == "local":
            return LocalDispatcher(runner, self._write)
        url = self.settings.effective_database_url
        if not url.startswith("postgresql"):
            raise PersonaError(
                "run_dispatch='queue' (PERSONA_RUN_DISPATCH) needs PostgreSQL "
                "(PERSONA_DATABASE_URL=postgresql+psycopg://…)",
                code="queue_needs_postgresql",
            )
        from persona.queue import ProcrastinateDispatcher  # needs the postgres extra

        return ProcrastinateDispatcher(
            runner,
            self._write,
            url,
            execute=self.settings.execute_runs,
            concurrency=self.settings.max_concurrent_runs,
        )

    async def aclose(self) -> None:
        """Stop the runner (active runs stay re-queueable) and dispose of the engine."""
        parts = self._parts
        self._closed = True
        if parts is None:
            return
        await parts.dispatcher.shutdown()
        if parts.listener is not None:
            await parts.listener.close()
        self._parts = None
        # Let database calls already handed to a thread finish before the engine goes.
        await asyncio.to_thread(parts.executor.shutdown, wait=True)
        await asyncio.to_thread(parts.writer.shutdown, wait=True)
        parts.database.dispose()

    async def __aenter__(self) -> PersonaService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def _started(self) -> _Parts:
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
        """Run a blocking database write on the service's writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._started.writer, functools.partial(fn, *args, **kwargs)
        )

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
        sources (inferred when None)."""
        repository = self._repository
        provider = data.config.provider or self.settings.default_provider
        _require_known_provider(provider, ["config", "provider"])
        experiment_id = new_id("exp")
        sources = await asyncio.to_thread(
            self._prepare_sources, experiment_id, data.data_sources, text_column
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
            await asyncio.to_thread(self._remove_experiment_files, experiment_id, [])
            raise

    async def list_experiments(
        self, *, limit: int = 50, cursor: str | None = None
    ) -> ExperimentPage:
        return await self._call(self._repository.list_experiments, limit=limit, cursor=cursor)

    async def get_experiment(self, experiment_id: str) -> Experiment:
        repository = self._repository
        try:
            # One short statement that never waits for a lock: cheaper than a thread hop.
            return repository.get_experiment_now(experiment_id)
        except ReadWouldWait:
            return await self._call(repository.get_experiment, experiment_id)

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
        await asyncio.to_thread(self._remove_experiment_files, experiment_id, run_ids)

    async def upload_sources(self, experiment_id: str, files: Sequence[UploadedFile]) -> Experiment:
        """Store uploaded files in the experiment's folder and append them to its sources.

        A file a run could not read (empty, header only, binary, undecodable, ...) is refused
        with a SourceError naming it, and then none of the files is kept."""
        repository = self._repository
        await self.get_experiment(experiment_id)
        if not files:
            raise InvalidInputError("no files were uploaded", location=["files"])
        written = await asyncio.to_thread(self._store_uploads, experiment_id, files)
        stored = [self._relative(p) for p in written]
        try:
            text_column = await self._call(experiment_text_column, repository, experiment_id)
            names = [_base_name(upload.filename) for upload in files]
            await asyncio.to_thread(check_uploads, self.settings, stored, names, text_column)
            return await self._write(repository.add_data_sources, experiment_id, stored)
        except BaseException:
            await asyncio.to_thread(_remove_files, written)
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
    ) -> StartedRun:
        """Queue a run of the experiment (its config with ``overrides``) and return at once.

        The same ``idempotency_key`` with the same overrides returns the run it made first;
        with other overrides it is an IdempotencyConflictError."""
        repository, runner = self._repository, self._runner
        experiment = await self.get_experiment(experiment_id)
        config = _effective_config(experiment.config, overrides, self.settings.default_provider)
        idempotency = None
        if idempotency_key is not None:
            idempotency = (_checked_key(idempotency_key), _request_hash(overrides))
            found = await self._call(repository.find_idempotent_run, experiment_id, idempotency[0])
            if found is not None:
                return StartedRun(_replayed(idempotency, *found), created=False)
        provider = config.provider or self.settings.default_provider
        _require_known_provider(provider, ["provider"])
        require_configured(provider)
        if idempotency is None:  # a plain insert: one of the runner's group-committed writes
            run, created = await runner.write_new_run(repository.create_run, experiment_id, config)
        else:
            run, created = await self._write(
                repository.create_run, experiment_id, config, idempotency=idempotency
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
        runner = self._runner
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        # A run executing here is not read until it ends (or LOCAL_WAIT_RECHECK passes).
        next_local_read = loop.time() + LOCAL_WAIT_RECHECK
        while True:
            # Take the future before reading, so a finish in between is not missed.
            finished = runner.finished(run_id)
            local = runner.executes(experiment_id, run_id)
            if not local or loop.time() >= next_local_read:
                run = await self.get_run(experiment_id, run_id)
                if run.status in FINISHED_RUN_STATUSES:
                    return run
                next_local_read = loop.time() + LOCAL_WAIT_RECHECK
            if runner.closing:
                raise ConflictError("the service is shutting down")
            wait = next_local_read - loop.time() if local else WAIT_RECHECK
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"run {run_id!r} did not finish within {timeout} s")
                wait = min(wait, remaining)
            # On timeout, re-read: another process may be executing (or have cancelled) it.
            with contextlib.suppress(TimeoutError):
                stored = await asyncio.wait_for(asyncio.shield(finished), wait)
                if stored is not None and stored.experiment_id == experiment_id:
                    return stored  # as its success was stored here: no need to read it back

    # ------------------------------------------------------------------ personas

    async def get_persona(self, persona_id: str) -> Persona:
        return await self._call(self._repository.get_persona, persona_id)

    async def get_persona_markdown(self, persona_id: str) -> str:
        """The persona as Markdown, ending with the sources of the records it cites."""
        persona = await self._call(self._repository.get_persona, persona_id)
        ids = statement_evidence_ids(persona)[:MAX_LISTED_SOURCES]
        records = await self._call(self._repository.run_records, persona.run_id, ids)
        return persona_markdown(persona, cited_evidence(persona, records))

    async def list_personas(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PersonaPage:
        """The experiment's personas, newest first: of one run, or of its newest succeeded
        run (``latest``), or all."""
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

    async def get_health(self) -> Health:
        """Whether the database answers ``SELECT 1``; never raises."""
        try:
            parts = self._started
            await asyncio.wait_for(self._call(parts.database.ping), HEALTH_TIMEOUT)
        except Exception:
            logger.warning("health check: the database is unreachable", exc_info=True)
            return Health(status="unavailable", version=__version__, database="unreachable")
        return Health(status="ok", version=__version__, database="ok")

    # ------------------------------------------------------------------ files

    def experiment_dir(self, experiment_id: str) -> Path:
        """The folder holding an experiment's inline and uploaded sources."""
        return _experiment_dir(self.settings, experiment_id)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.settings.data_dir).as_posix()

    def _prepare_sources(
        self, experiment_id: str, sources: Sequence[DataSource], text_column: str | None
    ) -> list[str]:
        """Check path sources, write inline ones, check what they hold; stored names relative
        to the data dir."""
        root = Path(os.path.realpath(self.settings.data_dir))
        stored: list[str] = []
        inline_names: dict[int, str] = {}
        try:
            for index, source in enumerate(sources):
                location: list[str | int] = ["data_sources", index]
                if isinstance(source, InlineSource):
                    seen = set(inline_names.values())
                    path = self._write_inline(experiment_id, source, location, seen)
                    inline_names[index] = path.name
                    stored.append(self._relative(path))
                else:
                    path = resolve_source(source, self.settings.data_dir, location=location)
                    stored.append(path.relative_to(root).as_posix())
            check_new_sources(self.settings, stored, inline_names, text_column)
        except BaseException:
            self._remove_experiment_files(experiment_id, [])
            raise
        return stored

    def _write_inline(
        self,
        experiment_id: str,
        source: InlineSource,
        location: list[str | int],
        seen: set[str],
    ) -> Path:
        name = safe_file_name(source.name, location=[*location, "name"])
        if name in seen:
            raise InvalidInputError(
                f"inline source name {name!r} is used twice", location=[*location, "name"]
            )
        seen.add(name)
        _require_supported(name, [*location, "name"])
        content = source.content.encode("utf-8")
        limit = self.settings.max_inline_source_bytes
        if len(content) > limit:
            raise PayloadTooLargeError(
                f"inline source {name!r} is {len(content)} bytes; the limit is {limit} bytes "
                "(PERSONA_MAX_INLINE_SOURCE_BYTES)"
            )
        folder = self.experiment_dir(experiment_id) / INLINE_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(content)
        return path

    def _store_uploads(self, experiment_id: str, files: Sequence[UploadedFile]) -> list[Path]:
        """Stream the files into the experiment's folder, counting bytes against the limit."""
        names = []
        for index, upload in enumerate(files):
            name = safe_file_name(_base_name(upload.filename), location=["files", index])
            _require_supported(name, ["files", index])
            names.append(name)
        folder = self.experiment_dir(experiment_id) / UPLOAD_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        budget = _UploadBudget(self.settings.max_upload_bytes)
        written: list[Path] = []
        try:
            for name, upload in zip(names, files, strict=True):
                written.append(_stream_to_folder(upload.stream, folder, name, budget))
        except BaseException:
            _remove_files(written)
            raise
        return written

    def _remove_experiment_files(self, experiment_id: str, run_ids: Sequence[str]) -> None:
        shutil.rmtree(self.experiment_dir(experiment_id), ignore_errors=True)
        for run_id in run_ids:
            shutil.rmtree(self.settings.state_dir / "runs" / run_id, ignore_errors=True)


# ---------------------------------------------------------------------- helpers


def safe_file_name(name: str, *, location: list[str | int]) -> str:
    """``name`` if it is a plain, visible file name; else InvalidInputError at ``location``."""
    problem = None
    if not name or not name.strip():
        problem = "is empty"
    elif "\x00" in name:
        problem = "contains a NUL byte"
    elif "/" in name or "\\" in name:
        problem = "contains a path separator"
    elif name in (".", ".."):
        problem = "is not a file name"
    elif name.startswith("."):
        problem = "is a hidden name (starts with '.')"
    elif any(not c.isprintable() for c in name):
        problem = "contains control characters"
    elif len(name.encode("utf-8")) > 255:
        problem = "is longer than 255 bytes"
    if problem is not None:
        shown = name.encode("unicode_escape").decode("ascii")[:100]
        raise InvalidInputError(f"file name {shown!r} {problem}", location=location)
    return name


def _base_name(filename: str) -> str:
    """The last component of an uploaded file name (browsers may send a full path)."""
    return PurePosixPath(filename.replace("\\", "/")).name if filename else ""


def _require_supported(name: str, location: list[str | int]) -> None:
    if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise SourceError(
            name,
            "has an unsupported file type; use one of " + ", ".join(sorted(SUPPORTED_EXTENSIONS)),
            location=location,
        )


class _UploadBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise PayloadTooLargeError(
                f"the upload is larger than the limit of {self.limit} bytes "
                "(PERSONA_MAX_UPLOAD_BYTES)"
            )


def _stream_to_folder(stream: BinaryIO, folder: Path, name: str, budget: _UploadBudget) -> Path:
    """Copy ``stream`` into ``folder`` under ``name`` (or name-2, name-3, ... if taken)."""
    partial = folder / f".upload-{new_id('part')}"
    try:
        with partial.open("wb") as out:
            while chunk := stream.read(UPLOAD_CHUNK):
                budget.spend(len(chunk))
                out.write(chunk)
        return _link_unique(partial, folder, name)
    finally:
        partial.unlink(missing_ok=True)


def _link_unique(source: Path, folder: Path, name: str) -> Path:
    """Give ``source`` the first free name; an existing file is never overwritten."""
    stem, suffix = os.path.splitext(name)
    number = 1
    while True:
        target = folder / (name if number == 1 else f"{stem}-{number}{suffix}")
        try:
            os.link(source, target)  # atomic: fails if the name exists
        except FileExistsError:
            number += 1
            continue
        return target


def _remove_files(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _require_known_provider(name: str, location: list[str | int]) -> None:
    known = provider_names()
    if name not in known:
        raise InvalidInputError(
            f"provider {name!r} is not available; available: {', '.join(sorted(known))}",
            location=location,
        )


def _effective_config(
    base: GenerationConfig, overrides: GenerationOverrides | None, default_provider: str
) -> ResolvedConfig:
    """The experiment's config with the overrides given; a new provider without a model
    uses that provider's default model."""
    changes: dict[str, Any] = overrides.model_dump(exclude_none=True) if overrides else {}
    if "provider" in changes and changes["provider"] != base.provider and "model" not in changes:
        changes["model"] = None
    merged = base.model_dump() | changes
    merged["provider"] = merged["provider"] or default_provider
    return ResolvedConfig.model_validate(merged)


def _request_hash(overrides: GenerationOverrides | None) -> str:
    body = overrides.model_dump(mode="json", exclude_none=True) if overrides else {}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _checked_key(key: str) -> str:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidInputError(
            f"an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
            location=IDEMPOTENCY_LOCATION,
        )
    return key


def _replayed(idempotency: tuple[str, str], stored_hash: str, run: Run) -> Run:
    key, request_hash = idempotency
    if stored_hash != request_hash:
        raise IdempotencyConflictError(
            f"idempotency key {key!r} was already used with a different request body"
        )
    return run


# ---------------------------------------------------------------------- sync wrapper


class SyncPersonaService:
    """``PersonaService`` for scripts: the same methods, blocking.

    The service lives on a private event loop in a background thread, so runs keep going
    between calls. Use it as a context manager, or call ``close()`` at the end.

        with SyncPersonaService(Settings(data_dir="research")) as svc:
            exp = svc.create_experiment(ExperimentCreate(name="Q3", data_sources=["a.csv"]))
            run = svc.wait_for_run(exp.id, svc.start_run(exp.id).run.id)
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="persona-service", daemon=True
        )
        self._thread.start()
        self._service = PersonaService(settings)
        try:
            self._run(self._service.start())
        except BaseException:
            self._stop_loop()
            raise

    @property
    def settings(self) -> Settings:
        return self._service.settings

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("this SyncPersonaService was closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Stop the runner (active runs stay re-queueable) and the background loop."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._service.aclose())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        asyncio.run_coroutine_threadsafe(
            self._loop.shutdown_default_executor(), self._loop
        ).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncPersonaService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_experiment(
        self, data: ExperimentCreate, *, text_column: str | None = None
    ) -> Experiment:
        return self._run(self._service.create_experiment(data, text_column=text_column))

    def list_experiments(self, *, limit: int = 50, cursor: str | None = None) -> ExperimentPage:
        return self._run(self._service.list_experiments(limit=limit, cursor=cursor))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._run(self._service.get_experiment(experiment_id))

    def delete_experiment(self, experiment_id: str) -> None:
        self._run(self._service.delete_experiment(experiment_id))

    def upload_sources(self, experiment_id: str, files: Sequence[UploadedFile]) -> Experiment:
        return self._run(self._service.upload_sources(experiment_id, files))

    def list_sources(self, experiment_id: str) -> ExperimentSourceList:
        return self._run(self._service.list_sources(experiment_id))

    def delete_source(self, experiment_id: str, name: str) -> Experiment:
        return self._run(self._service.delete_source(experiment_id, name))

    def start_run(
        self,
        experiment_id: str,
        overrides: GenerationOverrides | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> StartedRun:
        return self._run(
            self._service.start_run(experiment_id, overrides, idempotency_key=idempotency_key)
        )

    def list_runs(
        self,
        experiment_id: str,
        *,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        return self._run(
            self._service.list_runs(experiment_id, status=status, limit=limit, cursor=cursor)
        )

    def get_run(self, experiment_id: str, run_id: str) -> RunDetail:
        return self._run(self._service.get_run(experiment_id, run_id))

    def cancel_run(self, experiment_id: str, run_id: str) -> Run:
        return self._run(self._service.cancel_run(experiment_id, run_id))

    def wait_for_run(
        self, experiment_id: str, run_id: str, *, timeout: float | None = None
    ) -> RunDetail:
        return self._run(self._service.wait_for_run(experiment_id, run_id, timeout=timeout))

    def get_persona(self, persona_id: str) -> Persona:
        return self._run(self._service.get_persona(persona_id))

    def get_persona_markdown(self, persona_id: str) -> str:
        return self._run(self._service.get_persona_markdown(persona_id))

    def list_personas(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PersonaPage:
        return self._run(
            self._service.list_personas(
                experiment_id, run_id=run_id, latest=latest, limit=limit, cursor=cursor
            )
        )

    def list_run_evidence(
        self,
        experiment_id: str,
        run_id: str,
        where: EvidenceFilter = NO_FILTER,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> EvidencePage:
        return self._run(
            self._service.list_run_evidence(
                experiment_id, run_id, where, limit=limit, cursor=cursor
            )
        )

    def list_persona_evidence(
        self, persona_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> CitedEvidencePage:
        return self._run(
            self._service.list_persona_evidence(persona_id, limit=limit, cursor=cursor)
        )

    def list_providers(self) -> list[ProviderInfo]:
        return self._service.list_providers()

    def get_health(self) -> Health:
        return self._run(self._service.get_health())


__all__ = [
    "EvidenceFilter",
    "PersonaService",
    "StartedRun",
    "SyncPersonaService",
    "UploadedFile",
    "safe_file_name",
]
