"""The records a persona's lines cite, kept for the personas read most recently.

A stored persona and the evidence its run read never change, so an entry never goes stale;
a deleted persona is never reached through it, because its row is read first. Reading the
cited records and locating each quote's words in them is most of the time a persona card
takes (benchmarks/ui.py), and the same persona is shown again and again.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

from persona.schemas import CitedEvidence

DEFAULT_MAX_ENTRIES = 256


class CitedRecordsCache:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._entries: OrderedDict[str, list[CitedEvidence]] = OrderedDict()
        self._max_entries = max_entries
        self._lock = Lock()

    def get(self, persona_id: str) -> list[CitedEvidence] | None:
        with self._lock:
            records = self._entries.get(persona_id)
            if records is not None:
                self._entries.move_to_end(persona_id)
            return records

    def put(self, persona_id: str, records: list[CitedEvidence]) -> None:
        with self._lock:
            self._entries[persona_id] = records
            self._entries.move_to_end(persona_id)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
