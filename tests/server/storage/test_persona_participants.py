"""Migration 0005: stored personas get the participants of the records they cite."""

from __future__ import annotations

import pytest
from alembic import command
from persona.storage import Database, Repository, alembic_config
from sqlalchemy import text

from .conftest import database_at

_ROWS_AT_0004 = [
    "INSERT INTO experiments VALUES ('exp-old', 'kept', NULL, '[\"a.csv\"]', "
    '\'{"provider": "local", "persona_count": 1}\', NULL, '
    "'2026-01-01 10:00:00.000000', '2026-01-01 10:00:00.000000')",
    "INSERT INTO evidence_sets VALUES ('set-1', 3, '2026-01-01 10:00:01.000000')",
    "INSERT INTO evidence_records VALUES ('set-1', 0, 'ev-1', 'a.csv', 'row 2', 'P2', 'x', '{}')",
    "INSERT INTO evidence_records VALUES ('set-1', 1, 'ev-2', 'a.csv', 'row 3', 'P1', 'y', '{}')",
    "INSERT INTO evidence_records VALUES ('set-1', 2, 'ev-3', 'a.csv', 'row 4', NULL, 'z', '{}')",
    "INSERT INTO runs (id, experiment_id, status, config, progress, stage, attempts, created_at,"
    " started_at, finished_at, usage, error_code, error_message, evidence_set_id) VALUES "
    "('run-done', 'exp-old', 'succeeded', '{\"provider\": \"local\", \"persona_count\": 1}', "
    "1.0, 'done', 1, '2026-01-01 10:00:01.000000', '2026-01-01 10:00:02.000000', "
    "'2026-01-01 10:00:03.000000', '{}', NULL, NULL, 'set-1')",
    "INSERT INTO personas (id, experiment_id, run_id, position, name, title, demographics,"
    " goals, pain_points, behaviours, quotes, evidence_ids, grounding, dropped_evidence_ids,"
    " created_at) VALUES ('per-old', 'exp-old', 'run-done', 0, 'Ada', 'Ops lead', '{}', '[]',"
    " '[]', '[]', '[]', '[\"ev-3\", \"ev-2\", \"ev-1\", \"ev-2\"]', '{}', 0,"
    " '2026-01-01 10:00:03.000000')",
]


@pytest.mark.sqlite_only  # the migration scripts on SQLite
def test_upgrading_from_0004_lists_the_participants_of_the_cited_records(url: str) -> None:
    database_at(url, "0004", _ROWS_AT_0004)

    newer = Database(url)
    newer.migrate()
    persona = Repository(newer).get_persona("per-old")
    newer.dispose()

    assert persona.participants == ["P1", "P2"]  # sorted, once each; ev-3 has none
    assert persona.evidence_ids == ["ev-3", "ev-2", "ev-1", "ev-2"]


@pytest.mark.sqlite_only
def test_downgrading_0005_drops_the_column_and_keeps_the_persona(url: str) -> None:
    database_at(url, "0004", _ROWS_AT_0004)
    config = alembic_config(url)
    command.upgrade(config, "head")

    command.downgrade(config, "0004")

    db = Database(url)
    with db.read_connection() as connection:
        columns = {row[1] for row in connection.execute(text("PRAGMA table_info(personas)"))}
        names = connection.execute(text("SELECT name FROM personas")).scalars().all()
    db.dispose()
    assert "participants" not in columns
    assert names == ["Ada"]
