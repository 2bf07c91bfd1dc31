"""The runner through the service: transitions, failures, concurrency, cancel, restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from persona.errors import InsufficientEvidenceError, ProviderError, SourceError
from persona.schemas import ExperimentCreate, GenerationConfig, ResolvedConfig
from persona.service import PersonaService
from persona.settings import Settings

from tests.server._runner_cases import experiment_body, run_at_stage, run_status, started_run

if TYPE_CHECKING:
    from tests.server.conftest import ScriptedProvider, WaitUntil


# ---------------------------------------------------------------------- success


async def test_a_run_goes_from_queued_to_succeeded_with_every_transition_stored(
    service: PersonaService, scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    scripted.hold = asyncio.Event()
    experiment_id, run_id = await started_run(service, persona_count=2)

    await scripted.started.wait()
    # The run does not wait for its progress to be committed: wait for it here.
    await wait_until(lambda: run_at_stage(service, experiment_id, run_id, "thinking"))
    running = await service.get_run(experiment_id, run_id)
    scripted.hold.set()
    done = await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert running.status == "running"
    assert running.attempts == 1
    assert running.started_at is not None
    assert running.stage == "thinking"
    assert 0.1 < running.progress < 1
    assert done.status == "succeeded"
    assert (done.progress, done.stage, done.error) == (1.0, "done", None)
    assert done.finished_at is not None and done.started_at is not None
    assert done.finished_at >= done.started_at >= done.created_at
    assert (done.usage.input_tokens, done.usage.output_tokens, done.usage.cost_usd) == (
        120,
        45,
        0.01,
    )
    assert [p.name for p in done.personas] == ["Persona 1", "Persona 2"]
    assert done.persona_ids == [p.id for p in done.personas]
    await service.aclose()
    assert scripted.closed == 1


async def test_stored_personas_are_grounded_against_the_evidence(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment_id, run_id = await started_run(service, persona_count=1)

    persona = (await service.wait_for_run(experiment_id, run_id, timeout=30)).personas[0]

    real, invented = persona.quotes
    assert real.verified is True
    assert invented.verified is False  # the provider claimed it; the evidence does not say it
    assert invented.evidence_ids == [real.evidence_ids[0]]
    assert invented.match == "none"
    assert persona.dropped_evidence_ids == 1
    assert persona.grounding.score == 0.5
    assert (persona.grounding.quotes_verified, persona.grounding.quotes_unverified) == (1, 1)


async def test_runs_share_one_provider_closed_when_the_service_stops(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body())
    started = [await service.start_run(experiment.id) for _ in range(3)]
    done = [await service.wait_for_run(experiment.id, s.run.id, timeout=30) for s in started]
    closed_while_serving = scripted.closed

    await service.aclose()

    assert [run.status for run in done] == ["succeeded"] * 3
    assert scripted.calls == 3
    assert (closed_while_serving, scripted.closed) == (0, 1)


async def test_the_provider_gets_the_effective_config(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment_id, run_id = await started_run(service, persona_count=4, seed=11)

    await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert scripted.seen_configs == [ResolvedConfig(provider="local", persona_count=4, seed=11)]


async def test_progress_updates_are_throttled_within_a_stage(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider
) -> None:
    scripted.progress_steps = [(i / 200, "crunching") for i in range(200)]
    async with PersonaService(make_settings()) as service:
        experiment_id, run_id = await started_run(service)
        done = await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert done.status == "succeeded"
    assert done.progress == 1.0


# ---------------------------------------------------------------------- failures


async def test_a_provider_error_is_recorded_with_its_code(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    scripted.error = ProviderError("the API key was rejected", code="provider_auth", status=401)
    experiment_id, run_id = await started_run(service)

    run = await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert run.status == "failed"
    assert run.error is not None
    assert (run.error.code, run.error.message) == ("provider_auth", "the API key was rejected")
    assert run.personas == [] and run.persona_ids == []
    await service.aclose()
    assert scripted.closed == 1


async def test_raw_output_of_an_invalid_response_is_saved_and_named(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    scripted.error = ProviderError(
        "the model's answer is not valid JSON", code="invalid_output", raw_output="{not json"
    )
    experiment_id, run_id = await started_run(service)

    run = await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert run.error is not None and run.error.code == "invalid_output"
    saved = service.settings.state_dir / "runs" / run_id / "raw_output.txt"
    assert saved.read_text(encoding="utf-8") == "{not json"
    assert f".persona/runs/{run_id}/raw_output.txt" in run.error.message
    assert run.error.message.startswith("the model's answer is not valid JSON")


async def test_raw_output_that_cannot_be_saved_still_fails_the_run_cleanly(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    scripted.error = ProviderError("bad answer", code="invalid_output", raw_output="x")
    (service.settings.state_dir / "runs").parent.mkdir(parents=True, exist_ok=True)
    (service.settings.state_dir / "runs").write_text("a file where a folder should be")
    experiment_id, run_id = await started_run(service)

    run = await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert run.error is not None
    assert (run.error.code, run.error.message) == ("invalid_output", "bad answer")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InsufficientEvidenceError("found 2 participants, need 3"), "insufficient_evidence"),
        (SourceError("interviews.csv", "row 4: undecodable bytes"), "invalid_source"),
    ],
)
async def test_input_errors_fail_the_run_with_their_code(
    service: PersonaService, scripted: ScriptedProvider, error: Exception, code: str
) -> None:
    scripted.error = error
    experiment_id, run_id = await started_run(service)

    run = await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert run.error is not None
    assert (run.error.code, run.error.message) == (code, str(error))


async def test_an_unexpected_exception_is_an_internal_error_without_a_stack_trace(
    service: PersonaService, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.error = ZeroDivisionError("division by zero in /secret/path.py")
    experiment_id, run_id = await started_run(service)

    with caplog.at_level(logging.ERROR, logger="persona.runs.executor"):
        run = await service.wait_for_run(experiment_id, run_id, timeout=30)

    assert run.error is not None
    assert run.error.code == "internal_error"
    assert "ZeroDivisionError" in run.error.message
    assert "/secret/path.py" not in run.error.message
    assert "Traceback" not in run.error.message
    assert any(record.exc_info for record in caplog.records)


async def test_a_source_deleted_after_creation_fails_the_run_naming_it(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body())
    (service.settings.data_dir / "interviews.csv").unlink()

    started = await service.start_run(experiment.id)
    run = await service.wait_for_run(experiment.id, started.run.id, timeout=30)

    assert run.error is not None
    assert run.error.code == "invalid_source"
    assert "interviews.csv" in run.error.message
    assert scripted.calls == 0


async def test_the_real_local_provider_reports_too_few_participants(
    service: PersonaService,
) -> None:
    experiment = await service.create_experiment(
        ExperimentCreate(
            name="tiny",
            data_sources=["notes.md"],
            config=GenerationConfig(provider="local", persona_count=5),
        )
    )
    started = await service.start_run(experiment.id)

    run = await service.wait_for_run(experiment.id, started.run.id, timeout=60)

    assert run.status == "failed"
    assert run.error is not None and run.error.code == "insufficient_evidence"
    assert (await service.get_experiment(experiment.id)).status == "failed"


# ---------------------------------------------------------------------- concurrency


async def test_no_more_runs_than_the_limit_execute_at_once(
    make_settings: Callable[..., Settings], scripted: ScriptedProvider, wait_until: WaitUntil
) -> None:
    scripted.hold = asyncio.Event()
    async with PersonaService(make_settings(max_concurrent_runs=2)) as service:
        experiment = await service.create_experiment(experiment_body())
        run_ids = [(await service.start_run(experiment.id)).run.id for _ in range(4)]

        async def statuses() -> list[str]:
            return [await run_status(service, experiment.id, r) for r in run_ids]

        await wait_until(lambda: scripted.calls == 2)
        await asyncio.sleep(0.2)  # give a third run the chance to start, were it allowed to
        waiting = await statuses()
        scripted.hold.set()
        finished = [await service.wait_for_run(experiment.id, r, timeout=30) for r in run_ids]

    assert sorted(waiting) == ["queued", "queued", "running", "running"]
    assert scripted.calls == 4
    assert [r.status for r in finished] == ["succeeded"] * 4


# On PostgreSQL each start commits on its own, so the runs' slots spread over more time than
# one read takes: whether they share it is timing, not behaviour (a saving, not a guarantee).
@pytest.mark.sqlite_only
async def test_runs_started_together_share_one_read_of_their_sources(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    runs = service.settings.max_concurrent_runs  # each gets a slot at once
    experiment = await service.create_experiment(experiment_body())
    started = await asyncio.gather(*(service.start_run(experiment.id) for _ in range(runs)))

    done = [await service.wait_for_run(experiment.id, s.run.id, timeout=30) for s in started]

    assert [run.status for run in done] == ["succeeded"] * runs
    assert len(scripted.seen_evidence) == runs > 1
    assert len({id(evidence) for evidence in scripted.seen_evidence}) == 1


async def test_a_run_started_after_its_source_changed_reads_it_again(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body())
    first = await service.start_run(experiment.id)
    await service.wait_for_run(experiment.id, first.run.id, timeout=30)
    source = service.settings.data_dir / "interviews.csv"
    source.write_text("participant,response\nP9,A rewritten answer about invoices\n")

    second = await service.start_run(experiment.id)
    await service.wait_for_run(experiment.id, second.run.id, timeout=30)

    before, after = scripted.seen_evidence
    assert len(before) > 1
    assert [item.text for item in after] == ["A rewritten answer about invoices"]


async def test_runs_sharing_a_read_that_fails_all_fail_with_its_error(
    service: PersonaService, scripted: ScriptedProvider
) -> None:
    experiment = await service.create_experiment(experiment_body())
    (service.settings.data_dir / "interviews.csv").unlink()

    started = await asyncio.gather(*(service.start_run(experiment.id) for _ in range(3)))
    done = [await service.wait_for_run(experiment.id, s.run.id, timeout=30) for s in started]

    assert {(run.status, run.error.code if run.error else None) for run in done} == {
        ("failed", "invalid_source")
    }
    assert scripted.calls == 0
