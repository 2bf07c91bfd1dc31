"""The job queue's own log lines, brought to one line per database outage.

When the database goes away, procrastinate reports the worker it stops at ERROR with a
traceback, then every job that stop aborted with another (and, through asyncio, every job
whose end it could not record), and psycopg reports queries it could not cancel;
``persona.runs.queue`` says all that once per outage, and once when the database is back.
``OutageNoise`` makes those records DEBUG records: a handler with it shows them only where
DEBUG is on. No import of either library here: a server without the postgres extra
configures its logging with this too.
"""

from __future__ import annotations

import asyncio
import logging

from persona.storage.faults import is_transient

NOISY_LOGGERS = ("procrastinate", "psycopg", "asyncio")
"""The job queue, the driver, and asyncio (which reports the job tasks procrastinate lets
fail when it cannot record how a job ended)."""


class OutageNoise(logging.Filter):
    """Turns a job queue or driver record that carries a lost database (or the cancel of a
    job a worker's stop aborted) into a DEBUG record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(NOISY_LOGGERS) or not record.exc_info:
            return True
        exc = record.exc_info[1]
        if exc is None or not (isinstance(exc, asyncio.CancelledError) or is_transient(exc)):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_job_queue_logs(handler: logging.Handler) -> None:
    """Filter ``handler``'s job queue records (``OutageNoise``), and drop the pool's warning
    at every failed reconnection attempt (its errors stay)."""
    if not any(isinstance(f, OutageNoise) for f in handler.filters):
        handler.addFilter(OutageNoise())
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
