"""Run events: each state change of a run stores its event in the same transaction, numbered
one after another per run, and the events go with their experiment."""

from __future__ import annotations

from persona.schemas import (
    Grounding,
    Insight,
    PersonaContent,
    Quote,
    ResolvedConfig,
    RunError,
    Usage,
)
from persona.storage import Repository

LOCAL = ResolvedConfig(provider="local", persona_count=2)


def _queued_run(repo: Repository, experiment_id: str = "exp-1") -> str:
    repo.create_experiment(
        experiment_id=experiment_id,
        name="study",
        description=None,
        data_sources=["interviews.csv"],
        config=LOCAL,
    )
    run, _ = repo.create_run(experiment_id, LOCAL)
    return run.id


def _content(name: str) -> PersonaContent:
    return PersonaContent(
        name=name,
        title="Ops lead",
        demographics={"role": "ops"},
        goals=[Insight(text="fewer alerts", evidence_ids=["ev-1"])],
        quotes=[Quote(text="too many alerts", evidence_ids=["ev-1"], verified=True)],
        evidence_ids=["ev-1"],
        grounding=Grounding(quotes_verified=1, insights_supported=1),
    )


def _types(repo: Repository, run_id: str) -> list[str]:
    return [event.type for event in repo.run_events(run_id)]


def test_a_started_and_failed_run_has_its_events_in_order(repo: Repository) -> None:
    run_id = _queued_run(repo)
    claimed = repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    assert claimed is not None
    assert repo.mark_failed(run_id, claimed.attempt, RunError(code="provider", message="down"))

    events = repo.run_events(run_id)

    assert [event.type for event in events] == ["run.queued", "run.started", "run.failed"]
    assert [event.seq for event in events] == [1, 2, 3]
    assert events[1].payload == {"attempt": 1}
    assert events[2].payload == {"code": "provider", "message": "down"}
    assert all(event.experiment_id == "exp-1" for event in events)
    assert events[0].created_at <= events[1].created_at <= events[2].created_at


def test_a_stale_attempt_writes_no_event(repo: Repository) -> None:
    run_id = _queued_run(repo)
    claimed = repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    assert claimed is not None
    repo.cancel_run("exp-1", run_id)

    assert not repo.mark_failed(run_id, claimed.attempt, RunError(code="x", message="late"))

    assert _types(repo, run_id) == ["run.queued", "run.started", "run.cancelled"]


def test_a_succeeded_run_event_names_its_personas_and_usage(repo: Repository) -> None:
    run_id = _queued_run(repo)
    claimed = repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    assert claimed is not None
    usage = Usage(input_tokens=10, output_tokens=5)
    detail = repo.mark_succeeded(run_id, claimed.attempt, [_content("Ada"), _content("Ben")], usage)
    assert detail is not None

    last = repo.run_events(run_id)[-1]

    assert last.type == "run.succeeded"
    assert last.payload["persona_ids"] == [persona.id for persona in detail.personas]
    assert last.payload["usage"]["input_tokens"] == 10


def test_reading_after_an_event_resumes_after_it(repo: Repository) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    repo.cancel_run("exp-1", run_id)

    assert [event.seq for event in repo.run_events(run_id, after=1)] == [2, 3]
    assert repo.run_events(run_id, after=3) == []


def test_an_interrupted_run_out_of_attempts_fails_with_an_event(repo: Repository) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id)  # no owner: no lease, as if its process had died

    assert repo.recover_runs(max_attempts=1) == []

    events = repo.run_events(run_id)
    assert [event.type for event in events] == ["run.queued", "run.started", "run.failed"]
    assert events[-1].payload["code"] == "interrupted"


def test_an_interrupted_run_queued_again_records_it(repo: Repository) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id)

    assert repo.recover_runs(max_attempts=3) == [run_id]

    assert _types(repo, run_id) == ["run.queued", "run.started", "run.queued"]


def test_deleting_the_experiment_deletes_its_events(repo: Repository) -> None:
    kept = _queued_run(repo, "exp-kept")
    gone = _queued_run(repo, "exp-gone")

    repo.delete_experiment("exp-gone")

    assert repo.run_events(gone) == []
    assert _types(repo, kept) == ["run.queued"]


def test_progress_is_an_event_with_its_stage_and_fraction(repo: Repository) -> None:
    run_id = _queued_run(repo)
    claimed = repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    assert claimed is not None

    assert repo.update_progress(run_id, claimed.attempt, 0.25, "generating")

    last = repo.run_events(run_id)[-1]
    assert (last.type, last.payload) == ("run.progress", {"stage": "generating", "progress": 0.25})


def test_progress_of_a_stale_attempt_is_no_event(repo: Repository) -> None:
    run_id = _queued_run(repo)
    claimed = repo.claim_run(run_id, owner="runner-a", lease_seconds=30)
    assert claimed is not None
    repo.cancel_run("exp-1", run_id)

    assert not repo.update_progress(run_id, claimed.attempt, 0.5, "generating")

    assert _types(repo, run_id)[-1] == "run.cancelled"
