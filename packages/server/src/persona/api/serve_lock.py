"""One ``persona serve`` per SQLite database.

A second server started in the same directory would silently share the first one's
``.persona/persona.db`` (its experiments, its runs): it refuses to start instead, naming the
first. The lock is an OS file lock held for the server's lifetime, so a server that was killed
leaves nothing to clean up. PostgreSQL is meant to be shared by replicas: no lock there.
``--workers N`` is one server: its supervisor holds the lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy.engine import make_url

from persona.settings import Settings

LOCK_SUFFIX = ".serve.lock"
OWNER_SUFFIX = ".serve"
"""The holder's pid and URL, beside the lock (filelock truncates the lock file itself)."""


class DatabaseInUse(Exception):
    """Another server holds the database; the message names it and says what to do."""


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file the server will use, or None (another database, or in memory)."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve()


def claim_database(settings: Settings, server_url: str) -> FileLock | None:
    """Lock the server's SQLite database for as long as the returned lock is held (the
    process's lifetime); None when there is nothing to lock. Raises ``DatabaseInUse``."""
    database = sqlite_file(settings)
    if database is None:
        return None
    if database.parent == settings.state_dir.resolve():
        database.parent.mkdir(parents=True, exist_ok=True)
    if not database.parent.is_dir():
        return None  # opening the database fails later, with its own message
    lock = FileLock(database.with_name(database.name + LOCK_SUFFIX), timeout=0)
    owner = database.with_name(database.name + OWNER_SUFFIX)
    try:
        lock.acquire()
    except Timeout:
        raise DatabaseInUse(
            f"another persona serve ({_read(owner)}) is using {database}: stop it, or give "
            "this one its own data directory (--data-dir) or database (--database-url)."
        ) from None
    owner.write_text(f"pid {os.getpid()}, {server_url}", encoding="utf-8")
    return lock


def _read(owner: Path) -> str:
    try:
        return owner.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"
