"""The service's privacy operations: a mixin of ``PersonaService`` (like ``persona.push``),
reaching the started service only through ``_call`` and ``_started``."""

from __future__ import annotations

import asyncio

from persona.privacy.preview import chosen, preview_records
from persona.privacy.schemas import PrivacyPreview, PrivacyPreviewRequest
from persona.runs.privacy import privacy_view
from persona.schemas import Evidence, Experiment
from persona.service_parts import ServiceParts
from persona.sources import iter_evidence
from persona.sources.roles import RoleAssigner
from persona.storage.sources import experiment_text_column


class PrivacyOperations(ServiceParts):
    async def preview_privacy(
        self, experiment_id: str, request: PrivacyPreviewRequest | None = None
    ) -> PrivacyPreview:
        """What a provider would receive for a few of the experiment's records (or the one
        asked for): pseudonymised as a run would pseudonymise them, and the report over all
        of its evidence. New pseudonyms are stored, so the next run sends the same."""
        request = request or PrivacyPreviewRequest()
        repository = self._repository
        experiment = await self._call(repository.get_experiment, experiment_id)
        text_column = await self._call(experiment_text_column, repository, experiment_id)
        evidence = await asyncio.to_thread(self._read_evidence, experiment, text_column)
        config = experiment.config
        if request.provider is not None:
            config = config.model_copy(update={"provider": request.provider})
        positions = chosen(evidence, request)
        view, report = await privacy_view(
            repository,
            self._started.writes,
            experiment_id,
            config,
            evidence,
            self.settings.data_dir,
        )
        sent = evidence if view is None else view.evidence
        return PrivacyPreview(
            provider=config.provider,
            report=report,
            records=preview_records(evidence, sent, positions),
        )

    def _read_evidence(self, experiment: Experiment, text_column: str | None) -> list[Evidence]:
        """The experiment's records as its next run reads them."""
        columns = experiment.config.columns
        records = iter_evidence(
            experiment.data_sources,
            data_dir=self.settings.data_dir,
            text_column=columns.text if columns and columns.text else text_column,
            max_total_bytes=self.settings.max_source_bytes,
            max_folder_files=self.settings.max_folder_files,
        )
        return list(RoleAssigner(columns).assign(records))
