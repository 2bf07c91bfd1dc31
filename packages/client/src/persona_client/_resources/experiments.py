"""Experiments: create, list, get, delete, estimate, privacy preview and events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from persona_client import _operations as ops
from persona_client._resources._resource import (
    _apaginate,
    _apaginate_after,
    _AsyncResource,
    _paginate,
    _paginate_after,
    _Resource,
)
from persona_client._streams import RunEvent
from persona_client.models import (
    Experiment,
    ExperimentEventPage,
    ExperimentPage,
    GenerationConfig,
    PrivacyPreview,
    RunEstimate,
)


class Experiments(_Resource):
    def list(
        self, *, name: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> ExperimentPage:
        """One page, newest first; pass ``next_cursor`` back as ``cursor`` for the next. With
        ``name``, only the experiments whose name holds it (any case)."""
        return self._request(ops.list_experiments(name=name, limit=limit, cursor=cursor))

    def iter(
        self, *, name: str | None = None, page_size: int | None = None
    ) -> Iterator[Experiment]:
        """Every experiment (whose name holds ``name``), newest first, fetching pages of
        ``page_size`` as it goes."""
        return _paginate(lambda cursor: self.list(name=name, limit=page_size, cursor=cursor))

    def create(
        self,
        *,
        name: str,
        data_sources: Sequence[ops.DataSource],
        config: GenerationConfig | Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> Experiment:
        """Create an experiment; ``data_sources`` are server-side paths or inline sources."""
        operation = ops.create_experiment(
            name=name, data_sources=data_sources, config=config, description=description
        )
        return self._request(operation)

    def get(self, experiment_id: str) -> Experiment:
        return self._request(ops.get_experiment(experiment_id))

    def delete(self, experiment_id: str) -> None:
        """Delete the experiment with its runs and personas, cancelling active runs."""
        self._request(ops.delete_experiment(experiment_id))

    def estimate(
        self,
        experiment_id: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        persona_count: int | None = None,
    ) -> RunEstimate:
        """What a run (with these overrides) would send and may cost, and the budgets it
        would be checked against; nothing is sent to a provider."""
        overrides = {"provider": provider, "model": model, "persona_count": persona_count}
        return self._request(ops.estimate_run(experiment_id, overrides))

    def preview_privacy(
        self,
        experiment_id: str,
        *,
        evidence_id: str | None = None,
        limit: int | None = None,
        provider: str | None = None,
    ) -> PrivacyPreview:
        """Exactly what ``provider`` (default: the experiment's) would receive for the first
        ``limit`` records, or the record ``evidence_id``, and what a run would replace."""
        operation = ops.preview_privacy(
            experiment_id, evidence_id=evidence_id, limit=limit, provider=provider
        )
        return self._request(operation)

    def list_events(
        self, experiment_id: str, *, after: str | None = None, limit: int | None = None
    ) -> ExperimentEventPage:
        """One page of the events of all the experiment's runs, in the order they happened,
        after the event whose key (``{run_id}:{id}``) is ``after``; pass ``next_after`` back
        as ``after`` for the next."""
        operation = ops.list_experiment_events(experiment_id, after=after, limit=limit)
        return self._request(operation)

    def iter_events(
        self, experiment_id: str, *, after: str | None = None, page_size: int | None = None
    ) -> Iterator[RunEvent]:
        """Every event of the experiment's runs stored so far (after ``after``), page after
        page."""
        return _paginate_after(
            lambda next_after: self.list_events(
                experiment_id, after=after if next_after is None else next_after, limit=page_size
            )
        )


class AsyncExperiments(_AsyncResource):
    async def list(
        self, *, name: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> ExperimentPage:
        """One page, newest first; pass ``next_cursor`` back as ``cursor`` for the next. With
        ``name``, only the experiments whose name holds it (any case)."""
        return await self._request(ops.list_experiments(name=name, limit=limit, cursor=cursor))

    def iter(
        self, *, name: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[Experiment]:
        """Every experiment (whose name holds ``name``), newest first, fetching pages of
        ``page_size`` as it goes."""
        return _apaginate(lambda cursor: self.list(name=name, limit=page_size, cursor=cursor))

    async def create(
        self,
        *,
        name: str,
        data_sources: Sequence[ops.DataSource],
        config: GenerationConfig | Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> Experiment:
        """Create an experiment; ``data_sources`` are server-side paths or inline sources."""
        operation = ops.create_experiment(
            name=name, data_sources=data_sources, config=config, description=description
        )
        return await self._request(operation)

    async def get(self, experiment_id: str) -> Experiment:
        return await self._request(ops.get_experiment(experiment_id))

    async def delete(self, experiment_id: str) -> None:
        """Delete the experiment with its runs and personas, cancelling active runs."""
        await self._request(ops.delete_experiment(experiment_id))

    async def estimate(
        self,
        experiment_id: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        persona_count: int | None = None,
    ) -> RunEstimate:
        """What a run would send and may cost; see ``Experiments.estimate``."""
        overrides = {"provider": provider, "model": model, "persona_count": persona_count}
        return await self._request(ops.estimate_run(experiment_id, overrides))

    async def preview_privacy(
        self,
        experiment_id: str,
        *,
        evidence_id: str | None = None,
        limit: int | None = None,
        provider: str | None = None,
    ) -> PrivacyPreview:
        """What a provider would receive; see ``Experiments.preview_privacy``."""
        operation = ops.preview_privacy(
            experiment_id, evidence_id=evidence_id, limit=limit, provider=provider
        )
        return await self._request(operation)

    async def list_events(
        self, experiment_id: str, *, after: str | None = None, limit: int | None = None
    ) -> ExperimentEventPage:
        """One page of the experiment's events; see ``Experiments.list_events``."""
        operation = ops.list_experiment_events(experiment_id, after=after, limit=limit)
        return await self._request(operation)

    def iter_events(
        self, experiment_id: str, *, after: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[RunEvent]:
        """Every event of the experiment's runs stored so far; see ``Experiments.iter_events``."""
        return _apaginate_after(
            lambda next_after: self.list_events(
                experiment_id, after=after if next_after is None else next_after, limit=page_size
            )
        )
