"""PersonaService: the SDK facade the API and the CLI call."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import persona
import pytest
from persona.errors import (
    ConflictError,
    IdempotencyConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PersonaError,
    ProviderError,
    ProviderNotConfiguredError,
    SourceError,
)
from persona.providers import list_providers
from persona.schemas import (
    ExperimentCreate,
    GenerationConfig,
    GenerationOverrides,
    InlineSource,
    ResolvedConfig,
    RunDetail,
)
from persona.service import PersonaService, SyncPersonaService, UploadedFile
from persona.settings import Settings

if TYPE_CHECKING:
    from tests.server.conftest import ScriptedProvider


def _create(*sources: str | InlineSource, **config: object) -> ExperimentCreate:
    return ExperimentCreate(
        name="study",
        data_sources=list(sources or ["interviews.csv"]),
        config=GenerationConfig(**config),  # type: ignore[arg-type]
    )


def _upload(name: str, content: bytes) -> UploadedFile:
    return UploadedFile(filename=name, stream=io.BytesIO(content))


# ---------------------------------------------------------------------- lifecycle


async def test_calls_before_start_say_how_to_start(settings: Settings) -> None:
    service = PersonaService(settings)
    with pytest.raises(RuntimeError, match="async with PersonaService"):
        await service.get_experiment("exp-x")


async def test_a_missing_data_dir_fails_the_start_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "examples"

    with pytest.raises(PersonaError, match=f"the data directory {missing} does not exist"):
        await PersonaService(Settings(data_dir=missing, _env_file=None)).start()  # type: ignore[call-arg]

    assert not missing.exists()


async def test_a_closed_service_cannot_start_again(settings: Settings) -> None:
    service = PersonaService(settings)
    await service.start()
    await service.start()  # a second start is a no-op
    await service.aclose()
    await service.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await service.start()


async def test_a_file_that_is_not_a_database_fails_the_start_and_is_left_alone(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    from sqlalchemy.exc import DatabaseError

    path = tmp_path / "not-a-db.sqlite"
    path.write_bytes(b"these are someone's notes, not a database" * 100)
    service = PersonaService(make_settings(database_url=f"sqlite:///{path}"))

    with pytest.raises(DatabaseError):
        await service.start()

    assert path.read_bytes() == b"these are someone's notes, not a database" * 100
    with pytest.raises(RuntimeError, match="not running"):
        await service.list_experiments()


async def test_a_service_remembers_everything_after_a_restart(
    settings: Settings, scripted: ScriptedProvider
) -> None:
    async with PersonaService(settings) as first:
        experiment = await first.create_experiment(_create())
        started = await first.start_run(experiment.id)
        run = await first.wait_for_run(experiment.id, started.run.id, timeout=30)
        final = await first.get_experiment(experiment.id)

    async with PersonaService(settings) as second:
        experiment_again = await second.get_experiment(experiment.id)
        run_again = await second.get_run(experiment.id, run.id)
        persona = await second.get_persona(run.persona_ids[0])

    assert experiment_again == final
    assert final.status == "succeeded"
    assert run_again == run
    assert persona == run.personas[0]


# ---------------------------------------------------------------------- create


async def test_create_stores_the_effective_provider_and_normalised_paths(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(
        _create("./interviews.csv", "transcripts", "./transcripts/../survey.json")
    )

    assert experiment.id.startswith("exp-")
    assert experiment.status == "created"
    assert experiment.config.provider == "local"
    assert experiment.data_sources == ["interviews.csv", "transcripts", "survey.json"]
    assert experiment.created_at.tzinfo is not None


async def test_the_default_provider_comes_from_the_settings(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    async with PersonaService(make_settings(default_provider="openai")) as service:
        experiment = await service.create_experiment(_create())
    assert experiment.config.provider == "openai"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("missing.csv", "does not exist"),
        ("../outside.csv", "outside the data directory"),
        ("/etc/passwd", "outside the data directory"),
        ("https://example.com/a.csv", "URL"),
    ],
)
async def test_a_bad_path_is_refused_at_create_time_naming_its_index(
    service: PersonaService, source: str, problem: str
) -> None:
    with pytest.raises(SourceError, match=problem) as caught:
        await service.create_experiment(_create("interviews.csv", source))

    assert caught.value.location == ["data_sources", 1]
    assert (await service.list_experiments()).items == []


async def test_an_unsupported_file_type_is_refused(service: PersonaService) -> None:
    (service.settings.data_dir / "slides.pdf").write_bytes(b"%PDF")
    with pytest.raises(SourceError, match=r"slides\.pdf") as caught:
        await service.create_experiment(_create("slides.pdf"))
    assert caught.value.location == ["data_sources", 0]


async def test_inline_sources_are_stored_in_the_experiments_folder(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(
        _create("interviews.csv", InlineSource(name="notes.md", content="**P1:** I need speed."))
    )

    stored = f".persona/experiments/{experiment.id}/inline/notes.md"
    assert experiment.data_sources == ["interviews.csv", stored]
    assert (service.settings.data_dir / stored).read_text() == "**P1:** I need speed."


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../escape.md", "path separator"),
        ("a/b.md", "path separator"),
        ("a\\b.md", "path separator"),
        ("..", "not a file name"),
        (".hidden.md", "hidden"),
        ("nul\x00.md", "NUL"),
        ("bell\x07.md", "control"),
        ("   ", "empty"),
        ("n" * 300 + ".md", "255 bytes"),
    ],
)
async def test_unsafe_inline_names_are_refused(
    service: PersonaService, name: str, problem: str
) -> None:
    source = InlineSource.model_construct(name=name, content="text")
    with pytest.raises(InvalidInputError, match=problem) as caught:
        await service.create_experiment(_create("interviews.csv", source))

    assert caught.value.location == ["data_sources", 1, "name"]
    assert not (service.settings.state_dir / "experiments").exists() or not any(
        (service.settings.state_dir / "experiments").iterdir()
    )


async def test_inline_source_limits(make_settings: Callable[..., Settings]) -> None:
    async with PersonaService(make_settings(max_inline_source_bytes=10)) as service:
        with pytest.raises(PayloadTooLargeError, match="PERSONA_MAX_INLINE_SOURCE_BYTES"):
            await service.create_experiment(_create(InlineSource(name="a.md", content="é" * 6)))
        with pytest.raises(InvalidInputError, match="used twice"):
            await service.create_experiment(
                _create(
                    InlineSource(name="a.md", content="x"), InlineSource(name="a.md", content="y")
                )
            )
        with pytest.raises(SourceError, match="unsupported"):
            await service.create_experiment(_create(InlineSource(name="a.exe", content="x")))
        assert (await service.list_experiments()).items == []


async def test_creating_with_an_unconfigured_provider_succeeds_but_running_is_refused(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(_create(provider="anthropic", model="claude-x"))

    with pytest.raises(ProviderNotConfiguredError, match="ANTHROPIC_API_KEY"):
        await service.start_run(experiment.id)
    assert (await service.list_runs(experiment.id)).items == []


async def test_an_unavailable_provider_is_refused(
    service: PersonaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona import providers

    monkeypatch.delitem(providers._SPECS, "gemini")
    with pytest.raises(InvalidInputError, match="gemini") as caught:
        await service.create_experiment(_create(provider="gemini"))
    assert caught.value.location == ["config", "provider"]


# ---------------------------------------------------------------------- uploads


async def test_uploads_are_streamed_into_the_experiment_and_appended(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(_create())

    updated = await service.upload_sources(
        experiment.id,
        [
            _upload("C:\\Users\\me\\survey.csv", b"who,answer\nP1,I want it fast\n"),
            _upload("/tmp/notes.md", b"**P2:** I hate waiting."),
        ],
    )

    folder = f".persona/experiments/{experiment.id}/uploads"
    assert updated.data_sources == ["interviews.csv", f"{folder}/survey.csv", f"{folder}/notes.md"]
    root = service.settings.data_dir
    assert (root / folder / "survey.csv").read_bytes() == b"who,answer\nP1,I want it fast\n"
    assert sorted(p.name for p in (root / folder).iterdir()) == ["notes.md", "survey.csv"]


async def test_an_upload_never_overwrites_an_earlier_one(service: PersonaService) -> None:
    experiment = await service.create_experiment(_create())
    await service.upload_sources(experiment.id, [_upload("a.csv", b"x,y\n1,first\n")])

    updated = await service.upload_sources(
        experiment.id, [_upload("a.csv", b"x,y\n1,second\n"), _upload("a.csv", b"x,y\n1,third\n")]
    )

    folder = service.experiment_dir(experiment.id) / "uploads"
    assert [Path(s).name for s in updated.data_sources[1:]] == ["a.csv", "a-2.csv", "a-3.csv"]
    assert (folder / "a.csv").read_bytes() == b"x,y\n1,first\n"
    assert (folder / "a-3.csv").read_bytes() == b"x,y\n1,third\n"


async def test_uploads_over_the_limit_are_refused_and_leave_nothing(
    make_settings: Callable[..., Settings],
) -> None:
    async with PersonaService(make_settings(max_upload_bytes=100_000)) as service:
        experiment = await service.create_experiment(_create())

        with pytest.raises(PayloadTooLargeError, match="PERSONA_MAX_UPLOAD_BYTES"):
            await service.upload_sources(
                experiment.id,
                [_upload("a.csv", b"a" * 60_000), _upload("b.csv", b"b" * 60_000)],
            )

        assert (await service.get_experiment(experiment.id)).data_sources == ["interviews.csv"]
        folder = service.experiment_dir(experiment.id)
        assert [p for p in folder.rglob("*") if p.is_file()] == []


async def test_bad_uploads_name_the_file_and_its_position(service: PersonaService) -> None:
    experiment = await service.create_experiment(_create())

    with pytest.raises(SourceError, match=r"photo\.png") as caught:
        await service.upload_sources(
            experiment.id, [_upload("ok.csv", b"a\nb\n"), _upload("photo.png", b"\x89PNG")]
        )
    assert caught.value.location == ["files", 1]
    with pytest.raises(InvalidInputError) as caught_name:
        await service.upload_sources(experiment.id, [_upload("", b"x")])
    assert caught_name.value.location == ["files", 0]
    with pytest.raises(InvalidInputError, match="hidden"):
        await service.upload_sources(experiment.id, [_upload("dir/.env.csv", b"x")])
    with pytest.raises(InvalidInputError, match="no files") as caught_none:
        await service.upload_sources(experiment.id, [])
    assert caught_none.value.location == ["files"]
    with pytest.raises(NotFoundError):
        await service.upload_sources("exp-missing", [_upload("a.csv", b"x")])


async def test_an_uploaded_source_is_used_by_the_next_run(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(_create())
    await service.upload_sources(
        experiment.id, [_upload("extra.csv", b"participant,answer\nZ9,Uploaded words only here\n")]
    )

    started = await service.start_run(experiment.id)
    run = await service.wait_for_run(experiment.id, started.run.id, timeout=30)

    assert run.status == "succeeded"


# ---------------------------------------------------------------------- runs


async def test_overrides_merge_into_the_experiment_config(
    service: PersonaService, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = await service.create_experiment(
        _create(provider="local", model="tfidf", persona_count=2, seed=5)
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
    experiment = await service.create_experiment(_create())

    started = await service.start_run(experiment.id)

    assert started.created is True
    assert started.run.status == "queued"
    assert started.run.experiment_id == experiment.id
    scripted.hold.set()
    await service.wait_for_run(experiment.id, started.run.id, timeout=30)


async def test_the_same_idempotency_key_and_body_return_the_same_run(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(_create())
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
    experiment = await service.create_experiment(_create())

    first = await service.start_run(experiment.id, None, idempotency_key="k")
    second = await service.start_run(experiment.id, GenerationOverrides(), idempotency_key="k")

    assert second.run.id == first.run.id and not second.created


async def test_concurrent_requests_with_one_key_make_one_run(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(_create())

    results = await asyncio.gather(
        *(service.start_run(experiment.id, idempotency_key="same") for _ in range(20))
    )

    assert len({r.run.id for r in results}) == 1
    assert sum(r.created for r in results) == 1


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there"])
async def test_a_malformed_idempotency_key_is_refused(service: PersonaService, key: str) -> None:
    experiment = await service.create_experiment(_create())
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
    experiment = await service.create_experiment(_create())
    started = await service.start_run(experiment.id)

    with pytest.raises(TimeoutError, match=started.run.id):
        await service.wait_for_run(experiment.id, started.run.id, timeout=0.05)
    scripted.hold.set()
    assert (await service.wait_for_run(experiment.id, started.run.id)).status == "succeeded"


async def test_waiting_notices_a_run_finished_by_another_process(
    service: PersonaService, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona import service as service_module
    from persona.storage import Database, Repository

    monkeypatch.setattr(service_module, "WAIT_RECHECK", 0.05)
    experiment = await service.create_experiment(_create())
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
    experiment = await service.create_experiment(_create())
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
    experiment = await service.create_experiment(_create())
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
    from persona import service as service_module
    from persona.storage import Database, Repository

    monkeypatch.setattr(service_module, "LOCAL_WAIT_RECHECK", 0.05)
    scripted.hold = asyncio.Event()
    experiment = await service.create_experiment(_create())
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
    experiment = await service.create_experiment(_create(persona_count=3))
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
        _create("interviews.csv", InlineSource(name="notes.md", content="**P1:** words"))
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
    experiment = await service.create_experiment(_create())
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
    experiments = await asyncio.gather(*(service.create_experiment(_create()) for _ in range(50)))
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


# ---------------------------------------------------------------------- sources


async def test_sources_are_listed_and_stored_ones_deleted(service: PersonaService) -> None:
    experiment = await service.create_experiment(
        _create("interviews.csv", InlineSource(name="notes.md", content="**P1:** words"))
    )
    await service.upload_sources(experiment.id, [_upload("more.md", b"P2 wants calm.\n")])

    listed = (await service.list_sources(experiment.id)).items
    assert [(s.kind, s.records) for s in listed[1:]] == [("inline", 1), ("upload", 1)]
    with pytest.raises(ConflictError, match=r"interviews\.csv") as refused:
        await service.delete_source(experiment.id, "interviews.csv")
    assert refused.value.code == "path_source"
    updated = await service.delete_source(experiment.id, listed[1].name)
    assert updated.data_sources == [listed[0].name, listed[2].name]
    assert not (service.settings.data_dir / listed[1].name).exists()
    with pytest.raises(NotFoundError, match="source"):
        await service.delete_source(experiment.id, listed[1].name)


async def test_a_bad_upload_keeps_none_of_its_files(service: PersonaService) -> None:
    experiment = await service.create_experiment(_create())

    with pytest.raises(SourceError, match=r"^b\.csv: row 1: the file has a header") as caught:
        await service.upload_sources(
            experiment.id, [_upload("a.md", b"P1 said hi.\n"), _upload("b.csv", b"x,y\n")]
        )

    assert caught.value.location == ["files", 1]
    assert (await service.get_experiment(experiment.id)).data_sources == ["interviews.csv"]
    folder = service.experiment_dir(experiment.id)
    assert [p for p in folder.rglob("*") if p.is_file()] == []


def test_the_sync_wrapper_lists_and_deletes_sources(settings: Settings) -> None:
    with SyncPersonaService(settings) as service:
        experiment = service.create_experiment(_create())
        stored = service.upload_sources(experiment.id, [_upload("m.md", b"P9: hi\n")]).data_sources
        assert [s.kind for s in service.list_sources(experiment.id).items] == ["path", "upload"]
        assert service.delete_source(experiment.id, stored[1]).data_sources == stored[:1]


# ---------------------------------------------------------------------- sync wrapper


def test_the_sync_wrapper_runs_a_generation_end_to_end(settings: Settings) -> None:
    with SyncPersonaService(settings) as service:
        experiment = service.create_experiment(_create(persona_count=2, seed=3))
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
        updated = service.upload_sources(experiment.id, [_upload("more.md", b"**P9:** extra")])
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
        experiment = service.create_experiment(_create())
        started = service.start_run(experiment.id)
        cancelled = service.cancel_run(experiment.id, started.run.id)
    assert cancelled.status == "cancelled"


def test_the_sync_wrapper_reports_a_failed_start(tmp_path: Path, research_dir: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    settings = Settings(data_dir=research_dir, database_url=f"sqlite:///{blocker}/db.sqlite")
    with pytest.raises(Exception, match=r"(?i)(exists|directory|file)"):
        SyncPersonaService(settings)
