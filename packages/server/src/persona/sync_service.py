"""``SyncPersonaService``: the SDK facade for scripts, blocking."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from persona.privacy.schemas import PrivacyPreview, PrivacyPreviewRequest
from persona.schemas import (
    CitedEvidencePage,
    Evidence,
    EvidencePage,
    Experiment,
    ExperimentCreate,
    ExperimentPage,
    ExperimentSourceList,
    GenerationOverrides,
    Health,
    Persona,
    PersonaPage,
    ProviderInfo,
    Run,
    RunDetail,
    RunPage,
    RunStatus,
)
from persona.service import PersonaService, StartedRun
from persona.settings import Settings
from persona.sources.uploads import UploadedFile
from persona.spend.budgets import Budget
from persona.spend.schemas import RunEstimate
from persona.storage.evidence import NO_FILTER, EvidenceFilter

T = TypeVar("T")


class SyncPersonaService:
    """``PersonaService`` for scripts: the same methods, blocking.

    The service lives on a private event loop in a background thread, so runs keep going
    between calls. Use it as a context manager, or call ``close()`` at the end.

        with SyncPersonaService(Settings(data_dir="research")) as svc:
            exp = svc.create_experiment(ExperimentCreate(name="Q3", data_sources=["a.csv"]))
            run = svc.wait_for_run(exp.id, svc.start_run(exp.id).run.id)
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="persona-service", daemon=True
        )
        self._thread.start()
        self._service = PersonaService(settings)
        try:
            self._run(self._service.start())
        except BaseException:
            self._stop_loop()
            raise

    @property
    def settings(self) -> Settings:
        return self._service.settings

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("this SyncPersonaService was closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Stop the runner (active runs stay re-queueable) and the background loop."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._service.aclose())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        asyncio.run_coroutine_threadsafe(
            self._loop.shutdown_default_executor(), self._loop
        ).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SyncPersonaService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_experiment(
        self, data: ExperimentCreate, *, text_column: str | None = None
    ) -> Experiment:
        return self._run(self._service.create_experiment(data, text_column=text_column))

    def list_experiments(
        self, *, name: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> ExperimentPage:
        return self._run(self._service.list_experiments(name=name, limit=limit, cursor=cursor))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._run(self._service.get_experiment(experiment_id))

    def delete_experiment(self, experiment_id: str) -> None:
        self._run(self._service.delete_experiment(experiment_id))

    def upload_sources(self, experiment_id: str, files: Sequence[UploadedFile]) -> Experiment:
        return self._run(self._service.upload_sources(experiment_id, files))

    def list_sources(self, experiment_id: str) -> ExperimentSourceList:
        return self._run(self._service.list_sources(experiment_id))

    def delete_source(self, experiment_id: str, name: str) -> Experiment:
        return self._run(self._service.delete_source(experiment_id, name))

    def preview_privacy(
        self, experiment_id: str, request: PrivacyPreviewRequest | None = None
    ) -> PrivacyPreview:
        return self._run(self._service.preview_privacy(experiment_id, request))

    def start_run(
        self,
        experiment_id: str,
        overrides: GenerationOverrides | None = None,
        *,
        idempotency_key: str | None = None,
        budgets: Sequence[Budget] = (),
    ) -> StartedRun:
        return self._run(
            self._service.start_run(
                experiment_id, overrides, idempotency_key=idempotency_key, budgets=budgets
            )
        )

    def estimate_run(
        self,
        experiment_id: str,
        overrides: GenerationOverrides | None = None,
        *,
        budgets: Sequence[Budget] = (),
    ) -> RunEstimate:
        return self._run(self._service.estimate_run(experiment_id, overrides, budgets=budgets))

    def list_runs(
        self,
        experiment_id: str,
        *,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        return self._run(
            self._service.list_runs(experiment_id, status=status, limit=limit, cursor=cursor)
        )

    def get_run(self, experiment_id: str, run_id: str) -> RunDetail:
        return self._run(self._service.get_run(experiment_id, run_id))

    def cancel_run(self, experiment_id: str, run_id: str) -> Run:
        return self._run(self._service.cancel_run(experiment_id, run_id))

    def wait_for_run(
        self, experiment_id: str, run_id: str, *, timeout: float | None = None
    ) -> RunDetail:
        return self._run(self._service.wait_for_run(experiment_id, run_id, timeout=timeout))

    def get_persona(self, persona_id: str) -> Persona:
        return self._run(self._service.get_persona(persona_id))

    def get_persona_markdown(self, persona_id: str) -> str:
        return self._run(self._service.get_persona_markdown(persona_id))

    def get_persona_html(self, persona_id: str) -> str:
        return self._run(self._service.get_persona_html(persona_id))

    def list_personas(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        latest: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> PersonaPage:
        return self._run(
            self._service.list_personas(
                experiment_id, run_id=run_id, latest=latest, limit=limit, cursor=cursor
            )
        )

    def list_run_evidence(
        self,
        experiment_id: str,
        run_id: str,
        where: EvidenceFilter = NO_FILTER,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> EvidencePage:
        return self._run(
            self._service.list_run_evidence(
                experiment_id, run_id, where, limit=limit, cursor=cursor
            )
        )

    def get_run_evidence(self, run_id: str, evidence_id: str) -> Evidence:
        return self._run(self._service.get_run_evidence(run_id, evidence_id))

    def list_persona_evidence(
        self, persona_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> CitedEvidencePage:
        return self._run(
            self._service.list_persona_evidence(persona_id, limit=limit, cursor=cursor)
        )

    def list_providers(self) -> list[ProviderInfo]:
        return self._service.list_providers()

    def get_health(self) -> Health:
        return self._run(self._service.get_health())
