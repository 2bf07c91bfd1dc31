"""Runs as jobs of a procrastinate queue in PostgreSQL, executed by any worker process.

Starting a run defers one job (``persona.run``, with the run id as its queueing lock, so a
run waits in the queue once however often it is submitted). A worker (``persona worker``, or
an API process with ``execute_runs``) picks it up through LISTEN/NOTIFY and calls
``Runner.execute``; the runs row stays the truth, and its attempt guard keeps a job executed
twice (a retry after a false stall, a re-submit) from storing personas twice.

A worker keeps the leases of the runs it executes as ``LocalDispatcher`` does, and its timer
re-defers the runs of jobs whose worker stopped sending heartbeats (SIGKILL, a lost machine),
and the runs no live process holds: queued ones whose job was lost (the process died between
storing the run and deferring it) and running ones whose lease lapsed, until
``max_run_attempts``, after which they fail as interrupted. A periodic task
(``persona.prune_jobs``, procrastinate's ``remove_old_jobs``) deletes finished jobs after an
hour, so the jobs table stays bounded.

Database faults: procrastinate's worker stops when one of its side tasks (heartbeat,
listener) loses the database. The dispatcher starts it again, with backoff, for as long as
the process lives, and the runs it was executing go on meanwhile: a job ended by the
worker's stop (not by a cancel) leaves its run executing here, its lease renewed by this
process's timer, which is what tells every process that the run's executor is alive. After
an outage, a process judges others' runs stalled only once it has itself had the database
back for ``STALLED_AFTER``, so that it does not take for dead a process that had no chance
to renew its leases either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from procrastinate import App, JobContext, PsycopgConnector, builtin_tasks
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from procrastinate.job_context import AbortReason
from procrastinate.jobs import Status
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from persona.connections import queue_pool_size
from persona.errors import ConflictError
from persona.ids import utcnow
from persona.runs.dispatch import LocalDispatcher
from persona.runs.executor import Runner
from persona.storage.engines import Timeouts
from persona.storage.faults import OutageLog, RetryPolicy, describe, is_transient, unavailable

logger = logging.getLogger("persona.runs.queue")

QUEUE = "persona-runs"
TASK = "persona.run"
CANCEL_WAIT = 5.0
"""Seconds ``cancel`` waits for a run this process executes to stop after its abort."""
HEARTBEAT_SECONDS = 2.0
PRUNE_TASK = "persona.prune_jobs"
PRUNE_CRON = "*/10 * * * *"
"""Every 10 minutes one worker (procrastinate's periodic deferrer picks one) prunes jobs."""
JOB_RETENTION_HOURS = 1
STALLED_AFTER = 5 * HEARTBEAT_SECONDS
"""A job whose worker has not sent a heartbeat for this long is taken for dead. A live worker
taken for dead (a long pause) costs a wasted attempt, never a second set of personas."""

RESTART_BACKOFF = RetryPolicy(seconds=math.inf, first_delay=0.5, max_delay=15.0)
"""When procrastinate's worker is started again after it stopped: at once the first time,
then after waits doubling (with jitter) while it keeps stopping, for as long as it does."""
RUNNING_AFTER = 3.0
"""A restarted worker still running this long after its start is taken to be back."""
RECONNECT_GIVE_UP = 2.0
"""Seconds the job queue's pool keeps reconnecting a lost connection in the background.
Past it the pool stops trying and the next request connects at once: after an outage, the
first job deferred waits for one connection, not for the pool's backoff, which grows to
many seconds while the database is away."""

DEFER_RETRY = RetryPolicy(seconds=1.0, first_delay=0.002, max_delay=0.1)
"""How long deferring a job tries again after a transient failure."""


def _pool_without_check(**options: Any) -> AsyncConnectionPool:
    """The job queue's pool, without the check procrastinate asks of it before every use:
    a connection failing that check makes the pool wait a second before it takes another,
    so each connection a restart killed cost a second. A lost connection fails its query at
    once instead: deferring tries again on another (``DEFER_RETRY``), procrastinate's
    worker is started again with an emptied pool."""
    options["check"] = None
    return AsyncConnectionPool(**options)


_RUNS_WITH_JOBS = """
SELECT args->>'run_id' AS run_id FROM procrastinate_jobs
WHERE queue_name = %(queue)s AND task_name = %(task)s AND status IN ('todo', 'doing')
"""
"""The runs that have a job waiting or running (procrastinate's own table)."""


async def prune_finished_jobs(context: JobContext, timestamp: int) -> None:
    """Delete the jobs finished more than ``JOB_RETENTION_HOURS`` ago, however they ended:
    the runs rows keep what happened, and the jobs table stays bounded."""
    await builtin_tasks.remove_old_jobs(
        context,
        max_hours=JOB_RETENTION_HOURS,
        queue=QUEUE,
        remove_failed=True,
        remove_cancelled=True,
        remove_aborted=True,
    )


def psycopg_conninfo(database_url: str, timeouts: Timeouts | None = None) -> str:
    """libpq's form of a SQLAlchemy URL (``postgresql+psycopg://…`` → ``postgresql://…``),
    with the connect timeout and the session's statement and lock timeouts when given."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("the run queue needs PostgreSQL")
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    if timeouts is None:
        return conninfo
    extra = timeouts.connect_args()
    given = conninfo_to_dict(conninfo).get("options")
    if given:  # the URL's own options come last and win
        extra["options"] += f" {given}"
    return make_conninfo(conninfo, **extra)


class _WorkerStopped(ConnectionError):
    """procrastinate's worker stopped itself: one of its side tasks lost the database."""

    def __str__(self) -> str:
        return "procrastinate's worker stopped (a side task lost the database)"


class ProcrastinateDispatcher(LocalDispatcher):
    """Defers a job per run; with ``execute``, also runs a worker executing them here."""

    def __init__(
        self,
        runner: Runner,
        call: Callable[..., Awaitable[object]],
        database_url: str,
        *,
        execute: bool,
        concurrency: int,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(runner, call)
        self.execute = execute
        self.concurrency = concurrency
        timeouts = timeouts or Timeouts()
        connector = PsycopgConnector(
            conninfo=psycopg_conninfo(database_url, timeouts),
            pool_factory=_pool_without_check,
            # No connection kept open for its own sake: one lost (a restart) is replaced by
            # the next request, at once, not in the background with the pool's backoff.
            min_size=0,
            max_size=queue_pool_size(concurrency, execute=execute),
            timeout=timeouts.pool,
            reconnect_timeout=RECONNECT_GIVE_UP,
        )
        self._connector = connector
        self.app = App(connector=connector)
        self._task = self.app.task(name=TASK, queue=QUEUE, pass_context=True)(self._run_job)
        self.prune_task = self.app.periodic(cron=PRUNE_CRON, periodic_id=PRUNE_TASK)(
            self.app.task(
                name=PRUNE_TASK, queue=QUEUE, queueing_lock=PRUNE_TASK, pass_context=True
            )(prune_finished_jobs)
        )
        self._executing: dict[str, asyncio.Task[None]] = {}
        """The runs executing here: each one's execution, which may outlive its job."""
        self._worker_outages = OutageLog("job queue worker", logger, settle=0.0)
        self._worker: asyncio.Task[None] | None = None
        self._opened = False
        self._next_take_over = 0.0
        """When (event loop time) the timer next looks for runs no live process holds."""

    async def _run_job(self, context: JobContext, run_id: str) -> None:
        """Execute the run; a cancel (or this process's stop) ends the execution with the
        job, a stop of procrastinate's worker alone does not."""
        execution = self._executing.get(run_id)
        if execution is None:
            execution = asyncio.create_task(self._execute(run_id), name=f"persona-run-{run_id}")
            self._executing[run_id] = execution
        try:
            await asyncio.shield(execution)
        except asyncio.CancelledError:
            if self.runner.closing or context.abort_reason() != AbortReason.SHUTDOWN:
                execution.cancel()
            raise

    async def _execute(self, run_id: str) -> None:
        try:
            await self.runner.execute(run_id)
        finally:
            self._executing.pop(run_id, None)

    async def start(self) -> None:
        await self.app.open_async()
        self._opened = True
        if not self.execute:
            return
        self._worker = asyncio.create_task(
            self._keep_worker_running(), name=f"persona-worker-{self.runner.owner}"
        )
        await super().start()  # takes over orphaned runs, then keeps leases

    @property
    def worker_alive(self) -> bool:
        """False once the task that keeps procrastinate's worker running has ended."""
        return self._worker is not None and not self._worker.done()

    async def _keep_worker_running(self) -> None:
        """Run procrastinate's worker, and start it again whenever it stops."""
        delays = RESTART_BACKOFF.delays()
        while True:
            stopped = await self._run_worker_once()
            if stopped is None:  # it ran for a while before it stopped
                delays = RESTART_BACKOFF.delays()
            self._report_stop(stopped)
            await asyncio.sleep(delays.next() or RESTART_BACKOFF.max_delay)
            # What stopped it most likely killed the connections the pool holds too.
            await self._connector.pool.drain()

    async def _run_worker_once(self) -> BaseException | None:
        """Run procrastinate's worker until it stops; what stopped it, or None when it had
        been running for ``RUNNING_AFTER`` (it is back) and then stopped on its own."""
        worker = asyncio.create_task(self._run_worker(), name="procrastinate-worker")
        try:
            done, _ = await asyncio.wait([worker], timeout=RUNNING_AFTER)
            if not done:
                self._worker_outages.succeeded()
            await worker
        except asyncio.CancelledError:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            raise
        except Exception as exc:
            return exc
        return None

    async def _run_worker(self) -> None:
        await self.app.run_worker_async(
            queues=[QUEUE],
            name=self.runner.owner,
            concurrency=self.concurrency,
            install_signal_handlers=False,
            # Jobs cut short by a stop are not retried by procrastinate: their runs keep the
            # row's state, and go on here unless this process stops (``_run_job``).
            shutdown_graceful_timeout=0,
            update_heartbeat_interval=HEARTBEAT_SECONDS,
        )

    def _report_stop(self, exc: BaseException | None) -> None:
        """One line for the first stop of an outage (the worker's own report of a failed
        side task is at DEBUG); nothing more until it is back."""
        if exc is None or is_transient(exc):
            self._worker_outages.failed(exc or _WorkerStopped())
            return
        logger.error(
            "procrastinate's worker stopped (%s); starting it again", describe(exc), exc_info=exc
        )

    @property
    def lease_renewal_interval(self) -> float:
        """The timer also looks for stalled jobs: as often as a worker sends heartbeats."""
        return min(super().lease_renewal_interval, HEARTBEAT_SECONDS)

    @property
    def takeover_grace(self) -> float:
        return STALLED_AFTER

    async def recover(self) -> list[str]:
        """Re-defer the runs of jobs whose worker died (seen by its heartbeat, well before
        its leases lapse) on every tick; the runs no live process holds only as often as
        leases are renewed. (That search reads every queued run: on every tick, it would cost
        each worker CPU in proportion to the backlog; benchmarks/scale_out.py.)"""
        await self._retry_stalled_jobs()
        now = asyncio.get_running_loop().time()
        if now < self._next_take_over:
            return []
        self._next_take_over = now + super().lease_renewal_interval
        return await super().recover()

    async def _retry_stalled_jobs(self) -> None:
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(
            queue=QUEUE, task_name=TASK, seconds_since_heartbeat=STALLED_AFTER
        )
        for job in stalled:
            # The dead worker's job ends here; a new job (not this one, whose run may also
            # have been re-deferred by the lease timer already) executes the next attempt.
            # Ending it first makes one live worker, of all that saw it stall, take it on.
            assert job.id is not None
            try:
                await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
            except ConnectorException:
                continue  # another worker's timer ended it (or the database failed: next tick)
            run_id = str(job.task_kwargs["run_id"])
            if run_id in self._executing:
                continue  # its worker stopped, its execution goes on here
            # A run whose lease was renewed lately is alive in its process (its execution
            # outlived a stop of that process's worker): only its job was stale.
            fresh_after = utcnow() + timedelta(
                seconds=self.settings.run_lease_seconds - STALLED_AFTER
            )
            requeued = await self._db(
                self.repository.requeue_interrupted,
                run_id,
                self.settings.max_run_attempts,
                fresh_lease_after=fresh_after,
            )
            if requeued:
                logger.info("run %s: its worker stopped heartbeating; re-deferred", run_id)
                await self._defer(run_id)

    async def _take_over(self, run_ids: list[str]) -> list[str]:
        """Defer the runs without a waiting or running job: those whose job was lost. (A
        queued run normally has one; deferring every queued run on every tick cost a round
        trip each and slowed the workers down as the backlog grew.)"""
        if not run_ids:
            return []
        rows = await self.app.connector.execute_query_all_async(
            _RUNS_WITH_JOBS, queue=QUEUE, task=TASK
        )
        with_jobs = {row["run_id"] for row in rows}
        taken = [run_id for run_id in run_ids if run_id not in with_jobs]
        for run_id in taken:
            await self._defer(run_id)
        return taken

    async def submit(self, run_id: str, experiment_id: str) -> None:
        if self.runner.closing:
            raise ConflictError("the runner is shutting down")
        try:
            await self._defer(run_id)
        except ConnectorException as exc:
            if not is_transient(exc):
                raise
            # The run is stored, queued: a worker's timer defers the job of a queued run
            # that has none once the database answers again, so the request succeeds.
            logger.debug("run %s: its job could not be deferred now: %s", run_id, describe(exc))

    async def _defer(self, run_id: str) -> None:
        """Defer the run's job; a lost connection (each one the pool held before a restart)
        is tried again at once, on another."""
        delays = DEFER_RETRY.delays()
        while True:
            try:
                with contextlib.suppress(AlreadyEnqueued):  # its job is waiting already
                    await self._task.configure(queueing_lock=run_id).defer_async(run_id=run_id)
                return
            except ConnectorException as exc:
                delay = delays.next() if is_transient(exc) else None
                if delay is None:
                    raise
            await asyncio.sleep(delay)

    async def cancel(self, run_ids: Iterable[str]) -> None:
        """Cancel the runs' waiting jobs and abort their running ones, wherever they run;
        wait (a little) for those executing here to stop."""
        run_ids = list(run_ids)
        try:
            await self._cancel_jobs(run_ids)
        except ConnectorException as exc:
            if not is_transient(exc):
                raise
            raise unavailable(exc, 0.0) from exc  # a 503 for the request, as any other
        # Also those whose job ended with a stop of procrastinate's worker.
        ended = [self._executing[r] for r in run_ids if r in self._executing]
        for execution in ended:
            execution.cancel()
        if ended:
            await asyncio.wait(ended, timeout=CANCEL_WAIT)

    async def _cancel_jobs(self, run_ids: list[str]) -> None:
        manager = self.app.job_manager
        for run_id in run_ids:
            for job in await manager.list_jobs_async(queue=QUEUE, queueing_lock=run_id):
                if job.id is not None and job.status in ("todo", "doing"):
                    await manager.cancel_job_by_id_async(job.id, abort=True)

    async def shutdown(self) -> None:
        self.runner.begin_closing()
        await self._stop_keeping_leases()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        executions = list(self._executing.values())
        for execution in executions:
            execution.cancel()
        await asyncio.gather(*executions, return_exceptions=True)
        await self.runner.close()
        if self.execute:
            await self._release_leases()
        if self._opened:
            self._opened = False
            await self.app.close_async()

    @property
    def active_run_ids(self) -> list[str]:
        return list(self._executing)

    @property
    def alive(self) -> bool:
        return super().alive and (not self.execute or self.worker_alive)
