"""Large working sets and the cyclic garbage collector: what keeps a big run from stalling
every other request.

A run over a large source holds hundreds of thousands of Evidence records, each two objects
the collector tracks (the model and its ``__dict__``). While they are created, the collector's
full passes (due whenever the objects that survived grow by a quarter) scan all of them and
every other object of the process, with the interpreter lock held: each pass grows with the
records already read, so a large read stalls every request of the process while it runs
(benchmarks/large_sources.py gives the figures).

Evidence records never form reference cycles: reference counting frees them the moment
their run drops them, so the collector has nothing to find among them. Hence, past
:data:`LARGE_WORKING_SET` records, the rest of a read goes on with automatic collection
paused, and once read, everything alive is frozen (``gc.freeze``): moved where later passes
do not look, for as long as a run holding such a set goes on. When the last one ends, the
frozen objects return to the oldest generation (``gc.unfreeze``), so any cycle frozen with
them is still collected, by one pass then rather than one per quarter's growth meanwhile.
Memory is unchanged: what is frozen is freed as usual when nothing refers to it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

LARGE_WORKING_SET = 20_000
"""Records from which a read pauses the collector and its result is frozen: a source from
which the full passes begin to stall requests (a few MB of CSV); smaller reads are left
alone."""

_lock = threading.Lock()
_runs = 0
"""Runs under way that may hold a frozen working set."""
_paused_reads = 0
"""Reads going on with automatic collection paused."""
_heap_was_frozen: bool | None = None
"""Whether the heap was frozen before a read froze a working set (a server freezes its
start-up heap, ``persona.api.main.freeze_startup_heap``); None while nothing is frozen here."""


@contextmanager
def run_holding_working_set() -> Iterator[None]:
    """Around one run: what a read froze for it stays frozen until no such run is left."""
    global _runs
    with _lock:
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                _release_frozen()


def _release_frozen() -> None:
    """Return what reads froze to the collector; freeze again what lives on when the heap was
    frozen before (a server's start-up heap), so that freeze is not undone by a large run."""
    global _heap_was_frozen
    if _heap_was_frozen is None:
        return  # nothing frozen here: a frozen start-up heap stays as it is
    gc.unfreeze()
    if _heap_was_frozen:
        gc.collect()
        gc.freeze()
    _heap_was_frozen = None


def read_working_set(records: Iterable[T]) -> list[T]:
    """``records`` as a list; one of :data:`LARGE_WORKING_SET` or more is read with automatic
    collection paused past that many and then frozen, when a run holds it (see the module)."""
    read: list[T] = []
    iterator = iter(records)
    for item in iterator:
        read.append(item)
        if len(read) >= LARGE_WORKING_SET:
            break
    else:
        return read
    _pause()
    try:
        read.extend(iterator)
    finally:
        _resume()
    return read


def _pause() -> None:
    global _paused_reads
    with _lock:
        _paused_reads += 1
        gc.disable()


def _resume() -> None:
    global _paused_reads, _heap_was_frozen
    with _lock:
        _paused_reads -= 1
        if _runs > 0:
            if _heap_was_frozen is None:
                _heap_was_frozen = gc.get_freeze_count() > 0
            gc.freeze()
        if _paused_reads == 0:
            gc.enable()
