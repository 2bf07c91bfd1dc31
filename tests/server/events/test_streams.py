"""Event streams through the service: backlog then live events, exactly once, in order,
from this process or another one sharing the database, and nothing left behind after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from persona.errors import InvalidInputError, NotFoundError
from persona.events import hub as hub_module
from persona.events.schemas import RunEvent, event_key
from persona.schemas import ExperimentCreate, GenerationConfig
from persona.service import PersonaService
from persona.settings import Settings
from sqlalchemy import text

from tests.server.conftest import ScriptedProvider, WaitUntil

TERMINAL = {"run.succeeded", "run.failed", "run.cancelled"}
WITHIN = 30.0


def _body() -> ExperimentCreate:
    return ExperimentCreate(
        name="study",
        data_sources=["interviews.csv"],
        config=GenerationConfig(provider="local", persona_count=2),
    )


async def _collect(events: AsyncIterator[RunEvent]) -> list[RunEvent]:
    async with asyncio.timeout(WITHIN):
        return [event async for event in events]


async def _held_run(service: PersonaService, scripted: ScriptedProvider) -> tuple[str, str]:
    scripted.hold = asyncio.Event()
    experiment = await service.create_experiment(_body())
    started = await service.start_run(experiment.id)
    return experiment.id, started.run.id


async def test_a_stream_gives_the_backlog_then_live_events_up_to_the_terminal_one(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment_id, run_id = await _held_run(service, scripted)
    await asyncio.wait_for(scripted.started.wait(), WITHIN)
    stream = await service.stream_run_events(experiment_id, run_id)
    first = await asyncio.wait_for(anext(stream), WITHIN)  # from the backlog

    assert scripted.hold is not None
    scripted.hold.set()
    rest = await _collect(stream)

    events = [first, *rest]
    assert [event.id for event in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events][:2] == ["run.queued", "run.started"]
    assert events[-1].type == "run.succeeded"
    stored = await service.list_run_events(experiment_id, run_id, limit=200)
    assert [e.model_dump() for e in stored.items] == [e.model_dump() for e in events]
    assert service._started.hub.stream_count == 0


async def test_a_stream_of_a_finished_run_is_its_backlog_after_the_given_id(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(_body())
    run = (await service.start_run(experiment.id)).run
    await service.wait_for_run(experiment.id, run.id, timeout=WITHIN)
    everything = (await service.list_run_events(experiment.id, run.id)).items

    resumed = await _collect(await service.stream_run_events(experiment.id, run.id, after=2))

    assert [e.id for e in resumed] == [e.id for e in everything[2:]]
    assert resumed[-1].type == "run.succeeded"


async def test_a_cancelled_run_ends_its_stream_with_run_cancelled(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment_id, run_id = await _held_run(service, scripted)
    stream = await service.stream_run_events(experiment_id, run_id)
    collecting = asyncio.create_task(_collect(stream))
    await asyncio.wait_for(scripted.started.wait(), WITHIN)

    await service.cancel_run(experiment_id, run_id)

    events = await collecting
    assert events[-1].type == "run.cancelled"
    assert [e.type for e in events].count("run.cancelled") == 1


async def test_an_unknown_run_or_experiment_is_refused_before_any_event(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(_body())
    with pytest.raises(NotFoundError):
        await service.stream_run_events(experiment.id, "run-missing")
    with pytest.raises(NotFoundError):
        await service.stream_experiment_events("exp-missing")
    with pytest.raises(InvalidInputError, match="not the id of an event") as raised:
        await service.stream_experiment_events(experiment.id, after="run-x:notanumber")
    assert raised.value.location == ["header", "last-event-id"]


async def test_closing_a_stream_early_leaves_no_subscription(
    service: PersonaService, scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    experiment_id, run_id = await _held_run(service, scripted)
    streams = [await service.stream_run_events(experiment_id, run_id) for _ in range(20)]
    for stream in streams:
        await asyncio.wait_for(anext(stream), WITHIN)
    hub = service._started.hub
    assert hub.stream_count == 20

    for stream in streams:
        await stream.aclose()  # type: ignore[attr-defined]

    assert hub.stream_count == 0
    assert scripted.hold is not None
    scripted.hold.set()


async def test_a_run_changed_by_another_service_on_the_same_database_reaches_the_stream(
    settings: Settings, scripted: ScriptedProvider
) -> None:
    """Two services on one database stand for two processes: the one streaming hears of a
    cancel only through the database (data_version on SQLite, NOTIFY on PostgreSQL)."""
    async with PersonaService(settings) as streaming, PersonaService(settings) as other:
        experiment_id, run_id = await _held_run(streaming, scripted)
        stream = await streaming.stream_run_events(experiment_id, run_id)
        collecting = asyncio.create_task(_collect(stream))
        await asyncio.wait_for(scripted.started.wait(), WITHIN)

        await other.cancel_run(experiment_id, run_id)

        events = await collecting
        assert events[-1].type == "run.cancelled"


async def test_a_stream_that_falls_behind_reads_what_it_missed_from_the_table(
    service: PersonaService, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_LIMIT", 1)
    scripted.progress_steps = [(step / 10, f"step {step}") for step in range(1, 10)]
    scripted.hold = asyncio.Event()
    experiment = await service.create_experiment(_body())
    stream_started = asyncio.Event()

    async def slow_reader(events: AsyncIterator[RunEvent]) -> list[RunEvent]:
        seen = [await anext(events)]
        stream_started.set()
        await asyncio.wait_for(scripted.started.wait(), WITHIN)
        await asyncio.sleep(0.3)  # let events pile up past the inbox
        return seen + await _collect(events)

    run = (await service.start_run(experiment.id)).run
    reading = asyncio.create_task(
        slow_reader(await service.stream_run_events(experiment.id, run.id))
    )
    await asyncio.wait_for(stream_started.wait(), WITHIN)
    scripted.hold.set()

    events = await reading
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "run.succeeded"


async def test_a_run_deleted_with_its_experiment_ends_its_stream(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment_id, run_id = await _held_run(service, scripted)
    stream = await service.stream_run_events(experiment_id, run_id)
    collecting = asyncio.create_task(_collect(stream))
    await asyncio.wait_for(scripted.started.wait(), WITHIN)

    await service.delete_experiment(experiment_id)

    events = await collecting  # ends: with run.cancelled, or because the run is gone
    assert events and events[0].type == "run.queued"


async def test_a_finished_run_without_events_ends_its_stream_at_once(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    """Runs finished before events were recorded have none; their streams still end."""
    experiment = await service.create_experiment(_body())
    run = (await service.start_run(experiment.id)).run
    await service.wait_for_run(experiment.id, run.id, timeout=WITHIN)
    with service._started.database.engine.begin() as connection:
        connection.execute(text("DELETE FROM run_events WHERE run_id = :r"), {"r": run.id})

    assert await _collect(await service.stream_run_events(experiment.id, run.id)) == []


async def test_an_experiment_stream_gives_every_runs_events_and_resumes_after_a_key(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(_body())
    stream = await service.stream_experiment_events(experiment.id)
    runs = [(await service.start_run(experiment.id)).run for _ in range(2)]
    for run in runs:
        await service.wait_for_run(experiment.id, run.id, timeout=WITHIN)

    seen: list[RunEvent] = []
    async with asyncio.timeout(WITHIN):
        while sum(event.type in TERMINAL for event in seen) < 2:
            seen.append(await anext(stream))
    await stream.aclose()  # type: ignore[attr-defined]

    for run in runs:
        ids = [event.id for event in seen if event.run_id == run.id]
        assert ids == list(range(1, len(ids) + 1))
    listed = await service.list_experiment_events(experiment.id, limit=500)
    assert sorted(map(event_key, seen)) == sorted(map(event_key, listed.items))

    resumed = await service.stream_experiment_events(experiment.id, after=event_key(seen[0]))
    async with asyncio.timeout(WITHIN):
        rest = [await anext(resumed) for _ in range(len(listed.items) - 1)]
    await resumed.aclose()  # type: ignore[attr-defined]
    assert [event_key(e) for e in rest] == [event_key(e) for e in listed.items[1:]]


async def test_stopping_the_streams_ends_every_open_one_and_any_opened_after(
    service: PersonaService, scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    experiment_id, run_id = await _held_run(service, scripted)
    await asyncio.wait_for(scripted.started.wait(), WITHIN)

    async def progress_stored() -> bool:
        events = (await service.list_run_events(experiment_id, run_id)).items
        return any(event.type == "run.progress" for event in events)

    await wait_until(progress_stored, within=WITHIN)  # nothing more is written until released
    run_stream = await service.stream_run_events(experiment_id, run_id)
    experiment_stream = await service.stream_experiment_events(experiment_id)
    first = await asyncio.wait_for(anext(run_stream), WITHIN)

    service.stop_streams()
    rest = await _collect(run_stream)
    whole_experiment = await _collect(experiment_stream)
    opened_after = await _collect(await service.stream_run_events(experiment_id, run_id))

    assert service.streams_stopped
    stored = (await service.list_run_events(experiment_id, run_id)).items
    assert [first, *rest] == stored, "the open stream gave what was stored, then ended"
    assert whole_experiment == stored
    assert opened_after == stored
    assert all(event.type not in TERMINAL for event in stored), "the run is still running"
    assert scripted.hold is not None
    scripted.hold.set()


async def test_nothing_follows_the_terminal_event_of_a_finished_run(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(_body())
    run = (await service.start_run(experiment.id)).run
    await service.wait_for_run(experiment.id, run.id, timeout=WITHIN)
    last = (await service.list_run_events(experiment.id, run.id, limit=200)).items[-1]

    after_last = await service.stream_run_events(experiment.id, run.id, after=last.id)
    before_last = await service.stream_run_events(experiment.id, run.id, after=last.id - 1)

    assert after_last.nothing_follows and await _collect(after_last) == []
    assert not before_last.nothing_follows and await _collect(before_last) == [last]
