"""Reading an experiment on the event loop's own thread, with plain sqlite3.

The one raw-SQL path of the storage: ``queries.EXPERIMENT_BY_ID`` compiled to SQLite text
once, executed on the database's instant reader (a WAL-mode connection that never waits for
a lock). It saves a hop to a worker thread wherever the service reads an experiment: every
``start_run`` (``benchmarks/concurrent_runs.py`` starts 200 at once) and every
``GET /experiments/{id}`` the response cache cannot answer (``benchmarks/api_throughput.py``).
On other databases, or when the read would wait, the repository reads in a thread instead.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from persona.schemas import Experiment, ResolvedConfig
from persona.storage import queries
from persona.storage.models import ExperimentRow
from persona.storage.rows import _ExperimentStats

INSTANT_COLUMNS = (
    ExperimentRow.id,
    ExperimentRow.name,
    ExperimentRow.description,
    ExperimentRow.data_sources,
    ExperimentRow.config,
    ExperimentRow.created_at,
    ExperimentRow.updated_at,
)


def instant_experiment_sql() -> str:
    """``queries.EXPERIMENT_BY_ID`` as SQLite text, with one ``?`` for the experiment id.

    The constant status lists are rendered inline; the id goes through a marker value that
    is replaced by the placeholder, so the text stays derived from the same query.
    """
    from sqlalchemy.dialects import sqlite

    marker = "experiment-id-placeholder"
    stmt = queries.experiments_query(*INSTANT_COLUMNS).where(ExperimentRow.id == marker)
    text = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    quoted = f"'{marker}'"
    if text.count(quoted) != 1:
        raise RuntimeError("the experiment id must appear once in the instant statement")
    return text.replace(quoted, "?")


INSTANT_EXPERIMENT_SQL = instant_experiment_sql()
"""``queries.EXPERIMENT_BY_ID`` as SQLite text, with one ``?`` for the experiment id."""


def _sqlite_datetime(value: str) -> datetime:
    """A UTCDateTime column as SQLite stores it (naive UTC text), made aware again."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def instant_experiment(row: tuple[Any, ...]) -> Experiment:
    (id_, name, description, sources, config, created, updated, *stats) = row
    run_count, personas_stored, active, latest_outcome = stats
    return Experiment(
        id=id_,
        name=name,
        description=description,
        status=_ExperimentStats(run_count, personas_stored, bool(active), latest_outcome).status,
        data_sources=json.loads(sources),
        config=ResolvedConfig.model_validate(json.loads(config)),
        created_at=_sqlite_datetime(created),
        updated_at=_sqlite_datetime(updated),
        run_count=run_count,
        personas_stored=personas_stored,
    )
