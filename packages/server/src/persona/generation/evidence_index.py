"""An index over a run's evidence that finds where a quote really is.

A quote is usually in the evidence it cites, and checking that needs no index. The index is
for the others: it is built on first use, from the normalised text of every record, as an
inverted index from word to the records holding it. A quote is looked for only in the records
holding its rarest word, and a near-verbatim quote is compared (with rapidfuzz) only with the
few records sharing most of its rare words, so what a quote costs does not grow with the
number of records.
"""

from __future__ import annotations

import re
import string
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from persona.generation.memo import IdentityMemo
from persona.generation.textnorm import EDGE_PUNCT, normalize
from persona.schemas import Evidence

SIMILARITY = 90.0
"""Least rapidfuzz score (0-100) of a record's best window for an approximate match."""

FUZZY_CANDIDATES = 8
"""Records, besides those cited, compared with a quote found nowhere word for word."""

RARE_WORDS = 6
"""The rarest words of a quote used to pick the records compared with it."""

POSTINGS_BUDGET = 50_000
"""Record positions counted at most per fuzzy lookup: common words would cost more than
they tell apart (the rarest word is always counted)."""

WINDOW_SLACK = 3
"""Words an approximate match's window may grow or shrink by at either end."""

CACHED_INDEXES = 2
"""Indexes kept for later runs over the same evidence objects (each holds its records)."""

CACHED_RECORDS = 20_000
"""Evidence larger than this gets an index of its own, not kept: a kept index holds its
records, its normalised texts and its word index until two later runs replace it, which for a
large source is memory on the order of the source itself, held after its run has ended. Many
runs over the same large evidence at once are rare; each then builds its word index only if a
quote needs it."""

_NON_SPACE = re.compile(r"\S+")
_SEPARATORS = str.maketrans(dict.fromkeys(string.punctuation.replace("_", ""), " "))
"""A word is a run of characters that are neither white space nor ASCII punctuation (a
translate and a split make the words at once, where a regular expression's word matches
make a match object per word)."""

_normalized_text: IdentityMemo[Evidence, str] = IdentityMemo(lambda item: normalize(item.text))
"""The cited records' text, normalised once per (shared, cached) Evidence object rather than
once per quote; the whole run's is normalised only when its word index is built."""


@dataclass(frozen=True)
class Window:
    """Characters ``start`` to ``end`` of the normalised text of record ``position``, the
    part a near-verbatim quote most likely meant, with its rapidfuzz ``score``."""

    position: int
    start: int
    end: int
    score: float


class EvidenceIndex:
    """A run's evidence by id, and (built on first need) by the words of its text.

    Safe to share between threads: grounding runs in worker threads, and runs over the same
    evidence objects share one index (see :meth:`of`).
    """

    def __init__(self, evidence: Sequence[Evidence]) -> None:
        self.by_id: dict[str, Evidence] = {item.id: item for item in evidence}
        """One record per id; the last wins when ids repeat."""
        self.records: list[Evidence] = list(self.by_id.values())
        self._position = {evidence_id: n for n, evidence_id in enumerate(self.by_id)}
        self._postings: dict[str, list[int]] | None = None
        self._texts: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def of(cls, evidence: Sequence[Evidence]) -> EvidenceIndex:
        """The index of ``evidence``: the one built before for the same objects in the same
        order (several personas of a run, runs sharing a read of their sources), else new."""
        return _cache.get(evidence)

    def build(self) -> None:
        """Build the word index now rather than when a quote first needs it."""
        self._words()

    def position(self, evidence_id: str) -> int | None:
        """Where the record with ``evidence_id`` is in :attr:`records`; None if unknown."""
        return self._position.get(evidence_id)

    def normalized(self, position: int) -> str:
        """The normalised text of record ``position`` (computed once per Evidence object)."""
        if self._texts:
            return self._texts[position]
        return _normalized_text(self.records[position])

    def containing(self, needle: str, limit: int) -> list[int]:
        """Positions, in order, of up to ``limit`` records whose normalised text contains
        ``needle`` (a normalised, non-empty string)."""
        postings = self._words()
        inner = _inner_words(needle)
        if inner:
            rarest = min((postings.get(word, []) for word in inner), key=len)
            candidates: Iterable[int] = rarest
        else:  # one or two words that may be parts of longer ones: no word to look up
            candidates = range(len(self.records))
        found: list[int] = []
        for position in candidates:
            if needle in self._texts[position]:
                found.append(position)
                if len(found) >= limit:
                    break
        return found

    def closest(self, needle: str, cited: Sequence[int]) -> Window | None:
        """The window of a record's normalised text most like ``needle``, among the ``cited``
        records and those sharing most rare words with it; None when none scores
        :data:`SIMILARITY` or more. On equal scores a cited record wins."""
        best: Window | None = None
        for position in [*cited, *self._sharing_words(needle, exclude=set(cited))]:
            window = _best_window(needle, self.normalized(position), position)
            if window is not None and (best is None or window.score > best.score):
                best = window
        return best

    def _sharing_words(self, needle: str, exclude: set[int]) -> list[int]:
        postings = self._words()
        lists = sorted((postings[w] for w in set(_split(needle)) if w in postings), key=len)
        shared: Counter[int] = Counter()
        budget = POSTINGS_BUDGET
        for positions in lists[:RARE_WORDS]:
            if shared and len(positions) > budget:
                break
            shared.update(positions)
            budget -= len(positions)
        ranked = shared.most_common(FUZZY_CANDIDATES + len(exclude))
        return [p for p, _ in ranked if p not in exclude][:FUZZY_CANDIDATES]

    def _words(self) -> dict[str, list[int]]:
        """The inverted index, built by the first thread that needs it."""
        with self._lock:
            if self._postings is None:
                # Not through the memo: its weak references cost more than normalising.
                self._texts = [normalize(record.text) for record in self.records]
                self._postings = _inverted(self._texts)
            return self._postings


def _inverted(texts: list[str]) -> dict[str, list[int]]:
    postings: dict[str, list[int]] = {}
    for position, text in enumerate(texts):
        for word in set(_split(text)):
            found = postings.get(word)
            if found is None:
                postings[word] = [position]
            else:
                found.append(position)
    return postings


def _split(text: str) -> list[str]:
    return text.translate(_SEPARATORS).split()


def _inner_words(needle: str) -> list[str]:
    """The words of ``needle`` that are whole words wherever it occurs: all but a first or
    last one that touches the needle's edge (it may continue a longer word there)."""
    spaced = needle.translate(_SEPARATORS)
    words = spaced.split()
    if words and not spaced[0].isspace():
        words = words[1:]
    if words and not spaced[-1].isspace():
        words = words[:-1]
    return words


def _best_window(needle: str, text: str, position: int) -> Window | None:
    """``text``'s window most like ``needle``, widened to whole words, if it is close enough.

    partial_ratio aligns the shorter string inside the longer: when the record is the shorter
    one, most of the quote must be aligned with it, else a short record such as "yes" would
    match any long quote holding that word.
    """
    found = fuzz.partial_ratio_alignment(needle, text, score_cutoff=SIMILARITY)
    if found is None or found.src_end - found.src_start < len(needle) * SIMILARITY / 100:
        return None
    start, end = _whole_words(text, found.dest_start, found.dest_end)
    if start >= end:
        return None
    start, end = _closest_words(needle, text, start, end)
    return Window(position, start, end, found.score)


def _closest_words(needle: str, text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` moved by up to :data:`WINDOW_SLACK` words at either end to be most
    like ``needle``: partial_ratio's window has the needle's length, which cuts the source
    short when the quote left words out and runs on when it added some."""
    words = [(m.start(), m.end()) for m in _NON_SPACE.finditer(text)]
    first = next((n for n, (_, stop) in enumerate(words) if stop > start), 0)
    last = next((n for n, (_, stop) in enumerate(words) if stop >= end), len(words) - 1)
    best = (fuzz.ratio(needle, text[start:end]), start, end)
    for opening in words[max(0, first - WINDOW_SLACK) : first + WINDOW_SLACK + 1]:
        for closing in words[max(0, last - WINDOW_SLACK) : last + WINDOW_SLACK + 1]:
            if opening[0] < closing[1]:
                score = fuzz.ratio(needle, text[opening[0] : closing[1]])
                if score > best[0]:
                    best = (score, opening[0], closing[1])
    return _whole_words(text, best[1], best[2])


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` widened to the words it cuts and trimmed of edge punctuation."""
    while 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    while start < end and text[start] in EDGE_PUNCT:
        start += 1
    while end > start and text[end - 1] in EDGE_PUNCT:
        end -= 1
    return start, end


class _IndexCache:
    """The last few indexes, by the identity of the Evidence objects they were built from.

    An entry holds the objects of its key, so their ids cannot be reused by other objects
    while it is cached.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, ...], tuple[object, EvidenceIndex]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, evidence: Sequence[Evidence]) -> EvidenceIndex:
        if len(evidence) > CACHED_RECORDS:
            return EvidenceIndex(evidence)
        key = tuple(map(id, evidence))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry[1]
        built = (tuple(evidence), EvidenceIndex(evidence))  # unlocked: others need not wait
        with self._lock:
            entry = self._entries.setdefault(key, built)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return entry[1]


_cache = _IndexCache(CACHED_INDEXES)
