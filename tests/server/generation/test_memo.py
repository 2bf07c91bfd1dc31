"""IdentityMemo: a value per object, computed once while the object lives."""

from __future__ import annotations

import gc

from persona.generation.memo import IdentityMemo
from persona.schemas import Evidence


def _evidence(text: str) -> Evidence:
    return Evidence(id="ev-1", source="a.csv", locator="row 2", text=text)


def test_a_value_is_computed_once_per_object_and_objects_alike_are_apart() -> None:
    computed: list[str] = []

    def upper(item: Evidence) -> str:
        computed.append(item.text)
        return item.text.upper()

    memo: IdentityMemo[Evidence, str] = IdentityMemo(upper)
    first, twin = _evidence("same words"), _evidence("same words")

    assert [memo(first), memo(first), memo(twin)] == ["SAME WORDS"] * 3
    assert computed == ["same words", "same words"]


def test_an_entry_leaves_with_its_object() -> None:
    memo: IdentityMemo[Evidence, int] = IdentityMemo(lambda item: len(item.text))
    item = _evidence("words")
    memo(item)
    assert len(memo) == 1

    del item
    gc.collect()

    assert len(memo) == 0
    assert memo(_evidence("longer words")) == len("longer words")
