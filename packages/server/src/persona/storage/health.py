"""Is the database there, and does this process get through to it?

Two looks at once, each with a bound, and at most one of each under way (a health check
polled every second never piles up work): ``SELECT 1`` on a connection of its own, on a
thread of its own (``Database.probe``), says whether the database answers at all; the same
on the process's own pool and threads says whether requests get through. The database is
``unreachable`` when the first fails, ``busy`` when only the second does not answer in
time (every pooled connection waits on a lock, say), and ``ok`` otherwise. A locked table is
never reported as a database that is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

from persona.storage.database import Database

DatabaseState = Literal["ok", "busy", "unreachable"]

BUSY_AFTER = 2.0
"""Seconds the pooled look may take before the database counts as busy."""
PROBE_SLACK = 2.0
"""Seconds the own-connection look may take beyond the connect timeout."""


class DatabaseHealth:
    def __init__(
        self, database: Database, call: Callable[[Callable[[], None]], Awaitable[None]]
    ) -> None:
        self._database = database
        self._call = call
        """Runs a blocking call on the process's database threads."""
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="persona-db-probe")
        self._probe: Future[None] | None = None
        self._pooled: asyncio.Future[None] | None = None

    async def check(self) -> DatabaseState:
        """The database's state now; never raises."""
        pooled = self._pooled_look()
        try:
            await asyncio.wait_for(
                asyncio.shield(self._own_look()),
                (self._database.timeouts.connect or BUSY_AFTER) + PROBE_SLACK,
            )
        except Exception:
            return "unreachable"
        try:
            await asyncio.wait_for(asyncio.shield(pooled), BUSY_AFTER)
        except Exception:
            return "busy"
        return "ok"

    def _own_look(self) -> asyncio.Future[None]:
        if self._probe is None or self._probe.done():
            self._probe = self._thread.submit(self._database.probe)
        look = asyncio.wrap_future(self._probe)
        look.add_done_callback(_retrieve)
        return look

    def _pooled_look(self) -> asyncio.Future[None]:
        if self._pooled is None or self._pooled.done():
            self._pooled = asyncio.ensure_future(self._call(self._database.ping))
            # Read here when nobody awaits it any more (a look that outlived its check).
            self._pooled.add_done_callback(_retrieve)
        return self._pooled

    def close(self) -> None:
        self._thread.shutdown(wait=False)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
