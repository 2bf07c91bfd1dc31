"""Runs dispatched through the procrastinate queue (PostgreSQL): an API process defers them,
a worker process executes them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from persona.errors import PersonaError
from persona.runs import waiting
from persona.schemas import ExperimentCreate, GenerationConfig
from persona.service import PersonaService
from persona.settings import Settings

if TYPE_CHECKING:
    from tests.server.conftest import ScriptedProvider, WaitUntil


def _create() -> ExperimentCreate:
    return ExperimentCreate(
        name="study", data_sources=["interviews.csv"], config=GenerationConfig(provider="local")
    )


HEARD_WITHIN = 15.0


@pytest.fixture
def queued(
    make_settings: Callable[..., Settings],
) -> Callable[..., Settings]:
    def build(**overrides: object) -> Settings:
        return make_settings(run_dispatch="queue", **overrides)

    return build


@pytest.mark.sqlite_only
async def test_the_queue_needs_postgresql(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(PersonaError, match="needs PostgreSQL"):
        async with PersonaService(make_settings(run_dispatch="queue")):
            pass


@pytest.mark.postgresql_only
async def test_a_run_started_by_an_api_process_is_executed_by_a_worker_once(
    queued: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    async with (
        PersonaService(queued(execute_runs=False)) as api,
        PersonaService(queued()) as worker,
    ):
        experiment = await api.create_experiment(_create())
        started = await api.start_run(experiment.id)
        done = await api.wait_for_run(experiment.id, started.run.id, timeout=30)
        # The run is stored as succeeded a moment before the worker's task for it ends.
        await wait_until(lambda: not worker._dispatcher.active_run_ids)

    assert (done.status, done.attempts, len(done.personas)) == ("succeeded", 1, 3)
    assert scripted.calls == 1


@pytest.mark.postgresql_only
async def test_a_queued_run_cancelled_before_a_worker_starts_never_executes(
    queued: Callable[..., Settings], scripted: ScriptedProvider
) -> None:
    async with PersonaService(queued(execute_runs=False)) as api:
        experiment = await api.create_experiment(_create())
        started = await api.start_run(experiment.id)
        await api.cancel_run(experiment.id, started.run.id)
        async with PersonaService(queued()):
            await asyncio.sleep(0.5)
        run = await api.get_run(experiment.id, started.run.id)

    assert (run.status, run.attempts) == ("cancelled", 0)
    assert scripted.calls == 0


@pytest.mark.postgresql_only
async def test_cancelling_a_run_a_worker_executes_stops_it_there(
    queued: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    scripted.hold = asyncio.Event()
    async with (
        PersonaService(queued(execute_runs=False)) as api,
        PersonaService(queued()) as worker,
    ):
        experiment = await api.create_experiment(_create())
        started = await api.start_run(experiment.id)
        await scripted.started.wait()
        await api.cancel_run(experiment.id, started.run.id)
        await wait_until(lambda: scripted.finished.is_set())
        await wait_until(lambda: not worker._dispatcher.active_run_ids)
        run = await api.get_run(experiment.id, started.run.id)

    assert (run.status, run.personas) == ("cancelled", [])
    assert not scripted.hold.is_set()


@pytest.mark.postgresql_only
async def test_a_process_that_only_queues_hears_at_once_that_its_run_succeeded(
    queued: Callable[..., Settings], scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Re-reads an hour apart: only the run's notification can end the wait in time.
    monkeypatch.setattr(waiting, "WAIT_RECHECK", 3600.0)
    async with (
        PersonaService(queued(execute_runs=False)) as api,
        PersonaService(queued()),
    ):
        experiment = await api.create_experiment(_create())
        started = await api.start_run(experiment.id)
        async with asyncio.timeout(HEARD_WITHIN):
            done = await api.wait_for_run(experiment.id, started.run.id)

    assert (done.status, len(done.personas)) == ("succeeded", 3)


@pytest.mark.postgresql_only
async def test_a_waiter_hears_that_another_process_cancelled_the_run(
    queued: Callable[..., Settings], scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waiting, "WAIT_RECHECK", 3600.0)
    scripted.hold = asyncio.Event()
    async with (
        PersonaService(queued(execute_runs=False)) as waiting_api,
        PersonaService(queued(execute_runs=False)) as cancelling_api,
        PersonaService(queued()),
    ):
        experiment = await waiting_api.create_experiment(_create())
        started = await waiting_api.start_run(experiment.id)
        waiter = asyncio.create_task(waiting_api.wait_for_run(experiment.id, started.run.id))
        await scripted.started.wait()
        await cancelling_api.cancel_run(experiment.id, started.run.id)
        async with asyncio.timeout(HEARD_WITHIN):
            run = await waiter

    assert (run.status, run.personas) == ("cancelled", [])


@pytest.mark.postgresql_only
async def test_finished_jobs_are_pruned_after_the_retention_by_a_worker(
    queued: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    async with (
        PersonaService(queued(execute_runs=False)) as api,
        PersonaService(queued()),
    ):
        experiment = await api.create_experiment(_create())
        old = await api.start_run(experiment.id)
        await api.wait_for_run(experiment.id, old.run.id, timeout=30)
        connector = api._dispatcher.app.connector  # type: ignore[attr-defined]

        async def run_jobs(status: str = "succeeded") -> list[str]:
            rows = await connector.execute_query_all_async(
                "SELECT args->>'run_id' AS run_id FROM procrastinate_jobs"
                " WHERE task_name = 'persona.run' AND status = %(status)s",
                status=status,
            )
            return [row["run_id"] for row in rows]

        async def finished(*run_ids: str) -> bool:
            return sorted(await run_jobs()) == sorted(run_ids)

        await wait_until(lambda: finished(old.run.id))  # its job ends just after the run
        # The first job finished two hours ago; the next one just now.
        await connector.execute_query_async(
            "UPDATE procrastinate_events SET at = at - interval '2 hours'"
        )
        recent = await api.start_run(experiment.id)
        await api.wait_for_run(experiment.id, recent.run.id, timeout=30)

        await wait_until(lambda: finished(old.run.id, recent.run.id))

        await api._dispatcher.prune_task.defer_async(timestamp=0)  # type: ignore[attr-defined]

        await wait_until(lambda: finished(recent.run.id))
        run = await api.get_run(experiment.id, old.run.id)

    assert run.status == "succeeded"


@pytest.mark.postgresql_only
async def test_a_queued_run_whose_job_was_lost_is_deferred_again_by_a_worker(
    queued: Callable[..., Settings], scripted: ScriptedProvider
) -> None:
    async with PersonaService(queued(execute_runs=False)) as api:
        experiment = await api.create_experiment(_create())
        started = await api.start_run(experiment.id)
        # As if the API process had died between storing the run and deferring its job.
        connector = api._dispatcher.app.connector  # type: ignore[attr-defined]
        await connector.execute_query_async("DELETE FROM procrastinate_jobs")
        async with PersonaService(queued()):
            done = await api.wait_for_run(experiment.id, started.run.id, timeout=30)

    assert (done.status, done.attempts, len(done.personas)) == ("succeeded", 1, 3)
    assert scripted.calls == 1
