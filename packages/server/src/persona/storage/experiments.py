"""Experiments: create, read (with their counts and status), list, change, delete."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from persona.errors import NotFoundError
from persona.ids import utcnow
from persona.schemas import Experiment, ExperimentPage, ResolvedConfig
from persona.storage import evidence as snapshots
from persona.storage import queries
from persona.storage.models import ExperimentRow
from persona.storage.rows import (
    StoreBase,
    _after_cursor,
    _experiment,
    _experiment_row,
    _ExperimentStats,
    _next_cursor,
    check_limit,
)


class ExperimentStore(StoreBase):
    """Experiments: create, read (with their counts and status), list, change, delete."""

    def create_experiment(
        self,
        *,
        experiment_id: str,
        name: str,
        description: str | None,
        data_sources: list[str],
        config: ResolvedConfig,
        text_column: str | None = None,
    ) -> Experiment:
        now = utcnow()
        row = ExperimentRow(
            id=experiment_id,
            name=name,
            description=description,
            data_sources=list(data_sources),
            config=config.model_dump(mode="json"),
            text_column=text_column,
            created_at=now,
            updated_at=now,
        )
        with self.db.write() as session:
            session.add(row)
        return _experiment(row, _ExperimentStats(0, 0, False, None))

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self.db.read() as session:
            return self._load_experiment(session, experiment_id)

    def list_experiments(
        self, *, name: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> ExperimentPage:
        check_limit(limit)
        listed = queries.EXPERIMENTS
        if name:
            listed = listed.where(ExperimentRow.name.icontains(name, autoescape=True))
        stmt = _after_cursor(
            listed, ExperimentRow.created_at, ExperimentRow.id, cursor, "experiments"
        ).limit(limit + 1)
        with self.db.read() as session:
            rows = session.execute(stmt).all()
        items = [_experiment(row[0], _ExperimentStats(*row[1:])) for row in rows[:limit]]
        return ExperimentPage(
            items=items, next_cursor=_next_cursor([r[0] for r in rows], limit, "experiments")
        )

    def add_data_sources(self, experiment_id: str, paths: Sequence[str]) -> Experiment:
        """Append ``paths`` to the experiment's data sources (those already there are kept once)."""
        with self.db.write() as session:
            row = _experiment_row(session, experiment_id, for_update=True)
            sources = list(row.data_sources)
            sources.extend(p for p in dict.fromkeys(paths) if p not in sources)
            row.data_sources = sources
            row.updated_at = utcnow()
        return self.get_experiment(experiment_id)

    def delete_experiment(self, experiment_id: str) -> list[str]:
        """Delete the experiment with its runs, personas and idempotency keys, and the
        evidence snapshots no other experiment's run uses; return the run ids."""
        with self.db.write() as session:
            _experiment_row(session, experiment_id, for_update=True)
            of_experiment = {"b_experiment": experiment_id}
            runs = session.execute(queries.EXPERIMENT_RUN_SNAPSHOTS, of_experiment).all()
            for statement in (*queries.DELETE_EXPERIMENT_CHILDREN, queries.DELETE_EXPERIMENT):
                session.execute(statement, of_experiment)
            snapshots.delete_unused(session.connection(), (s for _, s in runs if s is not None))
        return [run_id for run_id, _ in runs]

    def active_run_ids(self, experiment_id: str) -> list[str]:
        with self.db.read() as session:
            return list(session.scalars(queries.ACTIVE_RUN_IDS, {"b_experiment": experiment_id}))

    def _load_experiment(self, session: Session, experiment_id: str) -> Experiment:
        row = session.execute(
            queries.EXPERIMENT_BY_ID, {"experiment_id": experiment_id}
        ).one_or_none()
        if row is None:
            raise NotFoundError("experiment", experiment_id)
        return _experiment(row[0], _ExperimentStats(*row[1:]))
