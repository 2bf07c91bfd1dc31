"""SQL of an experiment's data sources beyond what ``Repository`` does: the text column they
are read with, and removing one source. Synchronous, each in its own transaction."""

from __future__ import annotations

from sqlalchemy import select

from persona.errors import ConflictError, NotFoundError
from persona.ids import utcnow
from persona.schemas import ACTIVE_RUN_STATUSES, Experiment
from persona.storage.models import ExperimentRow, RunRow
from persona.storage.repository import Repository

_ACTIVE = tuple(sorted(ACTIVE_RUN_STATUSES))


def experiment_text_column(repository: Repository, experiment_id: str) -> str | None:
    """The column of tabular sources holding the participants' words; None: inferred."""
    with repository.db.read() as session:
        row = session.get(ExperimentRow, experiment_id)
        if row is None:
            raise NotFoundError("experiment", experiment_id)
        return row.text_column


def remove_data_source(repository: Repository, experiment_id: str, name: str) -> Experiment:
    """Take ``name`` out of the experiment's data sources and return the experiment.

    Refused while a run of it is queued or running (it may be reading the source), and for
    its last source (an experiment without sources could never run)."""
    with repository.db.write() as session:
        row = session.get(ExperimentRow, experiment_id, with_for_update=True)
        if row is None:
            raise NotFoundError("experiment", experiment_id)
        sources = list(row.data_sources)
        if name not in sources:
            raise NotFoundError("source", name)
        active = session.scalars(
            select(RunRow.id)
            .where(RunRow.experiment_id == experiment_id, RunRow.status.in_(_ACTIVE))
            .limit(1)
        ).first()
        if active is not None:
            raise ConflictError(
                f"run {active!r} of experiment {experiment_id!r} is queued or running: cancel "
                "it or wait for it to finish before removing a source",
                code="run_active",
            )
        if len(sources) == 1:
            raise ConflictError(
                f"source {name!r} is the experiment's only source: upload another first, or "
                "delete the experiment",
                code="last_source",
            )
        sources.remove(name)
        row.data_sources = sources
        row.updated_at = utcnow()
    return repository.get_experiment(experiment_id)


__all__ = ["experiment_text_column", "remove_data_source"]
