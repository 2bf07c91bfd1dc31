"""A bounded in-memory cache of parsed source files, so runs over the same data parse it once.

An entry is keyed by a digest of the file's bytes and by everything else its Evidence depends
on (its name, its type, the text column). Keying on the content rather than on the size and
modification time means a file rewritten within the timestamp granularity of its file system
is never served stale. Hashing a file costs a fraction of parsing it. Only files of at most
``max_file_bytes`` are kept; entries leave least recently used first once the files they came
from total more than ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from persona.schemas import Evidence

DEFAULT_CACHE_BYTES = 32 * 1024 * 1024
"""Total size of the source files whose Evidence is kept."""
DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024
"""Larger files are read streaming, as always, and not kept."""


@dataclass(frozen=True)
class CachedFile:
    size: int
    evidence: tuple[Evidence, ...]


def content_key(data: bytes, *parts: Hashable) -> tuple[Hashable, ...]:
    """The key of a file's Evidence: a digest of its bytes, then ``parts``."""
    return (len(data), hashlib.blake2b(data, digest_size=32).digest(), *parts)


class EvidenceCache:
    """Least-recently-used, bounded by the total size of the files; safe across threads."""

    def __init__(
        self, max_bytes: int = DEFAULT_CACHE_BYTES, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    ) -> None:
        self.max_bytes = max_bytes
        self.max_file_bytes = min(max_file_bytes, max_bytes)
        self._entries: OrderedDict[tuple[Hashable, ...], CachedFile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Hashable, ...]) -> CachedFile | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[Hashable, ...], size: int, evidence: list[Evidence]) -> None:
        """Keep ``evidence`` unless its file is too large; evict to make room."""
        if size > self.max_file_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = CachedFile(size, tuple(evidence))
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes


evidence_cache = EvidenceCache()
"""The process-wide cache used by :func:`persona.sources.iter_evidence`."""
