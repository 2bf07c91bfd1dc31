"""``persona worker``: execute the runs of the PostgreSQL queue until SIGINT or SIGTERM.

A worker outlives the database's faults: procrastinate's worker is started again whenever
it stops (``persona.runs.queue``), and runs wait out an outage. Its liveness can be read
from a file (``--health-file``) whose modification time it sets every
``LIVENESS_INTERVAL`` seconds while its run dispatching is alive, whether or not the
database is there: a probe restarts a worker whose loops died, never one that waits for
the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from persona.service import PersonaService
from persona.settings import Settings

logger = logging.getLogger("persona.cli_worker")

LIVENESS_INTERVAL = 5.0
"""Seconds between two touches of the health file."""
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def is_postgresql(settings: Settings) -> bool:
    return settings.effective_database_url.startswith("postgresql")


def configure_worker_logging() -> None:
    """Persona's and procrastinate's lines at INFO, each with its level; the job queue's
    reports of an outage once (``quiet_job_queue_logs``)."""
    from persona.runs.queue_logs import quiet_job_queue_logs

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        quiet_job_queue_logs(handler)


async def run_worker(settings: Settings, *, health_file: Path | None = None) -> None:
    """Execute queued runs (``max_concurrent_runs`` at a time) until a stop signal. A run cut
    short by the stop stays running in the database, its lease released: the next worker
    re-defers it at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with PersonaService(settings) as service:
            logger.info(
                "persona worker executing up to %d run(s) at a time", settings.max_concurrent_runs
            )
            if health_file is None:
                await stop.wait()
            else:
                await _touch_while_alive(service, health_file, stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        if health_file is not None:
            await asyncio.to_thread(health_file.unlink, missing_ok=True)


async def _touch_while_alive(
    service: PersonaService, health_file: Path, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        if service.runs_alive():
            try:
                await asyncio.to_thread(health_file.touch)
            except OSError as exc:
                logger.warning("could not touch the health file %s: %s", health_file, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LIVENESS_INTERVAL)
