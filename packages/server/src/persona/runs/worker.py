"""``persona worker``: execute the runs of the PostgreSQL queue until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from persona.service import PersonaService
from persona.settings import Settings

logger = logging.getLogger("persona.runs.worker")


def is_postgresql(settings: Settings) -> bool:
    return settings.effective_database_url.startswith("postgresql")


async def run_worker(settings: Settings) -> None:
    """Execute queued runs (``max_concurrent_runs`` at a time) until a stop signal. A run cut
    short by the stop stays running in the database, its lease released: the next worker
    re-defers it at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with PersonaService(settings):
            logger.info(
                "persona worker executing up to %d run(s) at a time", settings.max_concurrent_runs
            )
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
