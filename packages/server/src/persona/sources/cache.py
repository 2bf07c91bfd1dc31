"""A bounded in-memory cache of parsed source files, so runs over the same data parse it once.

An entry is keyed by a digest of the file's bytes and by everything else its records depend
on (its type, the text column), not by its name. Keying on the content rather than on the size
and modification time means a file rewritten within the timestamp granularity of its file
system is never served stale. Hashing a file costs a fraction of parsing it. An entry keeps
the Evidence of the name it was first read under; the same bytes under another name (every
experiment's inline source has a path of its own, an upload sent to several experiments) are
served as copies carrying that name's source and ids, built on each read and not kept, so a
server taking many copies of one file holds one entry rather than one per name. Only files
of at most ``max_file_bytes`` are kept; entries leave least recently used first once the
memory their Evidence and its memos hold (estimated, eleven times the example interviews CSV
file) totals more than ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from persona.schemas import Evidence
from persona.sources.records import evidence_id, make_evidence

DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
"""Memory the kept Evidence may hold in total (estimated by ``footprint``)."""
DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024
"""Larger files are read streaming, as always, and not kept."""


EVIDENCE_OVERHEAD = 360
"""Bytes an Evidence instance holds besides its strings: the object and its ``__dict__``
(measured with tracemalloc on the example sources; the set of field names pydantic keeps
is one for all records, see ``persona.sources.records.make_evidence``)."""
MEMO_OVERHEAD = 700
"""Bytes the values derived once per Evidence object while it lives hold besides their
strings (``persona.generation.memo.IdentityMemo``: a table entry, a weak reference and its
callback for each of the grounding's normalised text and the prompt's rendering of the
record; measured with tracemalloc on the example sources, 590 to 790). A cached record is
used by runs, so its memos live as long as it does and count against the bound too."""
_STR_HEADER = sys.getsizeof("")
_JSON_PUNCTUATION = 6
"""Characters the prompt's rendering adds around each attribute (quotes, colon, comma)."""
_RENDERED_NAMES = 48
"""Characters of the rendering's field names and their punctuation."""


def footprint(evidence: Sequence[Evidence]) -> int:
    """Estimated bytes of memory ``evidence`` holds once runs have used it: its strings and
    attribute dicts as ``sys.getsizeof`` counts them, a fixed cost per instance, and its memos
    (a normalised copy of the text, a rendering of the rest of the record). A participant,
    attribute name or value that records share (the readers keep one copy of what a file
    repeats) is counted once, else a file's repeated categories would count many times what
    they hold."""
    size = sys.getsizeof
    seen: set[int] = set()

    def once(value: str) -> int:
        if id(value) in seen:
            return 0
        seen.add(id(value))
        return size(value)

    total = 0
    for item in evidence:
        total += EVIDENCE_OVERHEAD + size(item.id) + size(item.source) + size(item.locator)
        total += size(item.text) + (once(item.participant) if item.participant else 0)
        total += size(item.attributes)
        total += sum(once(key) + once(value) for key, value in item.attributes.items())
        total += MEMO_OVERHEAD + size(item.text) + _rendered_rest(item)
    return total


def _rendered_rest(item: Evidence) -> int:
    """About the size of the prompt's rendering of the record (all of it but its id)."""
    characters = len(item.text) + len(item.participant or "") + _RENDERED_NAMES
    characters += sum(len(k) + len(v) + _JSON_PUNCTUATION for k, v in item.attributes.items())
    return _STR_HEADER + characters


@dataclass(frozen=True)
class CachedFile:
    size: int
    """The source file's size in bytes (what it counts against a run's byte budget)."""
    name: str
    """The source name ``evidence`` was read under."""
    evidence: tuple[Evidence, ...]
    memory: int
    """Estimated bytes the evidence holds (what it counts against the cache's bound)."""

    def evidence_as(self, name: str) -> Sequence[Evidence]:
        """The file's Evidence as read under ``name``: the kept objects for the name they
        were read under (runs over one source share them, and what is derived from them),
        else copies naming ``name``, sharing the kept texts and attributes."""
        if name == self.name:
            return self.evidence
        return [
            make_evidence(
                id=evidence_id(name, item.locator),
                source=name,
                locator=item.locator,
                participant=item.participant,
                text=item.text,
                attributes=item.attributes,
            )
            for item in self.evidence
        ]


def content_key(data: bytes, *parts: Hashable) -> tuple[Hashable, ...]:
    """The key of a file's Evidence: a digest of its bytes, then ``parts``."""
    return (len(data), hashlib.blake2b(data, digest_size=32).digest(), *parts)


class EvidenceCache:
    """Least-recently-used, bounded by the memory its Evidence holds; safe across threads."""

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

    def put(
        self, key: tuple[Hashable, ...], size: int, name: str, evidence: Sequence[Evidence]
    ) -> None:
        """Keep ``evidence``, read under ``name``, unless its file or its memory is too large;
        evict to make room."""
        if size > self.max_file_bytes:
            return
        entry = CachedFile(size, name, tuple(evidence), footprint(evidence))
        if entry.memory > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.memory
            self._entries[key] = entry
            self._bytes += entry.memory
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.memory

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        """Estimated memory held by the kept Evidence."""
        return self._bytes


evidence_cache = EvidenceCache()
"""The process-wide cache used by :func:`persona.sources.iter_evidence`."""
