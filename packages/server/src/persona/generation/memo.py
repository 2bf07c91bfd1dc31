"""Values computed once per object while the object lives."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityMemo(Generic[K, V]):
    """``compute(item)``, kept for each object while it lives.

    Entries are found by identity, so objects need not be hashable, and leave when their
    object is collected. Only for objects never changed once made, such as Evidence: runs
    over the same sources share its objects (the source cache hands out the same ones), so
    what is derived from one is computed once rather than once per run.
    """

    def __init__(self, compute: Callable[[K], V]) -> None:
        self._compute = compute
        self._values: dict[int, tuple[weakref.ref[K], V]] = {}

    def __call__(self, item: K) -> V:
        key = id(item)
        found = self._values.get(key)
        if found is not None and found[0]() is item:
            return found[1]
        value = self._compute(item)
        self._values[key] = (weakref.ref(item, functools.partial(self._forget, key)), value)
        return value

    def __len__(self) -> int:
        return len(self._values)

    def _forget(self, key: int, ref: weakref.ref[K]) -> None:
        found = self._values.get(key)
        if found is not None and found[0] is ref:
            del self._values[key]
