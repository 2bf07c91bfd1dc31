"""PersonaService: runs, personas, deleting, health and the sync wrapper."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import persona
import pytest
from persona.errors import IdempotencyConflictError, InvalidInputError, NotFoundError, ProviderError
from persona.providers import list_providers
from persona.schemas import GenerationOverrides, InlineSource, ResolvedConfig, RunDetail
from persona.service import PersonaService
from persona.settings import Settings
from persona.sync_service import SyncPersonaService

from tests.server._service_cases import experiment_body, uploaded_file

if TYPE_CHECKING:
    from tests.server.conftest import ScriptedProvider


# ---------------------------------------------------------------------- runs


async def test_overrides_merge_into_the_experiment_config(
    service: PersonaService, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = await service.create_experiment(
        experiment_body(provider="local", model="tfidf", persona_count=2, seed=5)
    )

    same_provider = await service.start_run(
        experiment.id, GenerationOverrides(persona_count=4, temperature=0.3)
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    other_provider = await service.start_run(experiment.id, GenerationOverrides(provider="openai"))
    await service.cancel_run(experiment.id, other_provider.run.id)

    assert same_provider.run.config == ResolvedConfig(
        provider="local", model="tfidf", persona_count=4, temperature=0.3, seed=5
    )
    assert other_provider.run.config == ResolvedConfig(
        provider="openai", model=None, persona_count=2, seed=5
    )
    assert (await service.get_experiment(experiment.id)).config.persona_count == 2


async def test_start_run_returns_at_once_with_a_queued_run(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    scripted.hold = asyncio.Event()
    experiment = await service.create_experiment(experiment_body())

    started = await service.start_run(experiment.id)

    assert started.created is True
    assert started.run.status == "queued"
    assert started.run.experiment_id == experiment.id
    scripted.hold.set()
    await service.wait_for_run(experiment.id, started.run.id, timeout=30)


async def test_the_same_idempotency_key_and_body_return_the_same_run(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body())
    body = GenerationOverrides(persona_count=2)

    first = await service.start_run(experiment.id, body, idempotency_key="abc")
    again = await service.start_run(
        experiment.id, GenerationOverrides(persona_count=2), idempotency_key="abc"
    )
    no_key = await service.start_run(experiment.id, body)

    assert (first.created, again.created, no_key.created) == (True, False, True)
    assert again.run.id == first.run.id
    assert no_key.run.id != first.run.id
    with pytest.raises(IdempotencyConflictError, match="abc"):
        await service.start_run(
            experiment.id, GenerationOverrides(persona_count=3), idempotency_key="abc"
        )
    for started in (first, no_key):
        await service.wait_for_run(experiment.id, started.run.id, timeout=30)
    assert len((await service.list_runs(experiment.id)).items) == 2
    assert scripted.calls == 2


async def test_an_empty_body_and_no_body_are_the_same_request(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body())

    first = await service.start_run(experiment.id, None, idempotency_key="k")
    second = await service.start_run(experiment.id, GenerationOverrides(), idempotency_key="k")

    assert second.run.id == first.run.id and not second.created


async def test_concurrent_requests_with_one_key_make_one_run(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body())

    results = await asyncio.gather(
        *(service.start_run(experiment.id, idempotency_key="same") for _ in range(20))
    )

    assert len({r.run.id for r in results}) == 1
    assert sum(r.created for r in results) == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there"])
async def test_a_malformed_idempotency_key_is_refused(service: PersonaService, key: str) -> None:
    experiment = await service.create_experiment(experiment_body())
    with pytest.raises(InvalidInputError) as caught:
        await service.start_run(experiment.id, idempotency_key=key)
    assert caught.value.location == ["header", "Idempotency-Key"]


async def test_runs_of_an_unknown_experiment(service: PersonaService) -> None:
    with pytest.raises(NotFoundError):
        await service.start_run("exp-nope")
    with pytest.raises(NotFoundError):
        await service.list_runs("exp-nope")
    with pytest.raises(NotFoundError):
        await service.get_run("exp-nope", "run-nope")


async def test_waiting_past_the_timeout_raises_timeout_error(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    scripted.hold = asyncio.Event()
    experiment = await service.create_experiment(experiment_body())
    started = await service.start_run(experiment.id)

    with pytest.raises(TimeoutError, match=started.run.id):
        await service.wait_for_run(experiment.id, started.run.id, timeout=0.05)
    scripted.hold.set()
    assert (await service.wait_for_run(experiment.id, started.run.id)).status == "succeeded"


async def test_waiting_notices_a_run_finished_by_another_process(
    service: PersonaService, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona.runs import waiting as waiting_module
    from persona.storage import Database, Repository

    monkeypatch.setattr(waiting_module, "WAIT_RECHECK", 0.05)
    experiment = await service.create_experiment(experiment_body())
    other = Repository(Database(settings.effective_database_url))
    run, _ = other.create_run(experiment.id, experiment.config)  # queued by "another worker"

    waiter = asyncio.create_task(service.wait_for_run(experiment.id, run.id, timeout=30))
    await asyncio.sleep(0.1)
    other.cancel_run(experiment.id, run.id)

    assert (await waiter).status == "cancelled"
    other.db.dispose()


async def test_waiting_for_a_run_that_succeeds_here_needs_no_read(
    service: PersonaService, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted.hold = asyncio.Event()
    experiment = await service.create_experiment(experiment_body())
    started = await service.start_run(experiment.id)
    reads: list[str] = []
    get_run = service.get_run

    async def counted_get_run(experiment_id: str, run_id: str) -> RunDetail:
        reads.append(run_id)
        return await get_run(experiment_id, run_id)

    monkeypatch.setattr(service, "get_run", counted_get_run)
    # Once claimed here: a queued run may yet go to a worker in another process.
    await scripted.started.wait()
    waiter = asyncio.create_task(service.wait_for_run(experiment.id, started.run.id, timeout=30))
    await asyncio.sleep(0.05)
    assert reads == []  # its end here resolves a future: no reads meanwhile

    scripted.hold.set()
    run = await waiter

    assert reads == []  # the run as its success was stored
    assert run.status == "succeeded" and run.persona_ids == [p.id for p in run.personas]
    assert run == await get_run(experiment.id, started.run.id)


async def test_waiting_for_a_run_that_fails_here_reads_it_when_it_ends(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    scripted.error = ProviderError("the model is down", code="provider_unavailable")
    experiment = await service.create_experiment(experiment_body())
    started = await service.start_run(experiment.id)

    run = await service.wait_for_run(experiment.id, started.run.id, timeout=30)

    assert run.status == "failed" and run.error is not None
    assert run.error.code == "provider_unavailable"


async def test_waiting_notices_a_run_executing_here_cancelled_by_another_process(
    service: PersonaService,
    settings: Settings,
    scripted: ScriptedProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from persona.runs import waiting as waiting_module
    from persona.storage import Database, Repository

    monkeypatch.setattr(waiting_module, "LOCAL_WAIT_RECHECK", 0.05)
    scripted.hold = asyncio.Event()
    experiment = await service.create_experiment(experiment_body())
    started = await service.start_run(experiment.id)
    await scripted.started.wait()
    other = Repository(Database(settings.effective_database_url))

    waiter = asyncio.create_task(service.wait_for_run(experiment.id, started.run.id, timeout=30))
    other.cancel_run(experiment.id, started.run.id)  # the provider call here goes on

    assert (await waiter).status == "cancelled"
    scripted.hold.set()
    other.db.dispose()


# ---------------------------------------------------------------------- personas


async def test_personas_are_listed_and_fetched(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body(persona_count=3))
    started = await service.start_run(experiment.id)
    run = await service.wait_for_run(experiment.id, started.run.id, timeout=30)

    page = await service.list_personas(experiment.id, limit=2)
    rest = await service.list_personas(experiment.id, limit=2, cursor=page.next_cursor)

    assert {p.id for p in page.items + rest.items} == set(run.persona_ids)
    assert rest.next_cursor is None
    assert await service.get_persona(run.persona_ids[0]) == run.personas[0]
    with pytest.raises(NotFoundError):
        await service.get_persona("persona-nope")
    experiment = await service.get_experiment(experiment.id)
    assert (experiment.status, experiment.run_count, experiment.personas_stored) == (
        "succeeded",
        1,
        3,
    )


# ---------------------------------------------------------------------- delete


async def test_deleting_during_a_run_stops_it_and_removes_everything(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    scripted.hold = asyncio.Event()
    experiment = await service.create_experiment(
        experiment_body("interviews.csv", InlineSource(name="notes.md", content="**P1:** words"))
    )
    started = await service.start_run(experiment.id)
    await scripted.started.wait()
    folder = service.experiment_dir(experiment.id)
    assert folder.is_dir()

    await service.delete_experiment(experiment.id)

    assert scripted.finished.is_set()  # the provider call was cancelled
    assert not folder.exists()
    with pytest.raises(NotFoundError):
        await service.get_experiment(experiment.id)
    with pytest.raises(NotFoundError):
        await service.get_run(experiment.id, started.run.id)
    with pytest.raises(NotFoundError):
        await service.delete_experiment(experiment.id)
    assert (service.settings.data_dir / "interviews.csv").exists()


async def test_deleting_removes_saved_raw_outputs_of_its_runs(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    from persona.errors import ProviderError

    scripted.error = ProviderError("bad", code="invalid_output", raw_output="junk")
    experiment = await service.create_experiment(experiment_body())
    started = await service.start_run(experiment.id)
    await service.wait_for_run(experiment.id, started.run.id, timeout=30)
    raw = service.settings.state_dir / "runs" / started.run.id
    assert raw.is_dir()

    await service.delete_experiment(experiment.id)

    assert not raw.exists()


# ---------------------------------------------------------------------- misc


async def test_list_providers_is_the_registry(service: PersonaService) -> None:
    assert service.list_providers() == list_providers()


async def test_health_is_ok_with_a_reachable_database(service: PersonaService) -> None:
    health = await service.get_health()
    assert (health.status, health.database, health.version) == ("ok", "ok", persona.__version__)


async def test_health_reports_an_unreachable_database_without_raising(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    async with PersonaService(
        make_settings(database_url=f"sqlite:///{state}/db.sqlite")
    ) as service:
        service._started.database.dispose()
        shutil.rmtree(state)
        state.write_text("a file where the database folder was")

        health = await service.get_health()

    assert (health.status, health.database) == ("unavailable", "unreachable")


async def test_health_of_a_service_not_started(settings: Settings) -> None:
    assert (await PersonaService(settings).get_health()).status == "unavailable"


async def test_hundreds_of_concurrent_calls_all_succeed(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiments = await asyncio.gather(
        *(service.create_experiment(experiment_body()) for _ in range(50))
    )
    calls = []
    for experiment in experiments:
        calls += [
            service.get_experiment(experiment.id),
            service.start_run(experiment.id),
            service.list_experiments(limit=20),
            service.list_runs(experiment.id),
        ]

    results = await asyncio.gather(*calls, return_exceptions=True)

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len(results) == 200


# ---------------------------------------------------------------------- sync wrapper


def test_the_sync_wrapper_runs_a_generation_end_to_end(settings: Settings) -> None:
    with SyncPersonaService(settings) as service:
        experiment = service.create_experiment(experiment_body(persona_count=2, seed=3))
        started = service.start_run(experiment.id, GenerationOverrides(persona_count=2))
        run = service.wait_for_run(experiment.id, started.run.id, timeout=120)

        assert run.status == "succeeded"
        assert len(run.personas) == 2
        assert service.get_run(experiment.id, run.id) == run
        assert service.get_persona(run.persona_ids[0]) == run.personas[0]
        assert [p.id for p in service.list_personas(experiment.id).items] != []
        assert service.list_runs(experiment.id).items[0].id == run.id
        assert service.list_experiments().items[0].status == "succeeded"
        assert service.get_experiment(experiment.id).personas_stored == 2
        assert service.get_health().status == "ok"
        assert service.list_providers() == list_providers()
        assert service.settings is settings
        updated = service.upload_sources(
            experiment.id, [uploaded_file("more.md", b"**P9:** extra")]
        )
        assert updated.data_sources[-1].endswith("more.md")
        with pytest.raises(NotFoundError):
            service.get_persona("persona-nope")
        service.delete_experiment(experiment.id)
        assert service.list_experiments().items == []
    with pytest.raises(RuntimeError, match="closed"):
        service.get_experiment(experiment.id)
    service.close()  # closing twice is fine


def test_the_sync_wrapper_keeps_runs_going_between_calls_and_cancels(
    settings: Settings, scripted: ScriptedProvider
) -> None:
    hold = asyncio.Event()
    scripted.hold = hold
    with SyncPersonaService(settings) as service:
        experiment = service.create_experiment(experiment_body())
        started = service.start_run(experiment.id)
        cancelled = service.cancel_run(experiment.id, started.run.id)
    assert cancelled.status == "cancelled"


def test_the_sync_wrapper_reports_a_failed_start(tmp_path: Path, research_dir: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    settings = Settings(data_dir=research_dir, database_url=f"sqlite:///{blocker}/db.sqlite")
    with pytest.raises(Exception, match=r"(?i)(exists|directory|file)"):
        SyncPersonaService(settings)
