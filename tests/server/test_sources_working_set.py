"""Large working sets are read with the collector paused and kept out of its passes while a
run holds them; nothing is kept from it for longer."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from persona.sources import working_set
from persona.sources.working_set import read_working_set, run_holding_working_set

LARGE = 50


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(working_set, "LARGE_WORKING_SET", LARGE)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    yield
    gc.unfreeze()
    gc.enable()


class Node:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def records(count: int, seen_enabled: list[bool]) -> Iterator[dict[str, int]]:
    for number in range(count):
        seen_enabled.append(gc.isenabled())
        yield {"n": number}


def test_a_large_read_pauses_the_collector_past_the_threshold_and_freezes_what_it_read() -> None:
    enabled: list[bool] = []
    with run_holding_working_set():
        read = read_working_set(records(3 * LARGE, enabled))

        assert [item["n"] for item in read] == list(range(3 * LARGE))
        assert all(enabled[:LARGE]) and not any(enabled[LARGE + 1 :])
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0

    assert gc.get_freeze_count() == 0


def test_a_small_read_leaves_the_collector_alone() -> None:
    enabled: list[bool] = []
    with run_holding_working_set():
        read = read_working_set(records(LARGE - 1, enabled))

        assert len(read) == LARGE - 1 and all(enabled)
        assert gc.get_freeze_count() == 0


def test_a_read_outside_any_run_is_not_frozen() -> None:
    read = read_working_set(records(2 * LARGE, []))

    assert len(read) == 2 * LARGE
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_frozen_objects_stay_frozen_until_the_last_run_holding_them_ends() -> None:
    with run_holding_working_set():
        with run_holding_working_set():
            read_working_set(records(2 * LARGE, []))
        assert gc.get_freeze_count() > 0  # another run still holds its working set
    assert gc.get_freeze_count() == 0


def test_a_cycle_frozen_with_a_working_set_is_collected_once_the_run_ends() -> None:
    node = Node()
    gone = weakref.ref(node)
    with run_holding_working_set():
        read_working_set(records(2 * LARGE, []))
        del node
        gc.collect()
        assert gone() is not None  # frozen: out of the collector's reach meanwhile

    gc.collect()
    assert gone() is None


def test_a_failed_read_resumes_collection() -> None:
    def failing() -> Iterator[int]:
        yield from range(LARGE + 5)
        raise ValueError("row 57: unreadable")

    with run_holding_working_set(), pytest.raises(ValueError, match="row 57"):
        read_working_set(failing())

    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_frozen_start_up_heap_stays_frozen_after_small_and_large_runs() -> None:
    gc.freeze()  # as a server does once started
    with run_holding_working_set():
        read_working_set(records(LARGE - 1, []))
    assert gc.get_freeze_count() > 0  # a run that froze nothing unfreezes nothing

    with run_holding_working_set():
        read = read_working_set(records(3 * LARGE, []))
    del read
    assert gc.get_freeze_count() > 0  # what lives on is frozen again, not left to every pass
    assert working_set._heap_was_frozen is None
