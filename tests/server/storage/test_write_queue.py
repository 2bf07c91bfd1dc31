from __future__ import annotations

import asyncio
from collections.abc import Callable

from persona.settings import Settings
from persona.storage import Database
from persona.storage.write_queue import WriteQueue


async def test_writes_of_executing_runs_are_committed_before_those_storing_new_runs(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    database = Database(settings.effective_database_url)
    database.migrate()
    writes = WriteQueue(database)
    committed: list[str] = []
    try:
        new_runs = [writes.write_new_run(committed.append, f"new {i}") for i in range(14)]
        run_writes = [writes.write(committed.append, f"run {i}") for i in range(2)]
        await asyncio.gather(*new_runs, *run_writes)
    finally:
        await writes.close()
        database.dispose()

    assert committed == ["run 0", "run 1"] + [f"new {i}" for i in range(14)]
