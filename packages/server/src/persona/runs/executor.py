"""Execution of runs: bounded concurrency, persisted transitions.

A run's execution is one call of ``Runner.execute``, whatever dispatched it (an asyncio task
of ``persona.runs.dispatch.LocalDispatcher``, or a job of the procrastinate queue on PostgreSQL).
It waits for a free slot (``max_concurrent_runs``), claims the run
(queued → running, attempts + 1), loads the evidence, stores it as the run's evidence
snapshot (once per distinct content: runs over the same bytes share one), calls the provider
and stores the personas in the same transaction that marks the run succeeded. A run reads
its sources after it got its slot; runs over the same sources share a read that began after
they got theirs, so two hundred runs started at once read their file once. Stored personas
are always grounded in the evidence: by the provider when it says so (``grounds_personas``,
as every built-in one does), else by the runner. Every transition is guarded by the attempt number,
so a run cancelled, deleted or re-claimed meanwhile is never overwritten and never yields
personas twice.

Its writes go through the storage's ``WriteQueue``, group-committed with those of the
other runs. Claiming a run leases it to this runner's ``owner`` (``run_lease_seconds``); the local
dispatcher renews those leases and takes over lapsed ones. Runs share one instance of each
provider (one pool of connections), closed by ``close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from persona.errors import DatabaseUnavailableError, PersonaError, ProviderError
from persona.generation.grounding import EvidenceIndex, ground
from persona.ids import new_id
from persona.privacy.step import decide, off
from persona.providers import Provider, build_provider
from persona.runs.offload import (
    EvidenceRead,
    is_local,
    job_for,
    runs_in_child,
    subprocess_slots,
    synthesize_in_child,
)
from persona.runs.privacy import privacy_view
from persona.runs.progress import ProgressReporter, Superseded, mark_retrieved
from persona.schemas import Evidence, PersonaContent, RunDetail, RunError, Usage
from persona.settings import Settings
from persona.sources import cached_evidence, iter_evidence
from persona.sources.digest import checked_against, evidence_digest
from persona.sources.roles import RoleAssigner
from persona.sources.working_set import read_working_set, run_holding_working_set
from persona.storage import ClaimedRun, Repository
from persona.storage.faults import RetryPolicy
from persona.storage.write_queue import WriteQueue

logger = logging.getLogger("persona.runs.executor")

CACHED_SOURCES_BYTES = 256 * 1024
CACHED_SOURCES_FILES = 16
"""Sources up to this size are looked up in the source cache on the event loop (reading and
hashing them takes less than the hop to a worker thread and back) instead of in a worker
thread."""
MAX_SHARED_READS = 64
"""Sets of sources whose last read is kept for runs to share (the oldest goes first)."""
INTERRUPT_RETRY = RetryPolicy(seconds=5.0)
"""How long recording an attempt cut short by the database waits: past it, the run's lease
lapses and a runner takes the run over all the same."""


@dataclass(frozen=True)
class _Snapshot:
    """The evidence of one read of a run's sources, stored under ``set_id``."""

    evidence: list[Evidence]
    set_id: str
    warnings: list[str]


@dataclass(frozen=True)
class _SharedRead:
    """One read of a set of sources, for every run that got its slot before it began."""

    began: float
    """``time.monotonic()`` when the read began."""
    snapshot: asyncio.Future[_Snapshot]


class Runner:
    """Executes runs as asyncio tasks, at most ``settings.max_concurrent_runs`` at a time."""

    def __init__(
        self,
        settings: Settings,
        repository: Repository,
        writes: WriteQueue,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.writes = writes
        """Where the runs' writes go: group-committed on the writer thread."""
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)
        self._experiments: dict[str, str] = {}
        """The experiment of each run executing here, when known (at submit or claim)."""
        self._finished: dict[str, asyncio.Future[RunDetail | None]] = {}
        self._closing = False
        self.owner = new_id("runner")
        """This runner's name on the leases of the runs it executes."""
        self._providers: dict[str, Provider] = {}
        self._reads: dict[tuple[object, ...], _SharedRead] = {}
        self._holding_slots = 0
        self._child_slots = asyncio.Semaphore(subprocess_slots(settings))
        """Local runs over large sources synthesising in a child process at once."""

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Wait for the runs' queued writes, resolve the waiters and close the providers.
        The dispatcher has stopped the runs executing here before."""
        self._closing = True
        self.writes.stop_retrying()
        await self.writes.drain()
        for finished in self._finished.values():
            if not finished.done():
                finished.set_result(None)
        await self._close_providers()

    def _provider(self, name: str) -> Provider:
        """This runner's one instance of provider ``name``, built on first use.

        Runs share it, and with it one pool of HTTP connections: building a client per run
        (its proxy settings read from the environment, its connections opened anew) costs
        more than the rest of the run's own work around the request."""
        provider = self._providers.get(name)
        if provider is None:
            provider = self._providers[name] = build_provider(name, self.settings)
        return provider

    async def _close_providers(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            try:
                await provider.aclose()
            except Exception:
                logger.exception("could not close provider %s", provider.name)

    @property
    def closing(self) -> bool:
        return self._closing

    def begin_closing(self) -> None:
        """From now on no run is dispatched here and waiters are told the service is closing."""
        self._closing = True

    # ------------------------------------------------------------------ waiting

    def finished(self, run_id: str) -> asyncio.Future[RunDetail | None]:
        """Resolved when this process sees the run finish (or the runner shuts down): with
        the run as stored when it succeeded here, else with None (read it to know)."""
        finished = self._finished.get(run_id)
        if finished is None:
            finished = self._finished[run_id] = asyncio.get_running_loop().create_future()
            if self._closing:
                finished.set_result(None)
        return finished

    def expect(self, run_id: str, experiment_id: str) -> None:
        """The run (of that experiment) is about to execute here: ``executes`` says so."""
        self._experiments[run_id] = experiment_id

    def executes(self, experiment_id: str, run_id: str) -> bool:
        """True while this runner executes the run (of that experiment): its ``finished``
        future is then resolved when the run ends here, however it ends."""
        return self._experiments.get(run_id) == experiment_id

    def notify_finished(self, run_id: str, stored: RunDetail | None = None) -> None:
        finished = self._finished.pop(run_id, None)
        if finished is not None and not finished.done():
            finished.set_result(stored)

    # ------------------------------------------------------------------ execution

    async def execute(self, run_id: str) -> None:
        """Claim the run and execute this attempt; a run not queued any more is left alone.
        Whatever dispatched it, a run's personas are stored at most once: every write of the
        attempt checks its number."""
        stored = None
        try:
            async with self._slots:
                with self._holding_slot() as slot_taken_at:
                    claimed = await self.writes.write(
                        self.repository.claim_run,
                        run_id,
                        owner=self.owner,
                        lease_seconds=self.settings.run_lease_seconds,
                    )
                    if claimed is not None:  # else cancelled, deleted or taken elsewhere
                        logger.info("run %s claimed (attempt %d)", run_id, claimed.attempt)
                        self._experiments[run_id] = claimed.experiment_id
                        stored = await self._attempt(claimed, slot_taken_at)
        except asyncio.CancelledError:
            raise
        except DatabaseUnavailableError as err:
            # The run stays queued (or its lease lapses): a runner takes it over once the
            # database is back.
            logger.warning("run %s could not be claimed: %s", run_id, err.message)
        except Exception:
            # Only the database can fail here; the run's lease lapses and a runner takes it over.
            logger.exception("run %s could not be executed", run_id)
        finally:
            self._experiments.pop(run_id, None)
            self.notify_finished(run_id, stored)

    @contextlib.contextmanager
    def _holding_slot(self) -> Iterator[float]:
        """Count the runs holding a slot; the shared reads go when none does. Yields when
        the slot was taken."""
        self._holding_slots += 1
        try:
            yield time.monotonic()
        finally:
            self._holding_slots -= 1
            if not self._holding_slots:
                self._reads.clear()

    async def _attempt(self, claimed: ClaimedRun, slot_taken_at: float) -> RunDetail | None:
        """The run as stored when it succeeded; None when it failed or changed elsewhere."""
        try:
            with run_holding_working_set():
                return await self._run(claimed, slot_taken_at)
        except Superseded:
            logger.info(
                "run %s changed elsewhere; attempt %d stops", claimed.run_id, claimed.attempt
            )
        except DatabaseUnavailableError as err:
            await self._interrupt(claimed, err)
        except Exception as err:  # every failure becomes the run's recorded error
            usage = err.usage if isinstance(err, ProviderError) else None
            await self._fail(claimed, self._describe_failure(claimed, err), usage)
        return None

    async def _run(self, claimed: ClaimedRun, slot_taken_at: float) -> RunDetail:
        # Claiming stored the first stage.
        report = ProgressReporter(self.writes, self.repository, claimed)
        if await self._runs_in_child(claimed):
            return await self._run_in_child(claimed, report)
        snapshot = await self._evidence(claimed, read_since=slot_taken_at)
        evidence = snapshot.evidence
        # Not awaited here: the link is committed with the next group commit while the
        # provider works, and checked before the run's last transition.
        attached = self.writes.queue(
            self.repository.attach_evidence,
            claimed.run_id,
            claimed.attempt,
            snapshot.set_id,
            evidence,
        )
        attached.add_done_callback(mark_retrieved)
        provider = self._provider(claimed.config.provider or self.settings.default_provider)
        view, privacy = await privacy_view(
            self.repository,
            self.writes,
            claimed.experiment_id,
            claimed.config,
            evidence,
            self.settings.data_dir,
        )
        recorded = self.writes.queue(
            self.repository.record_privacy, claimed.run_id, claimed.attempt, privacy
        )
        recorded.add_done_callback(mark_retrieved)
        sent = evidence if view is None else view.evidence
        # Only a run with a cap passes one: a provider without budgets need not know of them.
        capped = {} if claimed.spend_cap_usd is None else {"spend_cap_usd": claimed.spend_cap_usd}
        result = await provider.generate(sent, claimed.config, progress=report.provider, **capped)
        personas = result.personas
        if view is not None:  # back in the participants' words, grounded in them
            personas = await asyncio.to_thread(view.restore, personas)
        elif not getattr(provider, "grounds_personas", False):
            # No stage of its own: marking the run succeeded follows within milliseconds, and
            # a progress write per run would cost more than the grounding check itself.
            personas = await asyncio.to_thread(_grounded, personas, evidence)
        await report.settled()
        if not await attached or not await recorded:
            raise Superseded
        return await self._succeed(claimed, personas, result.usage, snapshot.warnings)

    async def _runs_in_child(self, claimed: ClaimedRun) -> bool:
        if not is_local(claimed, self.settings) or claimed.config.privacy.pseudonymize:
            return False  # known without a thread to look at the sources
        return await asyncio.to_thread(runs_in_child, claimed, self.settings)

    async def _run_in_child(self, claimed: ClaimedRun, report: ProgressReporter) -> RunDetail:
        """A local run over large sources, synthesised in a child process
        (``persona.runs.offload``). Once the child has read the sources, their snapshot is
        stored (if new) from a second read, streamed in chunks while the child works, which
        must give the evidence the child read; the run is linked to it in that transaction."""
        attached: asyncio.Future[bool] | None = None

        def attach(read: EvidenceRead) -> None:
            nonlocal attached
            records = checked_against(self._iter_evidence(claimed), read.set_id)
            attached = asyncio.ensure_future(
                self.writes.run(
                    self.repository.attach_evidence,
                    claimed.run_id,
                    claimed.attempt,
                    read.set_id,
                    records,
                    count=read.records,
                )
            )
            attached.add_done_callback(mark_retrieved)
            # Only a run with privacy off synthesises in a child (see _runs_in_child).
            _, reason = decide(claimed.config.privacy, claimed.config.provider)
            recorded = self.writes.queue(
                self.repository.record_privacy,
                claimed.run_id,
                claimed.attempt,
                off(reason, read.records),
            )
            recorded.add_done_callback(mark_retrieved)

        job = job_for(claimed, self.settings)
        if self._child_slots.locked():
            await report(0.0, "waiting for a synthesis process")
        async with self._child_slots:
            result = await synthesize_in_child(job, report.provider, attach, run_id=claimed.run_id)
        await report.settled()
        if attached is None:
            raise PersonaError("the synthesis process named no evidence", code="internal_error")
        if not await attached:
            raise Superseded
        return await self._succeed(claimed, result.personas, result.usage, result.warnings)

    async def _succeed(
        self,
        claimed: ClaimedRun,
        personas: Sequence[PersonaContent],
        usage: Usage,
        warnings: list[str],
    ) -> RunDetail:
        stored = await self.writes.write(
            self.repository.mark_succeeded,
            claimed.run_id,
            claimed.attempt,
            personas,
            usage,
            warnings,
        )
        if stored is None:
            raise Superseded
        logger.info("run %s succeeded with %d persona(s)", claimed.run_id, len(stored.personas))
        return stored

    async def _evidence(self, claimed: ClaimedRun, *, read_since: float) -> _Snapshot:
        """The run's evidence from a read of its sources that began at ``read_since`` or
        later: one another run began, else a new one. A failed read fails every run sharing
        it, as each would have failed reading alone."""
        columns = claimed.config.columns
        key = (
            tuple(claimed.data_sources),
            claimed.source_text_column,
            columns.participant if columns else None,
            columns.segment if columns else None,
        )
        shared = self._reads.get(key)
        if shared is None or shared.began < read_since:
            read = asyncio.ensure_future(self._read_snapshot(claimed))
            shared = _SharedRead(time.monotonic(), read)
            self._reads.pop(key, None)
            self._reads[key] = shared
            if len(self._reads) > MAX_SHARED_READS:
                del self._reads[next(iter(self._reads))]
        # Shielded: a run cancelled while waiting leaves the read to the others.
        return await asyncio.shield(shared.snapshot)

    async def _read_snapshot(self, claimed: ClaimedRun) -> _Snapshot:
        """Cached small sources at once on the loop; anything else in a worker thread. The
        snapshot is stored here, once per read, so that each run only links to it."""
        roles = RoleAssigner(claimed.config.columns)
        cached = self._cached_evidence(claimed)
        if cached is None:
            evidence, set_id = await asyncio.to_thread(self._load_evidence, claimed, roles)
        else:
            cached = list(roles.assign(cached))
            evidence, set_id = cached, evidence_digest(cached)
        warnings = roles.warnings()
        await self.writes.run(self.repository.store_evidence, set_id, evidence)
        return _Snapshot(evidence, set_id, warnings)

    def _cached_evidence(self, claimed: ClaimedRun) -> list[Evidence] | None:
        return cached_evidence(
            claimed.data_sources,
            data_dir=self.settings.data_dir,
            text_column=claimed.source_text_column,
            max_read_bytes=min(CACHED_SOURCES_BYTES, self.settings.max_source_bytes),
            max_files=min(CACHED_SOURCES_FILES, self.settings.max_folder_files),
        )

    def _load_evidence(
        self, claimed: ClaimedRun, roles: RoleAssigner
    ) -> tuple[list[Evidence], str]:
        # A large read is kept out of the collector's passes.
        evidence = read_working_set(self._iter_evidence(claimed, roles))
        return evidence, evidence_digest(evidence)

    def _iter_evidence(
        self, claimed: ClaimedRun, roles: RoleAssigner | None = None
    ) -> Iterator[Evidence]:
        """The run's records, each with its participant (``roles``: a new assigner)."""
        records = iter_evidence(
            claimed.data_sources,
            data_dir=self.settings.data_dir,
            text_column=claimed.source_text_column,
            max_total_bytes=self.settings.max_source_bytes,
            max_folder_files=self.settings.max_folder_files,
        )
        return (roles or RoleAssigner(claimed.config.columns)).assign(records)

    def _describe_failure(self, claimed: ClaimedRun, err: Exception) -> RunError:
        if isinstance(err, ProviderError):
            return RunError(code=err.code, message=self._provider_message(claimed, err))
        if isinstance(err, PersonaError):
            return RunError(code=err.code, message=err.message)
        logger.error("run %s failed unexpectedly", claimed.run_id, exc_info=err)
        return RunError(
            code="internal_error",
            message=f"internal error ({type(err).__name__}); the server log has the details",
        )

    def _provider_message(self, claimed: ClaimedRun, err: ProviderError) -> str:
        if err.raw_output is None:
            return err.message
        path = self.raw_output_path(claimed.run_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(err.raw_output, encoding="utf-8")
        except OSError:
            logger.exception("could not save the raw output of run %s", claimed.run_id)
            return err.message
        shown = path.relative_to(self.settings.data_dir).as_posix()
        return f"{err.message} (the provider's raw output is saved in {shown})"

    def raw_output_path(self, run_id: str) -> Path:
        return self.settings.state_dir / "runs" / run_id / "raw_output.txt"

    async def _interrupt(self, claimed: ClaimedRun, err: DatabaseUnavailableError) -> None:
        """The database stayed unavailable longer than a run waits: the attempt ends as an
        interruption, not as the run's failure. The run is queued again, or, out of
        attempts, fails with code ``database_unavailable``."""
        error = RunError(code=err.code, message=f"attempt {claimed.attempt} stopped: {err.message}")
        try:
            requeued = await self.writes.with_retries(INTERRUPT_RETRY).write(
                self.repository.interrupt_attempt,
                claimed.run_id,
                claimed.attempt,
                self.settings.max_run_attempts,
                error,
            )
        except DatabaseUnavailableError:
            requeued = True  # its lease lapses; a runner takes it over when the database is back
        outcome = "will be taken over" if requeued else "failed"
        logger.warning("run %s: %s; the run %s", claimed.run_id, error.message, outcome)

    async def _fail(self, claimed: ClaimedRun, error: RunError, usage: Usage | None) -> None:
        recorded = await self.writes.write(
            self.repository.mark_failed, claimed.run_id, claimed.attempt, error, usage
        )
        if recorded:
            logger.info("run %s failed: %s: %s", claimed.run_id, error.code, error.message)


def _grounded(
    personas: Sequence[PersonaContent], evidence: Sequence[Evidence]
) -> list[PersonaContent]:
    """Check the quotes and citations of a provider that does not ground its own output
    (no ``grounds_personas``) against the evidence, keeping any count of dropped ids it gave."""
    index = EvidenceIndex.of(evidence)
    checked = []
    for persona in personas:
        grounded = ground(persona, index)
        dropped = persona.dropped_evidence_ids + grounded.dropped_evidence_ids
        checked.append(grounded.model_copy(update={"dropped_evidence_ids": dropped}))
    return checked
