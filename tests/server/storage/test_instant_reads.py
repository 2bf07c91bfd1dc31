"""The instant reader: ``PRAGMA data_version`` on the caller's thread, never waiting.

The response cache validates its entries with it on the event loop (``api/cache.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from persona.schemas import ResolvedConfig
from persona.storage import Database, ReadWouldWait, Repository

pytestmark = pytest.mark.sqlite_only  # SQLite's own engine settings and readers

LOCAL = ResolvedConfig(provider="local", persona_count=2, temperature=0.3, seed=7)


def _create(repo: Repository, experiment_id: str = "exp-1") -> None:
    repo.create_experiment(
        experiment_id=experiment_id,
        name="study",
        description="what we learnt",
        data_sources=["interviews.csv"],
        config=LOCAL,
    )


def test_the_data_version_changes_when_another_connection_commits(
    db: Database, tmp_path: Path
) -> None:
    _create(Repository(db))
    before = db.data_version_now()
    assert db.data_version_now() == before  # nothing committed: unchanged
    other = Database(f"sqlite:///{tmp_path / 'db' / 'persona.db'}")
    try:
        Repository(other).create_run("exp-1", LOCAL)
    finally:
        other.dispose()
    assert db.data_version_now() != before


def test_a_memory_database_has_no_instant_reader() -> None:
    database = Database("sqlite://")
    database.migrate()
    try:
        with pytest.raises(ReadWouldWait):
            database.data_version_now()
    finally:
        database.dispose()


def test_after_dispose_the_instant_reader_is_gone(db: Database) -> None:
    db.data_version_now()
    db.dispose()
    with pytest.raises(ReadWouldWait):
        db.data_version_now()
