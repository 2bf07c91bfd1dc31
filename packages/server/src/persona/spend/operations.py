"""The service's spend side: a run's estimate, and the budget check before a run starts.

A mixin of ``PersonaService``, like ``persona.push``: it reaches the started service only
through ``_call`` and ``_repository``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from persona.providers import build_provider
from persona.runs.config import effective_config, require_known_provider
from persona.schemas import Evidence, Experiment, GenerationOverrides, ResolvedConfig
from persona.service_parts import ServiceParts
from persona.sources import iter_evidence
from persona.sources.roles import RoleAssigner
from persona.spend.budgets import Budget, experiment_budget_name, spend_cap
from persona.spend.estimate import chat_estimate, described, offline_estimate
from persona.spend.schemas import RunEstimate
from persona.storage.rows import RunSpend
from persona.storage.sources import experiment_text_column
from persona.storage.spend import reserved_spend


class SpendOperations(ServiceParts):
    if TYPE_CHECKING:

        async def get_experiment(self, experiment_id: str) -> Experiment: ...

    async def estimate_run(
        self,
        experiment_id: str,
        overrides: GenerationOverrides | None = None,
        *,
        budgets: Sequence[Budget] = (),
    ) -> RunEstimate:
        """What a run of the experiment (its config with ``overrides``) would send and may
        cost, with the budgets it would be checked against (the experiment's and ``budgets``).
        Reads the sources; sends nothing. An LLM provider must be configured, as to run."""
        experiment = await self.get_experiment(experiment_id)
        config = effective_config(experiment.config, overrides, self.settings.default_provider)
        require_known_provider(config.provider, ["provider"])
        applying = await self._budgets(experiment, budgets)
        return await self._estimate(experiment, config, applying)

    async def _run_spend(
        self, experiment: Experiment, config: ResolvedConfig, budgets: Sequence[Budget]
    ) -> RunSpend | None:
        """What a run of ``config`` may spend and reserves: None when no budget applies; else
        the least left of them and its estimate's upper bound, once that fits every one
        (BudgetExceededError when not)."""
        applying = await self._budgets(experiment, budgets)
        if not applying:
            return None
        estimate = await self._estimate(experiment, config, applying)
        cap = spend_cap(applying, estimate.cost_usd_max, described(estimate))
        limit = experiment.config.max_cost_usd
        return RunSpend(cap_usd=cap, reserved_usd=estimate.cost_usd_max or 0.0, limit_usd=limit)

    async def _budgets(self, experiment: Experiment, extra: Sequence[Budget]) -> list[Budget]:
        """The experiment's own budget (its config's ``max_cost_usd``), if any, and ``extra``."""
        limit = experiment.config.max_cost_usd
        if limit is None:
            return list(extra)
        reserved = await self._call(reserved_spend, self._repository, experiment.id)
        name = experiment_budget_name(experiment.id)
        return [Budget(name, limit, experiment.spent_usd, reserved), *extra]

    async def _estimate(
        self, experiment: Experiment, config: ResolvedConfig, budgets: Sequence[Budget]
    ) -> RunEstimate:
        if config.provider == "local":
            return offline_estimate(config, budgets)
        provider = build_provider(config.provider, self.settings)
        try:
            evidence = await self._evidence(experiment, config)
            return await asyncio.to_thread(chat_estimate, provider, evidence, config, budgets)
        finally:
            await provider.aclose()

    async def _evidence(self, experiment: Experiment, config: ResolvedConfig) -> list[Evidence]:
        """The records a run of ``config`` would read, as it would read them."""
        columns = config.columns
        text_column = columns.text if columns and columns.text else None
        if text_column is None:
            text_column = await self._call(experiment_text_column, self._repository, experiment.id)
        records = iter_evidence(
            experiment.data_sources,
            data_dir=self.settings.data_dir,
            text_column=text_column,
            max_total_bytes=self.settings.max_source_bytes,
            max_folder_files=self.settings.max_folder_files,
        )
        roles = RoleAssigner(columns)
        return await asyncio.to_thread(lambda: list(roles.assign(records)))
