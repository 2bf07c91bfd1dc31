"""A new run's room in its experiment's budget, checked again in the transaction storing it."""

from __future__ import annotations

import pytest
from persona.errors import BudgetExceededError
from persona.schemas import RunError, Usage
from persona.storage import Repository
from persona.storage.rows import RunSpend
from persona.storage.spend import reserved_spend

from tests.server.storage._repository_cases import LOCAL, add_experiment

BUDGET = 1.0


def spend(reserved: float) -> RunSpend:
    return RunSpend(cap_usd=BUDGET, reserved_usd=reserved, limit_usd=BUDGET)


def test_active_runs_hold_their_reservation_and_a_run_that_no_longer_fits_is_not_stored(
    repo: Repository,
) -> None:
    experiment_id = add_experiment(repo)
    first, _ = repo.create_run(experiment_id, LOCAL, spend=spend(0.6))

    with pytest.raises(BudgetExceededError) as refused:
        repo.create_run(experiment_id, LOCAL, spend=spend(0.6))

    assert "$0.400000 of $1.000000" in refused.value.message
    assert "$0.600000 held by active runs" in refused.value.message
    assert [run.id for run in repo.list_runs(experiment_id).items] == [first.id]
    assert first.spend_cap_usd == BUDGET
    assert reserved_spend(repo, experiment_id) == pytest.approx(0.6)


def test_a_finished_run_holds_nothing_and_its_recorded_cost_counts_instead(
    repo: Repository,
) -> None:
    experiment_id = add_experiment(repo)
    run, _ = repo.create_run(experiment_id, LOCAL, spend=spend(0.6))
    claimed = repo.claim_run(run.id, owner="test", lease_seconds=30)
    assert claimed is not None and claimed.spend_cap_usd == BUDGET
    error = RunError(code="budget_exceeded", message="cap reached")
    repo.mark_failed(run.id, claimed.attempt, error, Usage(output_tokens=9, cost_usd=0.25))

    assert reserved_spend(repo, experiment_id) == 0.0
    assert repo.get_experiment(experiment_id).spent_usd == pytest.approx(0.25)
    repo.create_run(experiment_id, LOCAL, spend=spend(0.75))  # 0.75 of 1.0 - 0.25 fits
    with pytest.raises(BudgetExceededError):
        repo.create_run(experiment_id, LOCAL, spend=spend(0.01))


def test_a_run_without_a_budget_is_stored_whatever_is_held(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    repo.create_run(experiment_id, LOCAL, spend=spend(BUDGET))

    run, created = repo.create_run(experiment_id, LOCAL)

    assert created and run.spend_cap_usd is None
