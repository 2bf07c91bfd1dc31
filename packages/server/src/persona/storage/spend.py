"""An experiment's spend: what its runs recorded, and what its active runs hold of its budget.

A run's usage is recorded when it ends, so a queued or running run holds the upper bound of its
estimate instead. A new run's room is checked again in the transaction that stores it, under
the experiment's row lock: runs started at the same moment cannot all take the same room.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection

from persona.spend.budgets import Budget, experiment_budget_name, spend_cap
from persona.storage import queries
from persona.storage.rows import RunSpend

if TYPE_CHECKING:
    from persona.storage.repository import Repository


def experiment_spend(connection: Connection, experiment_id: str) -> tuple[float, float]:
    """(USD recorded as spent, USD held by active runs) of the experiment."""
    spent, reserved = connection.execute(
        queries.EXPERIMENT_SPEND, {"b_experiment": experiment_id}
    ).one()
    return float(spent), float(reserved)


def reserved_spend(repository: Repository, experiment_id: str) -> float:
    """USD the experiment's queued and running runs hold: the upper bounds of their estimates."""
    with repository.db.read() as session:
        return experiment_spend(session.connection(), experiment_id)[1]


def check_room(connection: Connection, experiment_id: str, spend: RunSpend) -> None:
    """BudgetExceededError when runs stored since the new run was checked leave its estimate
    no room in the experiment's budget any more; holds the experiment's row lock."""
    if spend.limit_usd is None:
        return
    connection.execute(queries.LOCK_EXPERIMENT, {"b_experiment": experiment_id})
    spent, reserved = experiment_spend(connection, experiment_id)
    budget = Budget(experiment_budget_name(experiment_id), spend.limit_usd, spent, reserved)
    spend_cap([budget], spend.reserved_usd, "as estimated when it was started")
