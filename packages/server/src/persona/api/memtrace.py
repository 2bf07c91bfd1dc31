"""Memory tracing for diagnosis: tracemalloc snapshots dumped to files, off by default.

Set ``PERSONA_DEBUG_TRACEMALLOC_DIR`` to a folder before starting a server process, and it
traces its allocations (``PERSONA_DEBUG_TRACEMALLOC_FRAMES`` frames each, default 8) and
dumps a snapshot there every ``PERSONA_DEBUG_TRACEMALLOC_SECONDS`` (default 60), numbered
from 0, for ``tracemalloc.Snapshot.load`` and ``compare_to``. Not a setting and not part of
the API: tracing slows every allocation, so it is for finding what holds memory, not for
serving. Snapshots are taken in a daemon thread, which ends with the process.
"""

from __future__ import annotations

import os
import threading
import tracemalloc
from pathlib import Path

DIR_VARIABLE = "PERSONA_DEBUG_TRACEMALLOC_DIR"
FRAMES_VARIABLE = "PERSONA_DEBUG_TRACEMALLOC_FRAMES"
SECONDS_VARIABLE = "PERSONA_DEBUG_TRACEMALLOC_SECONDS"

_started = threading.Event()


def start_from_environment() -> bool:
    """Start tracing and dumping when the variable names a folder; True when it does."""
    folder = os.environ.get(DIR_VARIABLE)
    if not folder or _started.is_set():
        return False
    _started.set()
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(int(os.environ.get(FRAMES_VARIABLE, "8")))
    interval = float(os.environ.get(SECONDS_VARIABLE, "60"))
    thread = threading.Thread(
        target=_dump_every, args=(target, interval), name="persona-tracemalloc", daemon=True
    )
    thread.start()
    return True


def _dump_every(target: Path, interval: float) -> None:
    number = 0
    stop = threading.Event()
    while True:
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(str(target / f"snapshot-{number:03d}.pickle"))
        number += 1
        stop.wait(interval)
