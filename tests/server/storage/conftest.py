"""A migrated SQLite database in a temporary directory, and a repository over it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from alembic import command
from persona.storage import Database, Repository, alembic_config
from sqlalchemy import text


@pytest.fixture
def url(database_url: str) -> str:
    """The test's database: an empty SQLite file, or a migrated PostgreSQL database."""
    return database_url


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def repo(db: Database) -> Repository:
    return Repository(db)


def database_at(url: str, revision: str, statements: Sequence[str]) -> None:
    """A database migrated only up to ``revision``, holding the rows ``statements`` insert:
    what an older release left behind."""
    command.upgrade(alembic_config(url), revision)
    older = Database(url)
    with older.write_connection() as connection:
        for statement in statements:
            connection.execute(text(statement))
    older.dispose()
