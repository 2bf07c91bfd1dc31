"""PersonaService: the SDK facade the API and the CLI call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from persona.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PersonaError,
    ProviderNotConfiguredError,
    SourceError,
)
from persona.schemas import InlineSource
from persona.service import PersonaService
from persona.settings import Settings
from persona.sync_service import SyncPersonaService

from tests.server._service_cases import experiment_body, uploaded_file

if TYPE_CHECKING:
    from tests.server.conftest import ScriptedProvider


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
        experiment = await first.create_experiment(experiment_body())
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
        experiment_body("./interviews.csv", "transcripts", "./transcripts/../survey.json")
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
        experiment = await service.create_experiment(experiment_body())
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
        await service.create_experiment(experiment_body("interviews.csv", source))

    assert caught.value.location == ["data_sources", 1]
    assert (await service.list_experiments()).items == []


async def test_an_unsupported_file_type_is_refused(service: PersonaService) -> None:
    (service.settings.data_dir / "slides.pdf").write_bytes(b"%PDF")
    with pytest.raises(SourceError, match=r"slides\.pdf") as caught:
        await service.create_experiment(experiment_body("slides.pdf"))
    assert caught.value.location == ["data_sources", 0]


async def test_inline_sources_are_stored_in_the_experiments_folder(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(
        experiment_body(
            "interviews.csv", InlineSource(name="notes.md", content="**P1:** I need speed.")
        )
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
        await service.create_experiment(experiment_body("interviews.csv", source))

    assert caught.value.location == ["data_sources", 1, "name"]
    assert not (service.settings.state_dir / "experiments").exists() or not any(
        (service.settings.state_dir / "experiments").iterdir()
    )


async def test_inline_source_limits(make_settings: Callable[..., Settings]) -> None:
    async with PersonaService(make_settings(max_inline_source_bytes=10)) as service:
        with pytest.raises(PayloadTooLargeError, match="PERSONA_MAX_INLINE_SOURCE_BYTES"):
            await service.create_experiment(
                experiment_body(InlineSource(name="a.md", content="é" * 6))
            )
        with pytest.raises(InvalidInputError, match="used twice"):
            await service.create_experiment(
                experiment_body(
                    InlineSource(name="a.md", content="x"), InlineSource(name="a.md", content="y")
                )
            )
        with pytest.raises(SourceError, match="unsupported"):
            await service.create_experiment(
                experiment_body(InlineSource(name="a.exe", content="x"))
            )
        assert (await service.list_experiments()).items == []


async def test_creating_with_an_unconfigured_provider_succeeds_but_running_is_refused(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(
        experiment_body(provider="anthropic", model="claude-x")
    )

    with pytest.raises(ProviderNotConfiguredError, match="ANTHROPIC_API_KEY"):
        await service.start_run(experiment.id)
    assert (await service.list_runs(experiment.id)).items == []


async def test_an_unavailable_provider_is_refused(
    service: PersonaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persona import providers

    monkeypatch.delitem(providers._SPECS, "gemini")
    with pytest.raises(InvalidInputError, match="gemini") as caught:
        await service.create_experiment(experiment_body(provider="gemini"))
    assert caught.value.location == ["config", "provider"]


# ---------------------------------------------------------------------- uploads


async def test_uploads_are_streamed_into_the_experiment_and_appended(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(experiment_body())

    updated = await service.upload_sources(
        experiment.id,
        [
            uploaded_file("C:\\Users\\me\\survey.csv", b"who,answer\nP1,I want it fast\n"),
            uploaded_file("/tmp/notes.md", b"**P2:** I hate waiting."),
        ],
    )

    folder = f".persona/experiments/{experiment.id}/uploads"
    assert updated.data_sources == ["interviews.csv", f"{folder}/survey.csv", f"{folder}/notes.md"]
    root = service.settings.data_dir
    assert (root / folder / "survey.csv").read_bytes() == b"who,answer\nP1,I want it fast\n"
    assert sorted(p.name for p in (root / folder).iterdir()) == ["notes.md", "survey.csv"]


async def test_an_upload_never_overwrites_an_earlier_one(service: PersonaService) -> None:
    experiment = await service.create_experiment(experiment_body())
    await service.upload_sources(experiment.id, [uploaded_file("a.csv", b"x,y\n1,first\n")])

    updated = await service.upload_sources(
        experiment.id,
        [uploaded_file("a.csv", b"x,y\n1,second\n"), uploaded_file("a.csv", b"x,y\n1,third\n")],
    )

    folder = service.experiment_dir(experiment.id) / "uploads"
    assert [Path(s).name for s in updated.data_sources[1:]] == ["a.csv", "a-2.csv", "a-3.csv"]
    assert (folder / "a.csv").read_bytes() == b"x,y\n1,first\n"
    assert (folder / "a-3.csv").read_bytes() == b"x,y\n1,third\n"


async def test_uploads_over_the_limit_are_refused_and_leave_nothing(
    make_settings: Callable[..., Settings],
) -> None:
    async with PersonaService(make_settings(max_upload_bytes=100_000)) as service:
        experiment = await service.create_experiment(experiment_body())

        with pytest.raises(PayloadTooLargeError, match="PERSONA_MAX_UPLOAD_BYTES"):
            await service.upload_sources(
                experiment.id,
                [uploaded_file("a.csv", b"a" * 60_000), uploaded_file("b.csv", b"b" * 60_000)],
            )

        assert (await service.get_experiment(experiment.id)).data_sources == ["interviews.csv"]
        folder = service.experiment_dir(experiment.id)
        assert [p for p in folder.rglob("*") if p.is_file()] == []


async def test_bad_uploads_name_the_file_and_its_position(service: PersonaService) -> None:
    experiment = await service.create_experiment(experiment_body())

    with pytest.raises(SourceError, match=r"photo\.png") as caught:
        await service.upload_sources(
            experiment.id,
            [uploaded_file("ok.csv", b"a\nb\n"), uploaded_file("photo.png", b"\x89PNG")],
        )
    assert caught.value.location == ["files", 1]
    with pytest.raises(InvalidInputError) as caught_name:
        await service.upload_sources(experiment.id, [uploaded_file("", b"x")])
    assert caught_name.value.location == ["files", 0]
    with pytest.raises(InvalidInputError, match="hidden"):
        await service.upload_sources(experiment.id, [uploaded_file("dir/.env.csv", b"x")])
    with pytest.raises(InvalidInputError, match="no files") as caught_none:
        await service.upload_sources(experiment.id, [])
    assert caught_none.value.location == ["files"]
    with pytest.raises(NotFoundError):
        await service.upload_sources("exp-missing", [uploaded_file("a.csv", b"x")])


async def test_an_uploaded_source_is_used_by_the_next_run(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body())
    await service.upload_sources(
        experiment.id,
        [uploaded_file("extra.csv", b"participant,answer\nZ9,Uploaded words only here\n")],
    )

    started = await service.start_run(experiment.id)
    run = await service.wait_for_run(experiment.id, started.run.id, timeout=30)

    assert run.status == "succeeded"


# ---------------------------------------------------------------------- sources


async def test_sources_are_listed_and_stored_ones_deleted(service: PersonaService) -> None:
    experiment = await service.create_experiment(
        experiment_body("interviews.csv", InlineSource(name="notes.md", content="**P1:** words"))
    )
    await service.upload_sources(experiment.id, [uploaded_file("more.md", b"P2 wants calm.\n")])

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
    experiment = await service.create_experiment(experiment_body())

    with pytest.raises(SourceError, match=r"^b\.csv: row 1: the file has a header") as caught:
        await service.upload_sources(
            experiment.id,
            [uploaded_file("a.md", b"P1 said hi.\n"), uploaded_file("b.csv", b"x,y\n")],
        )

    assert caught.value.location == ["files", 1]
    assert (await service.get_experiment(experiment.id)).data_sources == ["interviews.csv"]
    folder = service.experiment_dir(experiment.id)
    assert [p for p in folder.rglob("*") if p.is_file()] == []


def test_the_sync_wrapper_lists_and_deletes_sources(settings: Settings) -> None:
    with SyncPersonaService(settings) as service:
        experiment = service.create_experiment(experiment_body())
        stored = service.upload_sources(
            experiment.id, [uploaded_file("m.md", b"P9: hi\n")]
        ).data_sources
        assert [s.kind for s in service.list_sources(experiment.id).items] == ["path", "upload"]
        assert service.delete_source(experiment.id, stored[1]).data_sources == stored[:1]


def test_one_evidence_record_is_found_by_its_run_alone(settings: Settings) -> None:
    with SyncPersonaService(settings) as service:
        experiment = service.create_experiment(experiment_body())
        run = service.wait_for_run(experiment.id, service.start_run(experiment.id).run.id)
        second = service.list_run_evidence(experiment.id, run.id, limit=2).items[1]
        assert service.get_run_evidence(run.id, second.id) == second
        with pytest.raises(NotFoundError, match="evidence 'ev-missing' not found"):
            service.get_run_evidence(run.id, "ev-missing")
        with pytest.raises(NotFoundError, match="run 'run-missing' not found"):
            service.get_run_evidence("run-missing", second.id)
