"""Budgets: whether a run may start, what it may spend, and the guard that stops it there.

A budget is anything with a limit and a spend so far: an experiment's ``max_cost_usd`` (its
runs' recorded cost), or one a caller adds (an API key's). What is left excludes what active
runs reserve: the upper bounds of their estimates, since a run records its usage only when it
ends (otherwise a loop could queue a thousand runs against an untouched budget). A run starts
only when the upper bound of its estimate fits what is left of every budget that applies; it
may then spend the least that is left (its cap), which ``SpendGuard`` holds it to before each
provider request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from persona.errors import BudgetExceededError, ProviderError
from persona.schemas import Usage


def experiment_budget_name(experiment_id: str) -> str:
    return f"experiment {experiment_id}'s max_cost_usd"


@dataclass(frozen=True)
class Budget:
    """A spending limit and what has been spent against it, in USD."""

    name: str
    """Names it in errors, e.g. "experiment exp-123's max_cost_usd" or "key ci's max_cost_usd"."""
    limit_usd: float
    spent_usd: float
    """Recorded by finished runs."""
    reserved_usd: float = 0.0
    """Held by runs still queued or running: the upper bounds of their estimates."""

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.limit_usd - self.spent_usd - self.reserved_usd)


def spend_cap(budgets: Sequence[Budget], cost_max_usd: float | None, estimate: str) -> float:
    """What a run may spend: the least that is left of ``budgets`` (one at least).

    BudgetExceededError when ``cost_max_usd``, the upper bound of the run's estimate
    (described by ``estimate``), is unknown or exceeds what is left of any of them."""
    tightest = min(budgets, key=lambda budget: budget.remaining_usd)
    if cost_max_usd is None:
        raise BudgetExceededError(
            f"the run cannot be priced ({estimate}), so {tightest.name} cannot be kept; "
            "choose a model with a known price"
        )
    for budget in budgets:
        if cost_max_usd > budget.remaining_usd:
            raise BudgetExceededError(
                f"the run may cost up to ${cost_max_usd:.6f} ({estimate}), more than is left "
                f"of {budget.name}: ${budget.remaining_usd:.6f} of ${budget.limit_usd:.6f} "
                f"(${budget.spent_usd:.6f} spent, ${budget.reserved_usd:.6f} held by active runs)"
            )
    return tightest.remaining_usd


@dataclass(frozen=True)
class SpendGuard:
    """Stops a run's requests once its usage so far costs ``cap_usd``: ``check`` is called
    before each provider request, with ``usage`` giving the run's priced usage."""

    cap_usd: float
    usage: Callable[[], Usage]

    def check(self) -> None:
        spent = self.usage().cost_usd or 0.0
        if spent >= self.cap_usd:
            raise ProviderError(
                f"the run has spent ${spent:.6f}, reaching its cap of ${self.cap_usd:.6f} "
                "(the least that was left of its budgets when it started); no further request "
                "was sent",
                code="budget_exceeded",
            )
