"""The repository: runs, their idempotency keys and group commits, on a real SQLite file."""

from __future__ import annotations

import functools

import pytest
from persona.errors import ConflictError, IdempotencyConflictError, NotFoundError
from persona.schemas import RunDetail, RunError, Usage
from persona.storage import Database, Repository
from sqlalchemy import text

from tests.server.storage._repository_cases import (
    LOCAL,
    add_experiment,
    failed_run,
    persona_content,
    succeeded_run,
)

# ---------------------------------------------------------------------- runs


def test_marking_a_run_succeeded_returns_it_as_a_read_gives_it_back(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run, _ = repo.create_run(experiment_id, LOCAL)
    claimed = repo.claim_run(run.id)
    assert claimed is not None

    stored = repo.mark_succeeded(
        run.id,
        claimed.attempt,
        [persona_content("Ada"), persona_content("Ben")],
        Usage(input_tokens=7),
    )

    assert stored is not None
    assert stored == repo.get_run(experiment_id, run.id)
    assert [p.name for p in stored.personas] == ["Ada", "Ben"]
    assert (stored.status, stored.usage.input_tokens) == ("succeeded", 7)


def test_a_new_run_is_queued_with_its_config(repo: Repository) -> None:
    experiment_id = add_experiment(repo)

    run, created = repo.create_run(experiment_id, LOCAL)

    assert created
    assert run.id.startswith("run-")
    assert (run.status, run.progress, run.attempts, run.error) == ("queued", 0.0, 0, None)
    assert run.config == LOCAL
    assert run.started_at is None and run.finished_at is None
    assert repo.get_run(experiment_id, run.id).model_dump(exclude={"personas"}) == run.model_dump()


def test_a_run_of_an_unknown_experiment_is_not_found(repo: Repository) -> None:
    with pytest.raises(NotFoundError):
        repo.create_run("exp-nope", LOCAL)
    with pytest.raises(NotFoundError):
        repo.list_runs("exp-nope")


def test_a_run_is_only_found_in_its_own_experiment(repo: Repository) -> None:
    first = add_experiment(repo, "exp-1")
    second = add_experiment(repo, "exp-2")
    run, _ = repo.create_run(first, LOCAL)

    with pytest.raises(NotFoundError, match=run.id):
        repo.get_run(second, run.id)
    with pytest.raises(NotFoundError):
        repo.cancel_run(second, run.id)


def test_claiming_moves_a_queued_run_to_running_once(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run, _ = repo.create_run(experiment_id, LOCAL)

    claimed = repo.claim_run(run.id)

    assert claimed is not None
    assert (claimed.attempt, claimed.data_sources, claimed.config) == (
        1,
        ["interviews.csv"],
        LOCAL,
    )
    stored = repo.get_run(experiment_id, run.id)
    assert (stored.status, stored.attempts) == ("running", 1)
    assert stored.started_at is not None
    assert repo.claim_run(run.id) is None
    assert repo.claim_run("run-missing") is None


def test_success_stores_the_personas_in_order_with_the_run(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run_id = succeeded_run(repo, experiment_id, ("Ada", "Ben", "Cy"))

    run = repo.get_run(experiment_id, run_id)

    assert run.status == "succeeded"
    assert (run.progress, run.usage.input_tokens) == (1.0, 3)
    assert run.finished_at is not None and run.finished_at >= (run.started_at or run.created_at)
    assert [p.name for p in run.personas] == ["Ada", "Ben", "Cy"]
    assert run.persona_ids == [p.id for p in run.personas]
    assert all(p.id.startswith("persona-") for p in run.personas)
    assert {(p.experiment_id, p.run_id) for p in run.personas} == {(experiment_id, run_id)}
    assert run.personas[0].quotes[0].text == "too many alerts"
    assert repo.get_persona(run.personas[1].id) == run.personas[1]
    listed = repo.list_runs(experiment_id).items[0]
    assert listed.persona_ids == run.persona_ids


def test_a_stale_attempt_writes_nothing(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run, _ = repo.create_run(experiment_id, LOCAL)
    claimed = repo.claim_run(run.id)
    assert claimed is not None
    repo.cancel_run(experiment_id, run.id)

    assert repo.mark_succeeded(run.id, claimed.attempt, [persona_content("Ada")], Usage()) is None
    assert not repo.mark_failed(run.id, claimed.attempt, RunError(code="x", message="y"))
    assert not repo.update_progress(run.id, claimed.attempt, 0.5, "late")
    stored = repo.get_run(experiment_id, run.id)
    assert (stored.status, stored.personas, stored.error) == ("cancelled", [], None)


def test_an_older_attempt_cannot_finish_a_reclaimed_run(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run, _ = repo.create_run(experiment_id, LOCAL)
    first = repo.claim_run(run.id)
    assert first is not None
    assert repo.recover_runs(max_attempts=3) == [run.id]
    second = repo.claim_run(run.id)
    assert second is not None and second.attempt == 2

    assert repo.mark_succeeded(run.id, first.attempt, [persona_content("Ada")], Usage()) is None
    assert (
        repo.mark_succeeded(run.id, second.attempt, [persona_content("Ben")], Usage()) is not None
    )
    assert [p.name for p in repo.get_run(experiment_id, run.id).personas] == ["Ben"]
    assert repo.mark_succeeded(run.id, second.attempt, [persona_content("Cy")], Usage()) is None


def test_progress_is_recorded_for_the_current_attempt(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run, _ = repo.create_run(experiment_id, LOCAL)
    claimed = repo.claim_run(run.id)
    assert claimed is not None

    assert repo.update_progress(run.id, claimed.attempt, 0.4, "clustering")

    stored = repo.get_run(experiment_id, run.id)
    assert (stored.progress, stored.stage) == (0.4, "clustering")


def test_failure_records_the_error(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run_id = failed_run(repo, experiment_id)

    run = repo.get_run(experiment_id, run_id)

    assert run.status == "failed"
    assert run.error is not None
    assert (run.error.code, run.error.message) == ("boom", "it broke")
    assert run.finished_at is not None


def test_a_failure_keeps_the_usage_the_attempt_was_billed(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run, _ = repo.create_run(experiment_id, LOCAL)
    claimed = repo.claim_run(run.id)
    assert claimed is not None
    spent = Usage(input_tokens=1200, output_tokens=300, cost_usd=0.0036)

    assert repo.mark_failed(run.id, claimed.attempt, RunError(code="x", message="y"), spent)

    assert repo.get_run(experiment_id, run.id).usage == spent
    assert repo.get_run(experiment_id, failed_run(repo, experiment_id)).usage == Usage()


def test_cancel_a_queued_or_running_run_but_not_a_finished_one(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    queued, _ = repo.create_run(experiment_id, LOCAL)
    running, _ = repo.create_run(experiment_id, LOCAL)
    repo.claim_run(running.id)

    assert repo.cancel_run(experiment_id, queued.id).status == "cancelled"
    cancelled = repo.cancel_run(experiment_id, running.id)
    assert cancelled.status == "cancelled"
    assert cancelled.finished_at is not None

    with pytest.raises(ConflictError, match="already cancelled"):
        repo.cancel_run(experiment_id, running.id)
    succeeded = succeeded_run(repo, experiment_id)
    with pytest.raises(ConflictError, match="already succeeded"):
        repo.cancel_run(experiment_id, succeeded)


def test_runs_are_paged_newest_first_and_filtered_by_status(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    other = add_experiment(repo, "exp-other")
    repo.create_run(other, LOCAL)
    queued = [repo.create_run(experiment_id, LOCAL)[0].id for _ in range(3)]
    failed = failed_run(repo, experiment_id)

    first = repo.list_runs(experiment_id, limit=3)
    second = repo.list_runs(experiment_id, limit=3, cursor=first.next_cursor)

    assert [r.id for r in first.items + second.items] == [failed, *reversed(queued)]
    assert second.next_cursor is None
    assert [r.id for r in repo.list_runs(experiment_id, status="failed").items] == [failed]
    assert repo.list_runs(experiment_id, status="succeeded").items == []


def test_recovery_requeues_unfinished_runs_and_gives_up_after_the_last_attempt(
    repo: Repository, db: Database
) -> None:
    experiment_id = add_experiment(repo)
    queued, _ = repo.create_run(experiment_id, LOCAL)
    running, _ = repo.create_run(experiment_id, LOCAL)
    repo.claim_run(running.id)
    exhausted, _ = repo.create_run(experiment_id, LOCAL)
    repo.claim_run(exhausted.id)
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE runs SET attempts = 3 WHERE id = :id"), {"id": exhausted.id}
        )
    finished = succeeded_run(repo, experiment_id)

    requeued = repo.recover_runs(max_attempts=3)

    assert requeued == [queued.id, running.id]
    assert repo.get_run(experiment_id, running.id).status == "queued"
    assert repo.get_run(experiment_id, running.id).attempts == 1
    gave_up = repo.get_run(experiment_id, exhausted.id)
    assert gave_up.status == "failed"
    assert gave_up.error is not None and gave_up.error.code == "interrupted"
    assert "3" in gave_up.error.message
    assert repo.get_run(experiment_id, finished).status == "succeeded"


def test_run_status(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    run, _ = repo.create_run(experiment_id, LOCAL)
    assert repo.run_status(run.id) == "queued"
    assert repo.run_status("run-nope") is None


# ---------------------------------------------------------------------- idempotency


def test_an_idempotency_key_replays_its_run_and_refuses_another_body(repo: Repository) -> None:
    experiment_id = add_experiment(repo)

    first, created = repo.create_run(experiment_id, LOCAL, idempotency=("key-1", "hash-a"))
    again, created_again = repo.create_run(experiment_id, LOCAL, idempotency=("key-1", "hash-a"))

    assert created and not created_again
    assert again.id == first.id
    assert repo.find_idempotent_run(experiment_id, "key-1") == ("hash-a", first)
    assert repo.find_idempotent_run(experiment_id, "key-2") is None
    with pytest.raises(IdempotencyConflictError, match="key-1"):
        repo.create_run(experiment_id, LOCAL, idempotency=("key-1", "hash-b"))
    assert len(repo.list_runs(experiment_id).items) == 1


def test_idempotency_keys_are_per_experiment(repo: Repository) -> None:
    first = add_experiment(repo, "exp-1")
    second = add_experiment(repo, "exp-2")

    a, _ = repo.create_run(first, LOCAL, idempotency=("same", "h"))
    b, created = repo.create_run(second, LOCAL, idempotency=("same", "h"))

    assert created and a.id != b.id


# ---------------------------------------------------------------------- group commit


def test_writes_together_commit_at_once_and_a_failing_one_rolls_back_alone(
    repo: Repository, db: Database
) -> None:
    experiment_id = add_experiment(repo)
    runs = [repo.create_run(experiment_id, LOCAL)[0] for _ in range(3)]
    first, second, third = (repo.claim_run(run.id) for run in runs)
    assert first is not None and second is not None and third is not None

    def half_written_then_broken() -> None:
        with db.write_connection() as connection:
            connection.execute(
                text("UPDATE runs SET stage = 'half' WHERE id = :id"), {"id": third.run_id}
            )
            raise ValueError("broke after writing")

    outcomes = db.write_together(
        [
            lambda: repo.mark_succeeded(
                first.run_id, first.attempt, [persona_content("Ada")], Usage()
            ),
            half_written_then_broken,
            lambda: repo.mark_failed(
                second.run_id, second.attempt, RunError(code="boom", message="it broke")
            ),
        ]
    )

    stored, broken, recorded = outcomes
    assert isinstance(stored, RunDetail) and len(stored.personas) == 1
    assert isinstance(broken, ValueError)
    assert recorded is True
    succeeded = repo.get_run(experiment_id, first.run_id)
    assert succeeded.status == "succeeded" and succeeded == stored
    assert repo.get_run(experiment_id, second.run_id).status == "failed"
    untouched = repo.get_run(experiment_id, third.run_id)
    assert untouched.status == "running" and untouched.stage != "half"


def test_writes_together_store_every_persona_and_the_experiment_changes_last_at_the_last(
    repo: Repository, db: Database
) -> None:
    experiment_id = add_experiment(repo)
    runs = [repo.create_run(experiment_id, LOCAL)[0] for _ in range(3)]
    claimed = [repo.claim_run(run.id) for run in runs]
    assert all(claim is not None for claim in claimed)

    outcomes = db.write_together(
        [
            functools.partial(
                repo.mark_succeeded,
                claim.run_id,
                claim.attempt,
                [persona_content(f"P{i}")] * 2,
                Usage(),
            )
            for i, claim in enumerate(claimed)
            if claim is not None
        ]
    )

    details = [outcome for outcome in outcomes if isinstance(outcome, RunDetail)]
    assert len(details) == 3
    for detail in details:
        assert repo.get_run(experiment_id, detail.id) == detail
        assert [
            p.id for p in repo.list_personas(experiment_id, limit=50).items if p.run_id == detail.id
        ]
    experiment = repo.get_experiment(experiment_id)
    assert experiment.personas_stored == 6
    assert experiment.updated_at == max(
        detail.finished_at for detail in details if detail.finished_at
    )


def test_an_orm_write_inside_a_batch_is_refused_rather_than_deadlocking(
    repo: Repository, db: Database
) -> None:
    def orm_write() -> None:
        with db.write():
            pass

    (outcome,) = db.write_together([orm_write])

    assert isinstance(outcome, RuntimeError)
