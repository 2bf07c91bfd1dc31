"""What the repository tests share: an experiment, persona content, finished runs, row counts."""

from __future__ import annotations

from persona.schemas import (
    Grounding,
    Insight,
    PersonaContent,
    Quote,
    ResolvedConfig,
    RunError,
    Usage,
)
from persona.storage import Database, Repository
from sqlalchemy import text

LOCAL = ResolvedConfig(provider="local", persona_count=2)


def add_experiment(repo: Repository, experiment_id: str = "exp-1", name: str = "study") -> str:
    repo.create_experiment(
        experiment_id=experiment_id,
        name=name,
        description="what we learnt",
        data_sources=["interviews.csv"],
        config=LOCAL,
    )
    return experiment_id


def persona_content(name: str) -> PersonaContent:
    return PersonaContent(
        name=name,
        title="Ops lead",
        demographics={"role": "ops"},
        goals=[Insight(text="fewer alerts", evidence_ids=["ev-1"])],
        quotes=[Quote(text="too many alerts", evidence_ids=["ev-1"], verified=True)],
        evidence_ids=["ev-1"],
        grounding=Grounding(quotes_verified=1, insights_supported=1),
    )


def succeeded_run(
    repo: Repository, experiment_id: str, names: tuple[str, ...] = ("Ada", "Ben")
) -> str:
    run, _ = repo.create_run(experiment_id, LOCAL)
    claimed = repo.claim_run(run.id)
    assert claimed is not None
    stored = repo.mark_succeeded(
        run.id, claimed.attempt, [persona_content(n) for n in names], Usage(input_tokens=3)
    )
    assert stored is not None
    return run.id


def failed_run(repo: Repository, experiment_id: str) -> str:
    run, _ = repo.create_run(experiment_id, LOCAL)
    claimed = repo.claim_run(run.id)
    assert claimed is not None
    assert repo.mark_failed(run.id, claimed.attempt, RunError(code="boom", message="it broke"))
    return run.id


def row_count(db: Database, table: str) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
