"""Progress of a run's attempt, persisted without holding the run back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

from persona.storage import ClaimedRun, Repository
from persona.storage.queries import CLAIMED_STAGE

P = ParamSpec("P")
T = TypeVar("T")

PROGRESS_INTERVAL = 0.5
"""Seconds between two persisted progress updates of the same stage."""
LOADING_SHARE = 0.1
"""Share of the progress bar given to loading the sources; the provider fills the rest."""


class Superseded(Exception):
    """The run is no longer this attempt's: cancelled, deleted or claimed by another worker."""


class QueuesWrites(Protocol):
    """Queues a write for the next group commit; the future has its result."""

    def queue(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        """Queue ``fn(*args, **kwargs)``; writes commit in the order they are queued."""
        ...


class ProgressReporter:
    """Persists progress, at most every PROGRESS_INTERVAL seconds within one stage.

    The run does not wait for these writes: each is queued for the next group commit (before
    any later transition of the run, so the order holds), and its outcome is checked at the
    next report and before the run's last transition (``settled``). A request need not wait
    for a commit to be sent; a cancelled or re-claimed attempt still stops at the next report.
    """

    def __init__(self, writes: QueuesWrites, repository: Repository, claimed: ClaimedRun) -> None:
        self._writes = writes
        self._repository = repository
        self.claimed = claimed
        self.progress = 0.0
        self.stage: str | None = CLAIMED_STAGE
        self.written_at = time.monotonic()
        self._written: asyncio.Future[bool] | None = None

    async def __call__(self, fraction: float, stage: str) -> None:
        self._check()
        fraction = max(self.progress, min(1.0, fraction))
        now = time.monotonic()
        due = stage != self.stage or now - self.written_at >= PROGRESS_INTERVAL
        self.progress = fraction
        if not due:
            return
        self.stage = stage
        self.written_at = now
        # Replacing a write not yet committed loses nothing: this one, of the same attempt,
        # finds the run superseded just as that one would.
        self._written = self._writes.queue(
            self._repository.update_progress,
            self.claimed.run_id,
            self.claimed.attempt,
            round(fraction, 4),
            stage,
        )
        self._written.add_done_callback(mark_retrieved)

    async def provider(self, fraction: float, stage: str) -> None:
        """The provider's own 0..1 progress, mapped after the loading share."""
        await self(LOADING_SHARE + (1 - LOADING_SHARE) * fraction, stage)

    async def settled(self) -> None:
        """Wait for the last progress write; raise what it found (superseded, or an error)."""
        if self._written is not None:
            await self._written
        self._check()

    def _check(self) -> None:
        written = self._written
        if written is None or not written.done():
            return
        self._written = None
        if not written.result():
            raise Superseded


def mark_retrieved(future: asyncio.Future[bool]) -> None:
    """An attempt that ends before checking its last progress write must not have the
    write's error logged as never retrieved; ``_check`` still raises it."""
    if not future.cancelled():
        future.exception()
