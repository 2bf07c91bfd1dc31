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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from procrastinate import App, JobContext, PsycopgConnector, builtin_tasks
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException
from procrastinate.jobs import Status
from sqlalchemy.engine import make_url

from persona.errors import ConflictError
from persona.runs.dispatch import LocalDispatcher
from persona.runs.executor import Runner

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


def psycopg_conninfo(database_url: str) -> str:
    """libpq's form of a SQLAlchemy URL (``postgresql+psycopg://…`` → ``postgresql://…``)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("the run queue needs PostgreSQL")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


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
    ) -> None:
        super().__init__(runner, call)
        self.execute = execute
        self.concurrency = concurrency
        self.app = App(connector=PsycopgConnector(conninfo=psycopg_conninfo(database_url)))
        self._task = self.app.task(name=TASK, queue=QUEUE)(self._run_job)
        self.prune_task = self.app.periodic(cron=PRUNE_CRON, periodic_id=PRUNE_TASK)(
            self.app.task(
                name=PRUNE_TASK, queue=QUEUE, queueing_lock=PRUNE_TASK, pass_context=True
            )(prune_finished_jobs)
        )
        self._executing: dict[str, asyncio.Event] = {}
        """The runs executing here, each with an event set when its job ends."""
        self._worker: asyncio.Task[None] | None = None
        self._opened = False
        self._next_take_over = 0.0
        """When (event loop time) the timer next looks for runs no live process holds."""

    async def _run_job(self, run_id: str) -> None:
        ended = self._executing[run_id] = asyncio.Event()
        try:
            await self.runner.execute(run_id)
        finally:
            self._executing.pop(run_id, None)
            ended.set()

    async def start(self) -> None:
        await self.app.open_async()
        self._opened = True
        if not self.execute:
            return
        self._worker = asyncio.create_task(
            self.app.run_worker_async(
                queues=[QUEUE],
                name=self.runner.owner,
                concurrency=self.concurrency,
                install_signal_handlers=False,
                # Jobs cut short by a shutdown are not retried by procrastinate: their runs
                # keep the row's state and the lease timer re-defers them.
                shutdown_graceful_timeout=0,
                update_heartbeat_interval=HEARTBEAT_SECONDS,
            ),
            name=f"persona-worker-{self.runner.owner}",
        )
        await super().start()  # takes over orphaned runs, then keeps leases

    @property
    def lease_renewal_interval(self) -> float:
        """The timer also looks for stalled jobs: as often as a worker sends heartbeats."""
        return min(super().lease_renewal_interval, HEARTBEAT_SECONDS)

    async def recover(self) -> list[str]:
        """Re-defer the runs of jobs whose worker died (seen by its heartbeat, well before
        its leases lapse) on every tick; the runs no live process holds only as often as
        leases are renewed. (That search reads every queued run: on every tick, with a
        backlog of 1,000 runs, it cost each worker about a tenth of its CPU.)"""
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
            requeued = await self._db(
                self.repository.requeue_interrupted, run_id, self.settings.max_run_attempts
            )
            if requeued:
                logger.info("run %s: its worker stopped heartbeating; re-deferred", run_id)
                await self._defer(run_id)

    async def _take_over(self, run_ids: list[str]) -> None:
        """Defer the runs without a waiting or running job: those whose job was lost. (A
        queued run normally has one; deferring every queued run on every tick cost a round
        trip each and slowed the workers down as the backlog grew.)"""
        if not run_ids:
            return
        rows = await self.app.connector.execute_query_all_async(
            _RUNS_WITH_JOBS, queue=QUEUE, task=TASK
        )
        with_jobs = {row["run_id"] for row in rows}
        for run_id in run_ids:
            if run_id not in with_jobs:
                await self._defer(run_id)

    async def submit(self, run_id: str, experiment_id: str) -> None:
        if self.runner.closing:
            raise ConflictError("the runner is shutting down")
        await self._defer(run_id)

    async def _defer(self, run_id: str) -> None:
        with contextlib.suppress(AlreadyEnqueued):  # its job is waiting already
            await self._task.configure(queueing_lock=run_id).defer_async(run_id=run_id)

    async def cancel(self, run_ids: Iterable[str]) -> None:
        """Cancel the runs' waiting jobs and abort their running ones, wherever they run;
        wait (a little) for those executing here to stop."""
        run_ids = list(run_ids)
        manager = self.app.job_manager
        for run_id in run_ids:
            for job in await manager.list_jobs_async(queue=QUEUE, queueing_lock=run_id):
                if job.id is not None and job.status in ("todo", "doing"):
                    await manager.cancel_job_by_id_async(job.id, abort=True)
        ended = [self._executing[r].wait() for r in run_ids if r in self._executing]
        if ended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*ended), CANCEL_WAIT)

    async def shutdown(self) -> None:
        self.runner.begin_closing()
        await self._stop_keeping_leases()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
        await self.runner.close()
        if self.execute:
            await self._release_leases()
        if self._opened:
            self._opened = False
            await self.app.close_async()

    @property
    def active_run_ids(self) -> list[str]:
        return list(self._executing)
