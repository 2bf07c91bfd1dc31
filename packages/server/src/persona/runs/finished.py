"""Hear, on PostgreSQL, that a run ended or had an event in another process (LISTEN).

Triggers send a run's id at its transaction's commit: on ``persona_run_finished`` when the
run ends (migration 0006), on ``persona_run_event`` for each of its events (migration 0008).
``FinishedRunListener`` keeps one connection listening to both: an end wakes whoever waits
for that run (``Runner.notify_finished``), an event wakes the event hub, which reads what is
new for the open streams. A lost connection is reopened after a pause; meanwhile, and for
anything missed, waiting and streams fall back to re-reading every few seconds, so a
notification only ever makes them faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg

from persona.storage.faults import OutageLog

if TYPE_CHECKING:
    from persona.events.hub import EventHub
    from persona.runs.dispatch import Dispatcher
    from persona.runs.executor import Runner
    from persona.storage.engines import Timeouts

logger = logging.getLogger("persona.runs.finished")

CHANNEL = "persona_run_finished"
EVENT_CHANNEL = "persona_run_event"
RECONNECT_PAUSE = 1.0
"""Seconds before listening again after the connection was lost."""
BACK_AFTER = 3.0
"""Seconds a new connection must have listened before the outage log calls it back: a
database whose connections are killed again and again gives one pair of lines."""


class FinishedRunListener:
    """Calls ``on_finished(run_id)`` for every run that ends, wherever it ends."""

    def __init__(
        self,
        conninfo: str,
        on_finished: Callable[[str], None],
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._conninfo = conninfo
        self._on_finished = on_finished
        self._on_event = on_event
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.outages = OutageLog("run-event listener", logger, settle=BACK_AFTER)

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
            except (psycopg.Error, OSError) as exc:
                # Meanwhile waiting and streams fall back to polling.
                self.outages.failed(exc)
            self._listening.set()  # the first attempt is over, however it went
            await asyncio.sleep(RECONNECT_PAUSE)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True
        ) as connection:
            await connection.execute(f"LISTEN {CHANNEL}")
            if self._on_event is not None:
                await connection.execute(f"LISTEN {EVENT_CHANNEL}")
            self._listening.set()
            back = asyncio.get_running_loop().call_later(BACK_AFTER, self.outages.succeeded)
            try:
                async for notification in connection.notifies():
                    if notification.channel == CHANNEL:
                        self._on_finished(notification.payload)
                    elif self._on_event is not None:
                        self._on_event(notification.payload)
            finally:
                back.cancel()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def listen_for_finished_runs(
    database_url: str,
    runner: Runner,
    dispatcher: Dispatcher,
    hub: EventHub | None = None,
    *,
    timeouts: Timeouts | None = None,
) -> FinishedRunListener:
    """A started listener that resolves ``runner``'s waiters for runs other processes end,
    and wakes ``hub`` for every run event committed anywhere."""
    from persona.runs.queue import psycopg_conninfo

    def heard_finished(run_id: str) -> None:
        # A run executing here is resolved by the runner itself, with the run as stored: its
        # waiters then need no read.
        if run_id not in dispatcher.active_run_ids:
            runner.notify_finished(run_id)

    def heard_event(_run_id: str) -> None:
        if hub is not None:
            hub.wake()

    listener = FinishedRunListener(
        psycopg_conninfo(database_url, timeouts), heard_finished, heard_event
    )
    await listener.start()
    return listener
