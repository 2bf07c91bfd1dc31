"""The SDK facade: experiments, runs and personas. The API and the CLI call only this.

``PersonaService`` is async; ``SyncPersonaService`` wraps it for scripts.

    async with PersonaService(Settings(data_dir="research")) as svc:
        exp = await svc.create_experiment(ExperimentCreate(name="Q3", data_sources=["interviews.csv"]))
        run = await svc.start_run(exp.id)
        run = await svc.wait_for_run(exp.id, run.id)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from persona.schemas import (
    Experiment,
    ExperimentCreate,
    ExperimentPage,
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
from persona.settings import Settings


@dataclass
class UploadedFile:
    """A file sent to ``add_sources``: its name and a readable binary stream."""

    filename: str
    stream: BinaryIO


@dataclass
class StartedRun:
    run: Run
    created: bool
    """False when an idempotency key matched an earlier request: ``run`` is that earlier run."""


class PersonaService:
    """Owns the database, the runner and the providers for one data directory."""

    def __init__(self, settings: Settings | None = None) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        """Apply migrations, start the runner, re-queue runs a previous process left behind."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Stop the runner (active runs stay re-queueable) and dispose of the engine."""
        raise NotImplementedError

    async def __aenter__(self) -> PersonaService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # experiments
    async def create_experiment(self, data: ExperimentCreate) -> Experiment:
        raise NotImplementedError

    async def list_experiments(self, *, limit: int = 50, cursor: str | None = None) -> ExperimentPage:
        raise NotImplementedError

    async def get_experiment(self, experiment_id: str) -> Experiment:
        raise NotImplementedError

    async def delete_experiment(self, experiment_id: str) -> None:
        raise NotImplementedError

    async def add_sources(self, experiment_id: str, files: Sequence[UploadedFile]) -> Experiment:
        raise NotImplementedError

    # runs
    async def start_run(
        self,
        experiment_id: str,
        overrides: GenerationOverrides | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> StartedRun:
        raise NotImplementedError

    async def list_runs(
        self,
        experiment_id: str,
        *,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        raise NotImplementedError

    async def get_run(self, experiment_id: str, run_id: str) -> RunDetail:
        raise NotImplementedError

    async def cancel_run(self, experiment_id: str, run_id: str) -> Run:
        raise NotImplementedError

    async def wait_for_run(
        self, experiment_id: str, run_id: str, *, timeout: float | None = None
    ) -> RunDetail:
        raise NotImplementedError

    # personas
    async def get_persona(self, persona_id: str) -> Persona:
        raise NotImplementedError

    async def list_personas(
        self, experiment_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> PersonaPage:
        raise NotImplementedError

    # misc
    def list_providers(self) -> list[ProviderInfo]:
        raise NotImplementedError

    async def health(self) -> Health:
        raise NotImplementedError
