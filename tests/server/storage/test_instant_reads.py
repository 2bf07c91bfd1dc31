"""Instant reads: an experiment read on the caller's thread, never waiting for a lock."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from persona.errors import NotFoundError
from persona.schemas import Grounding, Insight, PersonaContent, Quote, ResolvedConfig, Usage
from persona.storage import Database, ReadWouldWait, Repository

pytestmark = pytest.mark.sqlite_only  # SQLite's own engine settings and readers

LOCAL = ResolvedConfig(provider="local", persona_count=2, temperature=0.3, seed=7)


def _content(name: str) -> PersonaContent:
    return PersonaContent(
        name=name,
        title="Ops lead",
        goals=[Insight(text="fewer alerts", evidence_ids=["ev-1"])],
        quotes=[Quote(text="too many alerts", evidence_ids=["ev-1"], verified=True)],
        evidence_ids=["ev-1"],
        grounding=Grounding(quotes_verified=1, insights_supported=1),
    )


def _create(repo: Repository, experiment_id: str = "exp-1") -> None:
    repo.create_experiment(
        experiment_id=experiment_id,
        name="study",
        description="what we learnt",
        data_sources=["interviews.csv", "notes/a.md"],
        config=LOCAL,
    )


def test_instant_read_equals_the_session_read_through_every_status(db: Database) -> None:
    repo = Repository(db)
    _create(repo)
    assert repo.get_experiment_now("exp-1") == repo.get_experiment("exp-1")

    run, _ = repo.create_run("exp-1", LOCAL)
    claimed = repo.claim_run(run.id)
    assert claimed is not None
    running = repo.get_experiment_now("exp-1")
    assert running.status == "running"
    assert running == repo.get_experiment("exp-1")

    repo.mark_succeeded(run.id, claimed.attempt, [_content("Ada"), _content("Ben")], Usage())
    done = repo.get_experiment_now("exp-1")
    assert (done.status, done.run_count, done.personas_stored) == ("succeeded", 1, 2)
    assert done == repo.get_experiment("exp-1")
    assert done.updated_at.tzinfo is not None


def test_instant_read_of_a_missing_experiment_is_not_found(db: Database) -> None:
    with pytest.raises(NotFoundError):
        Repository(db).get_experiment_now("exp-missing")


def test_instant_read_sees_another_connections_commit_at_once(db: Database, tmp_path: Path) -> None:
    """No cache: a second process writing the same file is seen on the next read."""
    repo = Repository(db)
    _create(repo)
    repo.get_experiment_now("exp-1")
    other = Database(f"sqlite:///{tmp_path / 'db' / 'persona.db'}")
    try:
        Repository(other).create_run("exp-1", LOCAL)
    finally:
        other.dispose()
    assert repo.get_experiment_now("exp-1").status == "running"


def test_a_locked_database_raises_at_once_instead_of_waiting(db: Database, tmp_path: Path) -> None:
    repo = Repository(db)
    _create(repo)
    db.engine.dispose()  # an exclusive WAL lock needs the other connections closed
    locker = sqlite3.connect(tmp_path / "db" / "persona.db", isolation_level=None)
    try:
        # An exclusive lock blocks even WAL readers; a loop must not wait for it.
        locker.execute("PRAGMA locking_mode=EXCLUSIVE")
        locker.execute("BEGIN EXCLUSIVE")
        locker.execute("UPDATE experiments SET name = 'changed'")
        began = time.monotonic()
        with pytest.raises(ReadWouldWait):
            repo.get_experiment_now("exp-1")
        assert time.monotonic() - began < 5  # far below the 30 s busy timeout
        locker.execute("ROLLBACK")
    finally:
        locker.close()
    assert repo.get_experiment_now("exp-1").name == "study"


def test_a_memory_database_has_no_instant_reader() -> None:
    database = Database("sqlite://")
    database.migrate()
    try:
        repo = Repository(database)
        _create(repo)
        with pytest.raises(ReadWouldWait):
            repo.get_experiment_now("exp-1")
        assert repo.get_experiment("exp-1").name == "study"
    finally:
        database.dispose()


def test_after_dispose_an_instant_read_would_wait(db: Database) -> None:
    repo = Repository(db)
    _create(repo)
    repo.get_experiment_now("exp-1")
    db.dispose()
    with pytest.raises(ReadWouldWait):
        repo.get_experiment_now("exp-1")
