"""The engine and the migrations: SQLite settings, schema creation, upgrades, time zones."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from persona.schemas import GenerationConfig
from persona.storage import Database, Repository, alembic_config
from persona.storage.database import MIGRATIONS_DIR, SCHEMA_REVISION
from persona.storage.models import Base
from sqlalchemy import inspect, text

pytestmark = pytest.mark.sqlite_only  # SQLite's own engine settings and readers


def _url(path: Path) -> str:
    return f"sqlite:///{path}"


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_migrate_creates_the_schema_in_an_empty_database_and_its_parent_folder(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nested" / "state" / "persona.db"
    db = Database(_url(path))
    db.migrate()

    assert path.exists()
    assert _tables(db) == {
        "alembic_version",
        "experiments",
        "runs",
        "personas",
        "run_idempotency",
        "evidence_sets",
        "evidence_records",
        "run_events",
        "webhooks",
        "webhook_event_types",
        "webhook_deliveries",
        "pseudonyms",
        "api_keys",
        "audit_log",
        "rate_limit_counters",
    }
    with db.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    db.dispose()


def test_the_known_revision_is_the_newest_migration(tmp_path: Path) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == SCHEMA_REVISION
    db = Database(_url(tmp_path / "persona.db"))
    assert db.revision() is None
    db.migrate()
    assert db.revision() == head
    db.dispose()


def test_orm_metadata_matches_the_migrations(tmp_path: Path) -> None:
    db = Database(_url(tmp_path / "persona.db"))
    db.migrate()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    db.dispose()


def test_an_existing_database_is_upgraded_and_keeps_its_data(tmp_path: Path) -> None:
    url = _url(tmp_path / "persona.db")
    # An older release created the database with the Alembic command line.
    command.upgrade(alembic_config(url), "head")
    older = Database(url)
    Repository(older).create_experiment(
        experiment_id="exp-old",
        name="kept",
        description=None,
        data_sources=["a.csv"],
        config=GenerationConfig(provider="local"),
    )
    older.dispose()

    newer = Database(url)
    newer.migrate()
    newer.migrate()  # opening twice is a no-op

    assert Repository(newer).get_experiment("exp-old").name == "kept"
    newer.dispose()


def test_processes_starting_together_migrate_one_database_once(tmp_path: Path) -> None:
    """Like uvicorn workers starting at the same time on one SQLite file."""
    url = _url(tmp_path / "persona.db")
    code = (
        "import sys\n"
        "from persona.storage import Database\n"
        "db = Database(sys.argv[1])\n"
        "db.migrate()\n"
        "print(db.revision())\n"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0, 0, 0, 0], results
    assert {out.decode().strip() for out, _ in results} == {SCHEMA_REVISION}


def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    url = _url(tmp_path / "persona.db")
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    db = Database(url)
    assert _tables(db) == {"alembic_version"}

    db.migrate()

    assert "experiments" in _tables(db)
    db.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
    assert Path(alembic_config().get_main_option("script_location") or "") == MIGRATIONS_DIR


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(_url(tmp_path / "persona.db"))
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    db.dispose()


def test_an_in_memory_database_works(tmp_path: Path) -> None:
    db = Database("sqlite://")
    db.migrate()
    repository = Repository(db)
    repository.create_experiment(
        experiment_id="exp-mem",
        name="in memory",
        description=None,
        data_sources=["a.csv"],
        config=GenerationConfig(provider="local"),
    )
    assert repository.get_experiment("exp-mem").name == "in memory"
    db.ping()
    db.dispose()


def test_timestamps_come_back_timezone_aware_in_utc(tmp_path: Path) -> None:
    db = Database(_url(tmp_path / "persona.db"))
    db.migrate()
    repository = Repository(db)
    created = repository.create_experiment(
        experiment_id="exp-tz",
        name="tz",
        description=None,
        data_sources=["a.csv"],
        config=GenerationConfig(provider="local"),
    )

    stored = repository.get_experiment("exp-tz")

    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at == created.created_at
    db.dispose()


def test_the_utc_column_converts_other_zones_and_refuses_naive_datetimes() -> None:
    from persona.storage.types import UTCDateTime

    column = UTCDateTime()
    sqlite = Database("sqlite://").engine.dialect
    plus_two = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    stored = column.process_bind_param(plus_two, sqlite)

    assert stored == datetime(2026, 1, 1, 10, 0)
    assert column.process_result_value(stored, sqlite) == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2026, 1, 1), sqlite)


def test_many_threads_writing_at_once_never_see_database_is_locked(tmp_path: Path) -> None:
    db = Database(_url(tmp_path / "persona.db"))
    db.migrate()
    repository = Repository(db)
    errors: list[BaseException] = []

    def create_many(worker: int) -> None:
        try:
            for n in range(15):
                experiment_id = f"exp-{worker}-{n}"
                repository.create_experiment(
                    experiment_id=experiment_id,
                    name=experiment_id,
                    description=None,
                    data_sources=["a.csv"],
                    config=GenerationConfig(provider="local"),
                )
                repository.create_run(experiment_id, GenerationConfig(provider="local"))
                repository.list_experiments(limit=5)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=create_many, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM runs")).scalar() == 16 * 15
    db.dispose()


def test_two_engines_on_one_file_serialise_their_writes(tmp_path: Path) -> None:
    """Two processes (here: two engines) writing the same file wait for each other."""
    url = _url(tmp_path / "persona.db")
    first, second = Database(url), Database(url)
    first.migrate()
    errors: list[BaseException] = []

    def write(db: Database, prefix: str) -> None:
        try:
            for n in range(40):
                Repository(db).create_experiment(
                    experiment_id=f"{prefix}-{n}",
                    name="x",
                    description=None,
                    data_sources=["a.csv"],
                    config=GenerationConfig(provider="local"),
                )
        except BaseException as err:
            errors.append(err)

    threads = [
        threading.Thread(target=write, args=(db, f"exp-{i}"))
        for i, db in enumerate([first, second, first, second])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(Repository(first).list_experiments(limit=200).items) == 160
    first.dispose()
    second.dispose()
