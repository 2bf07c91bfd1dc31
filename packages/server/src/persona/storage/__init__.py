"""Persistence: the only place with SQL. SQLite file by default, any SQLAlchemy URL accepted."""

from persona.storage.cursor import Cursor
from persona.storage.database import Database, ReadWouldWait, alembic_config
from persona.storage.repository import ClaimedRun, Repository

__all__ = ["ClaimedRun", "Cursor", "Database", "ReadWouldWait", "Repository", "alembic_config"]
