"""Waiting for a run to finish, wherever it executes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from persona.errors import ConflictError
from persona.runs.executor import Runner
from persona.schemas import FINISHED_RUN_STATUSES, RunDetail

WAIT_RECHECK = 2.0
"""Seconds between database re-reads while waiting for a run another process executes. On
PostgreSQL its end is also notified (``persona.runs.finished``): the re-read is the fallback."""
LOCAL_WAIT_RECHECK = 10.0
"""Seconds between re-reads while waiting for a run this process executes: its end here is
signalled (``Runner.finished``), so a re-read only notices a change made by another process
(a cancel there)."""


async def wait_for_run(
    runner: Runner,
    read_run: Callable[[str], Awaitable[RunDetail]],
    experiment_id: str,
    run_id: str,
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - part of the SDK interface
) -> RunDetail:
    """The run once finished, read with ``read_run``; TimeoutError after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    # A run executing here is not read until it ends (or LOCAL_WAIT_RECHECK passes).
    next_local_read = loop.time() + LOCAL_WAIT_RECHECK
    while True:
        # Take the future before reading, so a finish in between is not missed.
        finished = runner.finished(run_id)
        local = runner.executes(experiment_id, run_id)
        if not local or loop.time() >= next_local_read:
            run = await read_run(run_id)
            if run.status in FINISHED_RUN_STATUSES:
                return run
            next_local_read = loop.time() + LOCAL_WAIT_RECHECK
        if runner.closing:
            raise ConflictError("the service is shutting down")
        wait = next_local_read - loop.time() if local else WAIT_RECHECK
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"run {run_id!r} did not finish within {timeout} s")
            wait = min(wait, remaining)
        # On timeout, re-read: another process may be executing (or have cancelled) it.
        with contextlib.suppress(TimeoutError):
            stored = await asyncio.wait_for(asyncio.shield(finished), wait)
            if stored is not None and stored.experiment_id == experiment_id:
                return stored  # as its success was stored here: no need to read it back
