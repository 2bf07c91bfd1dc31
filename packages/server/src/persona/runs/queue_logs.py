"""The job queue's own log lines, brought to one line per database outage.

procrastinate reports a worker stopped by a lost database at ERROR with a traceback, and
psycopg's pool warns at every failed reconnection attempt; ``persona.runs.queue`` says the
same once per outage, and when the database is back. No import of either library here:
a server without the postgres extra configures its logging with this too.
"""

from __future__ import annotations

import logging

QUIET_WORKER_ACTIONS = frozenset({"side_task_failed"})
"""procrastinate's reports that ``ProcrastinateDispatcher`` reports itself, once an outage."""


class _AtDebug(logging.Filter):
    """Makes procrastinate's own report of a worker stopped for a lost database a DEBUG
    record (with its traceback): the dispatcher says it once, in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "action", None) not in QUIET_WORKER_ACTIONS:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_job_queue_logs() -> None:
    """One line per outage from the job queue: procrastinate's report of a stopped worker
    at DEBUG, and the pool's warning for every failed reconnection attempt dropped (its
    errors stay)."""
    worker_logger = logging.getLogger("procrastinate.worker")
    if not any(isinstance(f, _AtDebug) for f in worker_logger.filters):
        worker_logger.addFilter(_AtDebug())
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
