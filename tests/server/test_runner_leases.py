"""Several services on one database file, as uvicorn workers are: a run is executed by one
process at a time, and a dead process's runs are taken over once their lease lapses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from persona.ids import utcnow
from persona.runs.dispatch import LocalDispatcher
from persona.schemas import ExperimentCreate, GenerationConfig
from persona.service import PersonaService
from persona.settings import Settings
from persona.storage import Database
from persona.storage.models import RunRow
from sqlalchemy import select

if TYPE_CHECKING:
    from tests.server.conftest import ScriptedProvider, WaitUntil

SHORT_LEASE = 0.6
"""Seconds: short enough that a lapsed lease is taken over quickly, renewed every 0.2 s."""


@asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[PersonaService]:
    # The in-process dispatcher's leases (a killed queue worker: tests/e2e/test_scale_out.py).
    service = PersonaService(settings.model_copy(update={"run_dispatch": "local"}))
    await service.start()
    try:
        yield service
    finally:
        await service.aclose()


async def _start_run(service: PersonaService) -> tuple[str, str]:
    experiment = await service.create_experiment(
        ExperimentCreate(
            name="shared",
            data_sources=["interviews.csv"],
            config=GenerationConfig(provider="local", persona_count=2),
        )
    )
    started = await service.start_run(experiment.id)
    return experiment.id, started.run.id


def _lease(settings: Settings, run_id: str) -> tuple[str | None, datetime | None]:
    db = Database(settings.effective_database_url)
    try:
        with db.read() as session:
            row = session.execute(
                select(RunRow.lease_owner, RunRow.lease_expires_at).where(RunRow.id == run_id)
            ).one()
    finally:
        db.dispose()
    return row.lease_owner, row.lease_expires_at


async def _die(service: PersonaService) -> None:
    """What SIGKILL leaves: the tasks and the lease timer stop, the database is not touched."""
    dispatcher = service._dispatcher
    assert isinstance(dispatcher, LocalDispatcher)
    keeper = dispatcher._lease_keeper
    assert keeper is not None
    keeper.cancel()
    await asyncio.gather(keeper, return_exceptions=True)
    await dispatcher.cancel(dispatcher.active_run_ids)


async def test_a_run_another_process_executes_is_neither_requeued_nor_executed_again(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    settings = make_settings(run_lease_seconds=SHORT_LEASE)
    scripted.hold = asyncio.Event()
    async with _service(settings) as first:
        experiment_id, run_id = await _start_run(first)
        await scripted.started.wait()
        first_owner, first_expiry = _lease(settings, run_id)
        assert first_owner == first._runner.owner and first_expiry is not None

        async with _service(settings) as second:
            # Long enough for the first lease to have lapsed several times over unless renewed,
            # with the second process's timer running all along.
            later = first_expiry + timedelta(seconds=3 * SHORT_LEASE)
            await wait_until(lambda: utcnow() > later)
            meanwhile = await second.get_run(experiment_id, run_id)
            renewed_owner, renewed_expiry = _lease(settings, run_id)
            taken_over = second._dispatcher.active_run_ids

            scripted.hold.set()
            done = await second.wait_for_run(experiment_id, run_id, timeout=30)

    assert (meanwhile.status, meanwhile.attempts) == ("running", 1)
    assert renewed_owner == first_owner
    assert renewed_expiry is not None and renewed_expiry > first_expiry
    assert taken_over == []
    assert (done.status, done.attempts, len(done.personas)) == ("succeeded", 1, 2)
    assert scripted.calls == 1


async def test_a_dead_process_run_is_taken_over_by_a_live_one_once_its_lease_lapses(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider
) -> None:
    settings = make_settings(run_lease_seconds=SHORT_LEASE)
    scripted.hold = asyncio.Event()
    async with _service(settings) as first, _service(settings) as second:
        experiment_id, run_id = await _start_run(first)
        await scripted.started.wait()

        await _die(first)
        scripted.hold.set()
        done = await second.wait_for_run(experiment_id, run_id, timeout=30)

    assert (done.status, done.attempts, len(done.personas)) == ("succeeded", 2, 2)
    assert done.persona_ids == [p.id for p in done.personas]
    assert scripted.calls == 2


async def test_a_process_started_after_a_death_waits_for_the_lease_to_lapse(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider
) -> None:
    long_lease = make_settings(run_lease_seconds=300)
    scripted.hold = asyncio.Event()
    async with _service(long_lease) as first:
        experiment_id, run_id = await _start_run(first)
        await scripted.started.wait()
        await _die(first)

        async with _service(long_lease) as restarted:
            left_alone = await restarted.get_run(experiment_id, run_id)
            scheduled = restarted._dispatcher.active_run_ids

    assert (left_alone.status, left_alone.attempts) == ("running", 1)
    assert scheduled == []
    assert scripted.calls == 1

    scripted.hold.set()
    async with _service(long_lease) as later:  # the dead process closed: its lease is gone
        done = await later.wait_for_run(experiment_id, run_id, timeout=30)
    assert (done.status, done.attempts) == ("succeeded", 2)


async def test_graceful_shutdown_lets_the_next_start_take_the_run_over_at_once(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider
) -> None:
    settings = make_settings(run_lease_seconds=300)
    scripted.hold = asyncio.Event()
    async with _service(settings) as first:
        experiment_id, run_id = await _start_run(first)
        await scripted.started.wait()
    released = _lease(settings, run_id)

    scripted.hold.set()
    async with _service(settings) as restarted:
        scheduled = restarted._dispatcher.active_run_ids
        done = await restarted.wait_for_run(experiment_id, run_id, timeout=30)

    assert released == (None, None)
    assert scheduled == [run_id]
    assert (done.status, done.attempts, len(done.personas)) == ("succeeded", 2, 2)
    assert scripted.calls == 2


async def test_a_sibling_takes_over_the_runs_of_a_process_that_stopped_gracefully(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider
) -> None:
    settings = make_settings(run_lease_seconds=SHORT_LEASE, max_concurrent_runs=1)
    scripted.hold = asyncio.Event()
    async with _service(settings) as sibling:
        first = PersonaService(settings)
        await first.start()
        experiment_id, running = await _start_run(first)
        queued = (await first.start_run(experiment_id)).run.id
        await scripted.started.wait()
        await first.aclose()

        scripted.hold.set()
        done = [
            await sibling.wait_for_run(experiment_id, run_id, timeout=30)
            for run_id in (running, queued)
        ]

    # On PostgreSQL either process's queue worker may have taken either run first: the
    # interrupted one (whichever it was) ran twice, the other once.
    assert sorted((run.status, run.attempts) for run in done) == [
        ("succeeded", 1),
        ("succeeded", 2),
    ]
    assert scripted.calls == 3
