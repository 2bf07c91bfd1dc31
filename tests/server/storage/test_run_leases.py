"""Run leases in the repository: one claim per run, renewal, release, takeover of lapsed runs,
and the 0001 → 0002 migration that adds them."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from alembic import command
from persona.ids import utcnow
from persona.schemas import ResolvedConfig, RunError, Usage
from persona.storage import Database, Repository, alembic_config
from persona.storage.database import SCHEMA_REVISION
from persona.storage.models import RunRow
from sqlalchemy import select, text

from .conftest import database_at

LOCAL = ResolvedConfig(provider="local", persona_count=2)
CLAIMERS = 8


def _queued_run(repo: Repository) -> str:
    repo.create_experiment(
        experiment_id="exp-1",
        name="study",
        description=None,
        data_sources=["interviews.csv"],
        config=LOCAL,
    )
    run, _ = repo.create_run("exp-1", LOCAL)
    return run.id


def _lease(db: Database, run_id: str) -> tuple[str | None, datetime | None]:
    with db.read() as session:
        row = session.execute(
            select(RunRow.lease_owner, RunRow.lease_expires_at).where(RunRow.id == run_id)
        ).one()
    return row.lease_owner, row.lease_expires_at


def test_a_claim_leases_the_run_to_its_owner(db: Database, repo: Repository) -> None:
    run_id = _queued_run(repo)
    before = utcnow()

    claimed = repo.claim_run(run_id, owner="runner-a", lease_seconds=30)

    assert claimed is not None and claimed.attempt == 1
    owner, expires = _lease(db, run_id)
    assert owner == "runner-a"
    assert expires is not None and expires.tzinfo is not None
    assert before + timedelta(seconds=30) <= expires <= utcnow() + timedelta(seconds=30)


def test_processes_claiming_one_queued_run_together_claim_it_once(
    url: str, repo: Repository
) -> None:
    run_id = _queued_run(repo)
    databases = [Database(url) for _ in range(CLAIMERS)]
    start = threading.Barrier(CLAIMERS)
    results: list[object] = [None] * CLAIMERS

    def claim(index: int) -> None:
        start.wait()
        results[index] = Repository(databases[index]).claim_run(
            run_id, owner=f"runner-{index}", lease_seconds=30
        )

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database in databases:
        database.dispose()

    winners = [i for i, claimed in enumerate(results) if claimed is not None]
    assert len(winners) == 1, results
    run = repo.get_run("exp-1", run_id)
    assert (run.status, run.attempts) == ("running", 1)
    assert _lease(repo.db, run_id)[0] == f"runner-{winners[0]}"


def test_recovery_leaves_a_run_with_a_live_lease_alone(db: Database, repo: Repository) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id, owner="runner-a", lease_seconds=60)

    assert repo.recover_runs(max_attempts=3) == []

    run = repo.get_run("exp-1", run_id)
    assert (run.status, run.attempts) == ("running", 1)
    assert _lease(db, run_id)[0] == "runner-a"


def test_recovery_requeues_a_run_whose_lease_expired(db: Database, repo: Repository) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id, owner="runner-a", lease_seconds=0)

    assert repo.recover_runs(max_attempts=3) == [run_id]

    run = repo.get_run("exp-1", run_id)
    assert (run.status, run.attempts) == ("queued", 1)
    assert _lease(db, run_id) == (None, None)
    second = repo.claim_run(run_id, owner="runner-b", lease_seconds=60)
    assert second is not None and second.attempt == 2


def test_an_expired_run_out_of_attempts_fails_as_interrupted(repo: Repository) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id, owner="runner-a", lease_seconds=0)

    assert repo.recover_runs(max_attempts=1) == []

    run = repo.get_run("exp-1", run_id)
    assert run.status == "failed"
    assert run.error is not None and run.error.code == "interrupted"


def test_a_run_whose_worker_died_is_requeued_despite_its_live_lease(
    db: Database, repo: Repository
) -> None:
    run_id = _queued_run(repo)
    first = repo.claim_run(run_id, owner="worker-a", lease_seconds=600)

    assert repo.requeue_interrupted(run_id, max_attempts=3) is True

    assert _lease(db, run_id) == (None, None)
    second = repo.claim_run(run_id, owner="worker-b", lease_seconds=60)
    assert first is not None and second is not None and second.attempt == 2
    assert not repo.update_progress(run_id, first.attempt, 0.5, "thinking")


def test_a_dead_worker_run_out_of_attempts_or_finished_is_not_requeued(
    repo: Repository,
) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id, owner="worker-a", lease_seconds=600)

    assert repo.requeue_interrupted(run_id, max_attempts=1) is False
    failed = repo.get_run("exp-1", run_id)
    assert repo.requeue_interrupted(run_id, max_attempts=3) is False

    assert failed.status == "failed"
    assert failed.error is not None and failed.error.code == "interrupted"
    assert repo.get_run("exp-1", run_id).status == "failed"


def test_renewal_extends_only_the_owners_listed_running_runs(
    db: Database, repo: Repository
) -> None:
    mine = _queued_run(repo)
    theirs, _ = repo.create_run("exp-1", LOCAL)
    repo.claim_run(mine, owner="runner-a", lease_seconds=0)
    repo.claim_run(theirs.id, owner="runner-b", lease_seconds=0)

    renewed = repo.renew_leases("runner-a", [mine, theirs.id], lease_seconds=60)

    assert renewed == 1
    assert repo.recover_runs(max_attempts=3) == [theirs.id]
    owner, expires = _lease(db, mine)
    assert owner == "runner-a"
    assert expires is not None and expires > utcnow() + timedelta(seconds=50)
    assert repo.renew_leases("runner-a", [], lease_seconds=60) == 0


def test_release_lets_any_process_take_the_runs_over_at_once(
    db: Database, repo: Repository
) -> None:
    run_id = _queued_run(repo)
    repo.claim_run(run_id, owner="runner-a", lease_seconds=60)

    assert repo.release_leases("runner-a") == 1

    assert _lease(db, run_id) == (None, None)
    assert repo.recover_runs(max_attempts=3) == [run_id]


@pytest.mark.parametrize("outcome", ["succeeded", "failed", "cancelled"])
def test_finishing_a_run_releases_its_lease(db: Database, repo: Repository, outcome: str) -> None:
    run_id = _queued_run(repo)
    claimed = repo.claim_run(run_id, owner="runner-a", lease_seconds=60)
    assert claimed is not None

    if outcome == "succeeded":
        stored = repo.mark_succeeded(run_id, claimed.attempt, [], Usage())
        assert stored is not None and stored.personas == []
    elif outcome == "failed":
        assert repo.mark_failed(run_id, claimed.attempt, RunError(code="x", message="broke"))
    else:
        repo.cancel_run("exp-1", run_id)

    assert repo.get_run("exp-1", run_id).status == outcome
    assert _lease(db, run_id) == (None, None)


def test_a_stale_attempt_can_neither_finish_the_run_nor_renew_its_lease(
    db: Database, repo: Repository
) -> None:
    run_id = _queued_run(repo)
    stale = repo.claim_run(run_id, owner="runner-a", lease_seconds=0)
    assert stale is not None
    repo.recover_runs(max_attempts=3)
    current = repo.claim_run(run_id, owner="runner-b", lease_seconds=60)
    assert current is not None

    assert repo.renew_leases("runner-a", [run_id], lease_seconds=60) == 0
    assert repo.mark_succeeded(run_id, stale.attempt, [], Usage()) is None
    assert _lease(db, run_id)[0] == "runner-b"
    assert repo.get_run("exp-1", run_id).status == "running"


# ---------------------------------------------------------------------- migration 0002

_ROWS_AT_0001 = [
    "INSERT INTO experiments VALUES ('exp-old', 'kept', NULL, '[\"a.csv\"]', "
    '\'{"provider": "local", "persona_count": 1}\', NULL, '
    "'2026-01-01 10:00:00.000000', '2026-01-01 10:00:00.000000')",
    "INSERT INTO runs (id, experiment_id, status, config, progress, stage, attempts, created_at,"
    " started_at, finished_at, usage, error_code, error_message) VALUES "
    "('run-done', 'exp-old', 'succeeded', '{\"provider\": \"local\", \"persona_count\": 1}', "
    "1.0, 'done', 1, '2026-01-01 10:00:01.000000', '2026-01-01 10:00:02.000000', "
    "'2026-01-01 10:00:03.000000', '{}', NULL, NULL), "
    "('run-left', 'exp-old', 'running', '{\"provider\": \"local\", \"persona_count\": 1}', "
    "0.5, 'thinking', 1, '2026-01-01 10:00:04.000000', '2026-01-01 10:00:05.000000', NULL, "
    "'{}', NULL, NULL)",
    "INSERT INTO personas VALUES ('per-old', 'exp-old', 'run-done', 0, 'Ada', 'Ops lead', '{}',"
    " '[]', '[]', '[]', '[]', '[]', 1.0, 0, '2026-01-01 10:00:03.000000')",
]


@pytest.mark.sqlite_only  # the migration scripts on SQLite; PostgreSQL's in test_postgres.py
def test_upgrading_a_database_at_0001_keeps_its_rows_and_leaves_runs_unleased(url: str) -> None:
    database_at(url, "0001", _ROWS_AT_0001)

    newer = Database(url)
    newer.migrate()  # foreign keys on, as every Persona connection has them
    repo = Repository(newer)

    assert newer.revision() == SCHEMA_REVISION
    assert repo.get_experiment("exp-old").name == "kept"
    done = repo.get_run("exp-old", "run-done")
    assert (done.status, done.persona_ids) == ("succeeded", ["per-old"])
    assert repo.get_persona("per-old").name == "Ada"
    assert _lease(newer, "run-left") == (None, None)
    # A run an older release left running holds no lease: the first start takes it over.
    assert repo.recover_runs(max_attempts=3) == ["run-left"]
    newer.dispose()


@pytest.mark.sqlite_only  # the migration scripts on SQLite; PostgreSQL's in test_postgres.py
def test_downgrading_to_0001_keeps_the_rows(url: str) -> None:
    database_at(url, "0001", _ROWS_AT_0001)
    config = alembic_config(url)
    command.upgrade(config, "head")

    command.downgrade(config, "0001")

    db = Database(url)
    with db.read_connection() as connection:
        columns = {row[1] for row in connection.execute(text("PRAGMA table_info(runs)"))}
        counts = [
            connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("experiments", "runs", "personas")
        ]
    db.dispose()
    assert "lease_owner" not in columns and "lease_expires_at" not in columns
    assert counts == [1, 2, 1]
