"""What the runner tests share: an experiment body, a started run, and reads of its state."""

from __future__ import annotations

from persona.schemas import ExperimentCreate, GenerationConfig
from persona.service import PersonaService


def experiment_body(name: str = "study", **config: object) -> ExperimentCreate:
    return ExperimentCreate(
        name=name,
        data_sources=["interviews.csv"],
        config=GenerationConfig(provider="local", **config),  # type: ignore[arg-type]
    )


async def started_run(service: PersonaService, **config: object) -> tuple[str, str]:
    experiment = await service.create_experiment(experiment_body(**config))
    started = await service.start_run(experiment.id)
    return experiment.id, started.run.id


async def run_status(service: PersonaService, experiment_id: str, run_id: str) -> str:
    return (await service.get_run(experiment_id, run_id)).status


async def run_at_stage(
    service: PersonaService, experiment_id: str, run_id: str, stage: str
) -> bool:
    return (await service.get_run(experiment_id, run_id)).stage == stage
