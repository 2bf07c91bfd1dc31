"""A migrated SQLite database in a temporary directory, and a repository over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from persona.storage import Database, Repository


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'persona.db'}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database(url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def repo(db: Database) -> Repository:
    return Repository(db)
