"""Dispatch of runs: deciding when and where ``Runner.execute`` runs, never how.

``LocalDispatcher`` executes runs in this process as asyncio tasks. It is the only dispatcher
on SQLite, and it keeps the multi-process behaviour of a shared database without a queue:
claiming a run leases it to this process, a timer renews the leases of the runs executing
here, every third of ``run_lease_seconds``, and takes over runs that no live process holds
(queued ones, and running ones whose lease lapsed because their process died). So a run
another process is executing is never started a second time, and a killed process's runs
resume without a restart. Shutdown cancels the tasks and releases their leases: their runs
stay queued or running, and the next start (or a sibling's timer) takes them over at once.

``persona.runs.queue.ProcrastinateDispatcher`` (PostgreSQL) defers a job per run instead, and
its workers keep leases the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from persona.errors import ConflictError
from persona.runs.executor import Runner
from persona.storage.faults import describe, is_transient

logger = logging.getLogger("persona.runs.dispatch")


class Dispatcher(Protocol):
    """What the service asks of whatever dispatches runs."""

    async def start(self) -> None:
        """Begin dispatching, including the runs a previous process left behind."""

    async def submit(self, run_id: str, experiment_id: str) -> None:
        """Have the queued run executed (once, however often it is submitted)."""

    async def cancel(self, run_ids: Iterable[str]) -> None:
        """Stop executing these runs, wherever they execute, and wait for the local ones.
        The caller has already marked them cancelled or deleted them."""

    async def shutdown(self) -> None:
        """Stop dispatching; runs left unfinished stay queued or running in the database."""

    @property
    def active_run_ids(self) -> list[str]:
        """The runs executing (or waiting for a slot) in this process."""

    @property
    def alive(self) -> bool:
        """True while the dispatcher's own tasks (its timer, a job worker) are running,
        whatever the database's state: a liveness probe's answer."""


class LocalDispatcher:
    """Executes runs as asyncio tasks of this process, with leases for sibling processes."""

    def __init__(self, runner: Runner, call: Callable[..., Awaitable[object]]) -> None:
        self.runner = runner
        self.settings = runner.settings
        self.repository = runner.repository
        self._call = call
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._lease_keeper: asyncio.Task[None] | None = None

    async def _db(self, fn: Callable[..., object], *args: object, **kwargs: object) -> object:
        return await self._call(fn, *args, **kwargs)

    async def start(self) -> None:
        """Take over the runs no live process holds, then keep leases and watch for more."""
        await self.recover()
        if self._lease_keeper is None and not self.runner.closing:
            self._lease_keeper = asyncio.create_task(
                self._keep_leases(), name=f"persona-leases-{self.runner.owner}"
            )

    async def recover(self) -> list[str]:
        """Schedule the queued runs and the running ones whose lease is absent or expired
        (those out of attempts fail as interrupted); return the ids scheduled here now."""
        run_ids = await self._db(self.repository.recover_runs, self.settings.max_run_attempts)
        assert isinstance(run_ids, list)
        unscheduled = [run_id for run_id in run_ids if run_id not in self.active_run_ids]
        taken = await self._take_over(unscheduled)
        if taken:
            logger.info("took over %d run(s) no live process held", len(taken))
        return taken

    @property
    def lease_renewal_interval(self) -> float:
        """Seconds between two renewals: a lease survives two missed ones."""
        return self.settings.run_lease_seconds / 3

    @property
    def takeover_grace(self) -> float:
        """Seconds this process must have had the database back, after an outage, before it
        takes over others' runs: they renew their leases within that time, so a run is
        not taken from a live process that could not renew while the database was away."""
        return 2 * self.lease_renewal_interval

    async def _keep_leases(self) -> None:
        outages = self.repository.db.outages
        while True:
            await asyncio.sleep(self.lease_renewal_interval)
            try:
                await self._db(
                    self.repository.renew_leases,
                    self.runner.owner,
                    self.active_run_ids,
                    self.settings.run_lease_seconds,
                )
                if outages.up_for() >= self.takeover_grace:
                    await self.recover()
            except Exception as exc:
                # The next tick tries again; a lease outlives two missed renewals. A database
                # outage is logged once, by the engine's outage log.
                if not is_transient(exc):
                    logger.exception("could not renew run leases or take over lapsed runs")

    async def _take_over(self, run_ids: list[str]) -> list[str]:
        """Schedule these runs here; returns those scheduled."""
        for run_id in run_ids:
            self._schedule(run_id)
        return run_ids

    async def submit(self, run_id: str, experiment_id: str) -> None:
        self._schedule(run_id, experiment_id)

    def _schedule(self, run_id: str, experiment_id: str | None = None) -> None:
        """Schedule a queued run. A run already scheduled here is not scheduled twice."""
        if self.runner.closing:
            raise ConflictError("the runner is shutting down")
        if run_id in self._tasks:
            return
        if experiment_id is not None:
            self.runner.expect(run_id, experiment_id)
        task = asyncio.create_task(self.runner.execute(run_id), name=f"persona-run-{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))

    async def cancel(self, run_ids: Iterable[str]) -> None:
        """Cancel the tasks of these runs and wait for them; the database is not touched."""
        tasks = [self._tasks[r] for r in run_ids if r in self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def shutdown(self) -> None:
        """Cancel every task and release their leases: their runs stay queued/running in the
        database, and the next start or a sibling process takes them over at once."""
        self.runner.begin_closing()
        await self._stop_keeping_leases()
        await self.cancel(list(self._tasks))
        await self.runner.close()
        await self._release_leases()

    async def _stop_keeping_leases(self) -> None:
        keeper, self._lease_keeper = self._lease_keeper, None
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _release_leases(self) -> None:
        try:
            await self._db(self.repository.release_leases, self.runner.owner)
        except Exception as exc:
            # The leases then lapse after run_lease_seconds instead.
            if not is_transient(exc):
                logger.exception("could not release the run leases of %s", self.runner.owner)
                return
            logger.warning(
                "could not release the run leases of %s (%s): its runs are taken over once "
                "their leases lapse",
                self.runner.owner,
                describe(exc),
            )

    @property
    def active_run_ids(self) -> list[str]:
        return list(self._tasks)

    @property
    def alive(self) -> bool:
        return self._lease_keeper is not None and not self._lease_keeper.done()
