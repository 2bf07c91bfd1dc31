"""Hear, on PostgreSQL, that a run ended in another process (LISTEN persona_run_finished).

A trigger (migration 0006) sends a run's id on the channel when the run ends, at its
transaction's commit. ``FinishedRunListener`` keeps one connection listening and hands each
id to a callback, which wakes whoever waits for that run (``Runner.notify_finished``). A lost
connection is reopened after a pause; meanwhile, and for anything missed, waiting falls back
to re-reading the run every few seconds, so a notification only ever makes waiting shorter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from persona.runs.dispatch import Dispatcher
    from persona.runs.executor import Runner

logger = logging.getLogger("persona.runs.finished")

CHANNEL = "persona_run_finished"
RECONNECT_PAUSE = 1.0
"""Seconds before listening again after the connection was lost."""


class FinishedRunListener:
    """Calls ``on_finished(run_id)`` for every run that ends, wherever it ends."""

    def __init__(self, conninfo: str, on_finished: Callable[[str], None]) -> None:
        self._conninfo = conninfo
        self._on_finished = on_finished
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        """Start listening; returns once the first LISTEN is in place, or has failed."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="persona-finished-runs")
            ready = asyncio.ensure_future(self._listening.wait())
            await asyncio.wait([ready, self._task], return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError):
                logger.warning(
                    "lost the %s notifications; waiting falls back to polling until they are back",
                    CHANNEL,
                    exc_info=True,
                )
            self._listening.set()  # the first attempt is over, however it went
            await asyncio.sleep(RECONNECT_PAUSE)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True
        ) as connection:
            await connection.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            async for notification in connection.notifies():
                self._on_finished(notification.payload)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def listen_for_finished_runs(
    database_url: str, runner: Runner, dispatcher: Dispatcher
) -> FinishedRunListener:
    """A started listener that resolves ``runner``'s waiters for runs other processes end."""
    from persona.runs.queue import psycopg_conninfo

    def heard_finished(run_id: str) -> None:
        # A run executing here is resolved by the runner itself, with the run as stored: its
        # waiters then need no read.
        if run_id not in dispatcher.active_run_ids:
            runner.notify_finished(run_id)

    listener = FinishedRunListener(psycopg_conninfo(database_url), heard_finished)
    await listener.start()
    return listener
