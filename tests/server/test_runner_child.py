"""Local runs over large sources, synthesised in a child process (persona.runs.offload)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from persona.runs import executor, offload
from persona.schemas import ExperimentCreate, GenerationConfig, RunDetail
from persona.service import PersonaService
from persona.settings import Settings

from tests.server._runner_cases import run_status

CHILD_LINE = "synthesised in a child process"


async def _generate(
    settings: Settings, source: str = "interviews.csv", **config: Any
) -> tuple[RunDetail, list[dict[str, Any]]]:
    """Run one generation to its end; the run and its evidence, as stored."""
    async with PersonaService(settings) as service:
        body = ExperimentCreate(
            name="study",
            data_sources=[source],
            config=GenerationConfig(provider="local", seed=7, **config),
        )
        experiment = await service.create_experiment(body)
        started = await service.start_run(experiment.id)
        done = await service.wait_for_run(experiment.id, started.run.id, timeout=120)
        evidence, cursor = [], None
        while True:
            page = await service.list_run_evidence(
                experiment.id, started.run.id, limit=200, cursor=cursor
            )
            evidence += [item.model_dump() for item in page.items]
            if (cursor := page.next_cursor) is None:
                return done, evidence


def _content(run: RunDetail) -> list[dict[str, Any]]:
    """The personas as synthesised: without the ids and times of storing them."""
    stored = {"id", "run_id", "experiment_id", "created_at"}
    return [persona.model_dump(exclude=stored) for persona in run.personas]


def _child_processes() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if offload.CHILD_MODULE in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


async def test_a_run_over_large_sources_gives_in_a_child_the_personas_it_gives_in_process(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="persona.runs")
    in_child, child_evidence = await _generate(make_settings(local_subprocess_min_bytes=1))
    child_logged = CHILD_LINE in caplog.text
    caplog.clear()
    in_process, process_evidence = await _generate(make_settings())

    assert in_child.status == in_process.status == "succeeded"
    assert child_logged and CHILD_LINE not in caplog.text
    assert _content(in_child) == _content(in_process)
    assert len(in_child.personas) == 3
    assert (in_child.progress, in_child.stage) == (1.0, "done")
    assert in_child.usage.model_dump() == in_process.usage.model_dump()
    assert in_child.privacy is not None and in_child.privacy == in_process.privacy
    assert not in_child.privacy.pseudonymized and in_child.privacy.records == 45
    # The snapshot stored from the second read is the evidence the child synthesised from.
    assert child_evidence == process_evidence
    assert len(child_evidence) == 45
    assert not _child_processes()


async def test_a_child_that_finds_too_few_participants_fails_the_run_with_its_error(
    make_settings: Callable[..., Settings], research_dir: Path
) -> None:
    (research_dir / "pair.csv").write_text(
        "participant,answer\nP1,I plan my week on Sunday.\nP2,I hate the sync errors.\n",
        encoding="utf-8",
    )

    in_child, _ = await _generate(make_settings(local_subprocess_min_bytes=1), "pair.csv")
    in_process, _ = await _generate(make_settings(), "pair.csv")

    assert in_child.status == "failed" and in_child.error is not None
    assert in_child.error.code == "insufficient_evidence"
    assert in_child.error == in_process.error
    assert "found 2 participants" in in_child.error.message


async def test_sources_edited_after_the_child_read_them_fail_the_run_and_store_no_evidence(
    make_settings: Callable[..., Settings],
    research_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = research_dir / "interviews.csv"
    real = executor.synthesize_in_child

    async def editing_once_read(
        job: offload.ChildJob,
        progress: Any,
        evidence_read: Callable[[offload.EvidenceRead], None],
        **kwargs: Any,
    ) -> offload.ChildResult:
        def edit_then_store(read: offload.EvidenceRead) -> None:
            with source.open("a", encoding="utf-8") as out:
                out.write("P99,Analyst,Finance,30,1-10,pain,I retype every invoice by hand.\n")
            evidence_read(read)

        return await real(job, progress, edit_then_store, **kwargs)

    monkeypatch.setattr(executor, "synthesize_in_child", editing_once_read)

    done, evidence = await _generate(make_settings(local_subprocess_min_bytes=1))

    assert done.status == "failed" and done.error is not None
    assert done.error.code == "source_changed"
    assert "changed while the run read them" in done.error.message
    assert done.personas == []
    assert evidence == []


async def test_cancelling_a_run_kills_its_child_process(
    make_settings: Callable[..., Settings], wait_until: Any
) -> None:
    settings = make_settings(local_subprocess_min_bytes=1)
    async with PersonaService(settings) as service:
        body = ExperimentCreate(
            name="study", data_sources=["interviews.csv"], config=GenerationConfig(seed=1)
        )
        experiment = await service.create_experiment(body)
        started = await service.start_run(experiment.id)
        await wait_until(_running_child)
        children = _child_processes()
        await service.cancel_run(experiment.id, started.run.id)
        done = await service.wait_for_run(experiment.id, started.run.id, timeout=30)

        assert done.status == "cancelled"
        assert await run_status(service, experiment.id, started.run.id) == "cancelled"
        assert children
        for child in children:
            assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


async def _running_child() -> bool:
    return bool(_child_processes())


async def test_a_child_that_dies_without_a_result_fails_the_run_and_logs_its_output(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(offload, "CHILD_MODULE", "persona.runs.no_such_module")

    done, _ = await _generate(make_settings(local_subprocess_min_bytes=1))

    assert done.status == "failed" and done.error is not None
    assert done.error.code == "internal_error"
    assert "ended without a result (exit code 1)" in done.error.message
    assert "No module named persona.runs.no_such_module" in caplog.text


async def test_runs_of_other_providers_and_small_sources_stay_in_process(
    make_settings: Callable[..., Settings],
) -> None:
    big_enough = make_settings(local_subprocess_min_bytes=1)
    too_small = make_settings(local_subprocess_min_bytes=10**9)
    claimed = _claimed(provider="local")

    assert offload.runs_in_child(claimed, big_enough)
    assert not offload.runs_in_child(claimed, too_small)
    assert not offload.runs_in_child(_claimed(provider="openai"), big_enough)
    assert not offload.runs_in_child(_claimed(sources=["missing.csv"]), big_enough)


def _claimed(provider: str = "local", sources: list[str] | None = None) -> Any:
    from persona.storage import ClaimedRun

    return ClaimedRun(
        run_id="run-1",
        experiment_id="exp-1",
        attempt=1,
        data_sources=sources or ["interviews.csv"],
        text_column=None,
        config=GenerationConfig(provider=provider),  # type: ignore[arg-type]
    )


async def test_runs_beyond_the_synthesis_slots_wait_for_a_child_to_end(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(local_subprocess_min_bytes=1, max_local_subprocesses=1)
    # A child of an earlier test in this process may still be exiting: count only this one's.
    earlier = {child.pid for child in _child_processes()}
    async with PersonaService(settings) as service:
        body = ExperimentCreate(
            name="study", data_sources=["interviews.csv"], config=GenerationConfig(seed=1)
        )
        experiment = await service.create_experiment(body)
        runs = [(await service.start_run(experiment.id)).run.id for _ in range(2)]
        most_at_once = 0
        while {await run_status(service, experiment.id, run) for run in runs} & {
            "queued",
            "running",
        }:
            ours = [child for child in _child_processes() if child.pid not in earlier]
            most_at_once = max(most_at_once, len(ours))
            await asyncio.sleep(0.02)
        stages = [
            [
                event.data.stage
                for event in (await service.list_run_events(experiment.id, run)).items
                if event.type == "run.progress"
            ]
            for run in runs
        ]
        statuses = [await run_status(service, experiment.id, run) for run in runs]

    assert statuses == ["succeeded", "succeeded"]
    assert most_at_once == 1
    assert sum("waiting for a synthesis process" in seen for seen in stages) == 1
