"""PostgreSQL itself: migrations from an empty database, by many processes at once, both
ways; and values PostgreSQL's text cannot hold."""

from __future__ import annotations

import subprocess
import sys

from alembic import command
from persona.schemas import ResolvedConfig
from persona.storage import Database, Repository, alembic_config
from persona.storage.database import SCHEMA_REVISION
from persona.storage.engines import NUL_REPLACEMENT
from sqlalchemy import inspect

from tests.databases import PostgresCluster

from .conftest import database_at
from .test_evidence import _ROWS_AT_0002, _running

MIGRATE = (
    "import sys\n"
    "from persona.storage import Database\n"
    "db = Database(sys.argv[1])\n"
    "db.migrate()\n"
    "print(db.revision())\n"
)


def test_replicas_starting_at_once_on_an_empty_database_all_come_up(
    postgres: PostgresCluster,
) -> None:
    url = postgres.empty_database()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0] * 4, results
    assert {out.decode().strip() for out, _ in results} == {SCHEMA_REVISION}


def test_migrations_go_down_to_nothing_and_up_again_keeping_rows(
    postgres: PostgresCluster,
) -> None:
    url = postgres.empty_database()
    database_at(url, "0002", _ROWS_AT_0002)
    config = alembic_config(url)

    command.upgrade(config, "head")
    db = Database(url)
    persona = Repository(db).get_persona("per-old")
    db.dispose()
    command.downgrade(config, "base")
    emptied = Database(url)
    with emptied.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    emptied.dispose()
    command.upgrade(config, "head")

    assert persona.grounding.score == 0.5
    assert (persona.grounding.quotes_verified, persona.grounding.quotes_unverified) == (1, 1)
    assert tables <= {"alembic_version"}


def test_text_with_nul_characters_is_stored_and_ids_with_them_match_nothing(
    postgres: PostgresCluster,
) -> None:
    db = Database(postgres.migrated_database())
    repo = Repository(db)
    repo.create_experiment(
        experiment_id="exp-1",
        name="a\x00b",
        description=None,
        data_sources=["x.csv"],
        config=ResolvedConfig(provider="local", persona_count=1),
    )

    stored = repo.get_experiment("exp-1")
    missing = [e.id for e in repo.list_experiments().items if e.id == "exp-1\x00"]
    run_id, _ = _running(repo, "exp-1")
    db.dispose()

    assert stored.name == f"a{NUL_REPLACEMENT}b"
    assert missing == [] and run_id.startswith("run-")
