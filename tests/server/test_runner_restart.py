"""The runner through the service: cancelling runs, and runs left behind by a stopped process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from persona.errors import ConflictError
from persona.schemas import GenerationConfig
from persona.service import PersonaService
from persona.settings import Settings
from persona.storage import Database, Repository

from tests.server._runner_cases import experiment_body, run_status, started_run

if TYPE_CHECKING:
    from tests.server.conftest import ScriptedProvider, WaitUntil


# ---------------------------------------------------------------------- cancel


async def test_cancelling_a_queued_run(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    scripted.hold = asyncio.Event()
    async with PersonaService(make_settings(max_concurrent_runs=1)) as service:
        experiment = await service.create_experiment(experiment_body())
        first = (await service.start_run(experiment.id)).run.id
        second = (await service.start_run(experiment.id)).run.id
        await wait_until(lambda: scripted.calls == 1)

        cancelled = await service.cancel_run(experiment.id, second)
        scripted.hold.set()
        await service.wait_for_run(experiment.id, first, timeout=30)
        after = await service.get_run(experiment.id, second)

    assert cancelled.status == "cancelled"
    assert (after.status, after.attempts, after.personas) == ("cancelled", 0, [])
    assert scripted.calls == 1


async def test_cancelling_a_running_run_stops_it_and_writes_no_personas(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    scripted.hold = asyncio.Event()
    experiment_id, run_id = await started_run(service)
    await scripted.started.wait()

    cancelled = await service.cancel_run(experiment_id, run_id)
    await scripted.finished.wait()
    run = await service.wait_for_run(experiment_id, run_id, timeout=5)

    assert cancelled.status == "cancelled"
    assert run.status == "cancelled"
    assert run.finished_at is not None
    assert run.personas == [] and run.persona_ids == []
    await service.aclose()
    assert scripted.closed == 1


async def test_cancelling_a_finished_run_is_a_conflict(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment_id, run_id = await started_run(service)
    await service.wait_for_run(experiment_id, run_id, timeout=30)

    with pytest.raises(ConflictError, match="already succeeded"):
        await service.cancel_run(experiment_id, run_id)
    assert await run_status(service, experiment_id, run_id) == "succeeded"


async def test_a_run_cancelled_by_another_process_stops_at_its_next_progress_report(
    service: PersonaService, scripted: ScriptedProvider, settings: Settings
) -> None:
    scripted.hold = asyncio.Event()
    experiment_id, run_id = await started_run(service)
    await scripted.started.wait()
    other_process = Database(settings.effective_database_url)
    Repository(other_process).cancel_run(experiment_id, run_id)
    other_process.dispose()

    scripted.hold.set()
    run = await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert (run.status, run.personas) == ("cancelled", [])


# ---------------------------------------------------------------------- restart


def _leave_running(settings: Settings, attempts: int = 1) -> tuple[str, str]:
    """What a process killed mid-run leaves behind: a run in state running."""
    db = Database(settings.effective_database_url)
    db.migrate()
    repository = Repository(db)
    experiment = repository.create_experiment(
        experiment_id="exp-left",
        name="left behind",
        description=None,
        data_sources=["interviews.csv"],
        config=GenerationConfig(provider="local", persona_count=2),
    )
    run, _ = repository.create_run(experiment.id, experiment.config)
    for _ in range(attempts):
        repository.recover_runs(max_attempts=attempts + 1)
        assert repository.claim_run(run.id) is not None
    db.dispose()
    return experiment.id, run.id


async def test_a_run_left_running_is_requeued_and_finishes_after_a_restart(
    settings: Settings,
) -> None:
    experiment_id, run_id = _leave_running(settings)

    async with PersonaService(settings) as service:
        run = await service.wait_for_run(experiment_id, run_id, timeout=120)

    assert run.status == "succeeded"
    assert run.attempts == 2
    assert len(run.personas) == 2


async def test_a_run_out_of_attempts_is_failed_as_interrupted(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(max_run_attempts=2)
    experiment_id, run_id = _leave_running(settings, attempts=2)

    async with PersonaService(settings) as service:
        run = await service.get_run(experiment_id, run_id)
        experiment = await service.get_experiment(experiment_id)

    assert run.status == "failed"
    assert run.error is not None and run.error.code == "interrupted"
    assert experiment.status == "failed"


async def test_shutdown_leaves_active_runs_requeueable(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    settings = make_settings(max_concurrent_runs=1)
    scripted.hold = asyncio.Event()
    service = PersonaService(settings)
    await service.start()
    experiment = await service.create_experiment(experiment_body())
    running = (await service.start_run(experiment.id)).run.id
    queued = (await service.start_run(experiment.id)).run.id
    await wait_until(lambda: scripted.calls == 1)

    await service.aclose()

    db = Database(settings.effective_database_url)
    left = {r: Repository(db).get_run(experiment.id, r) for r in (running, queued)}
    db.dispose()
    assert (left[running].status, left[running].attempts) == ("running", 1)
    assert left[queued].status == "queued"
    assert all(run.personas == [] for run in left.values())

    scripted.hold.set()
    async with PersonaService(settings) as restarted:
        finished = [
            await restarted.wait_for_run(experiment.id, r, timeout=30) for r in (running, queued)
        ]
    assert [(r.status, r.attempts) for r in finished] == [("succeeded", 2), ("succeeded", 1)]
    assert all(len(r.personas) == 3 for r in finished)


async def test_waiting_when_the_service_shuts_down_is_a_conflict(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider
) -> None:
    scripted.hold = asyncio.Event()
    service = PersonaService(make_settings())
    await service.start()
    experiment_id, run_id = await started_run(service)
    await scripted.started.wait()
    waiter = asyncio.create_task(service.wait_for_run(experiment_id, run_id))
    await asyncio.sleep(0)

    dispatcher = service._dispatcher
    await dispatcher.shutdown()

    with pytest.raises(ConflictError, match="shutting down"):
        await waiter
    with pytest.raises(ConflictError):
        await dispatcher.submit("run-late", experiment_id)
    await service.aclose()


async def test_a_run_deleted_before_it_starts_is_skipped(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    scripted.hold = asyncio.Event()
    async with PersonaService(make_settings(max_concurrent_runs=1)) as service:
        busy = await service.create_experiment(experiment_body("busy"))
        await service.start_run(busy.id)
        await wait_until(lambda: scripted.calls == 1)
        doomed = await service.create_experiment(experiment_body("doomed"))
        await service.start_run(doomed.id)

        await service.delete_experiment(doomed.id)
        scripted.hold.set()
        await wait_until(lambda: not service._dispatcher.active_run_ids)

    assert scripted.calls == 1
