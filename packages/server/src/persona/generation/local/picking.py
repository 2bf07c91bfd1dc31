"""A segment's sentences chosen as insights and quotes: most central first, no repeats,
each cited with the records that say it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rapidfuzz.distance import Indel

from persona.generation.grounding import quote_in_text
from persona.generation.local.corpus import Corpus
from persona.generation.local.sections import SECTIONS
from persona.generation.local.segments import Segment
from persona.schemas import Insight, Quote

if TYPE_CHECKING:
    import numpy as np

MAX_INSIGHTS = 5
MAX_QUOTES = 5
MIN_QUOTES = 2
MAX_CANDIDATES = 2_000
MAX_SUPPORT_IDS = 10
"""Evidence ids cited per item: the sentence's own record plus records saying the same."""
INSIGHT_CHARS = (12, 300)
QUOTE_CHARS = (30, 300)
NEAR_DUPLICATE = 0.9
"""Token similarity (Indel, over words) from which two lines say the same: only one is shown."""
_TOKEN = re.compile(r"\w+")


def quote_target(participant_count: int) -> int:
    return min(MAX_QUOTES, max(MIN_QUOTES, participant_count))


class SentencePicker:
    """Chooses a segment's sentences: most central first, no line shown twice (nor one nearly
    the same as another), cited with their records.

    Only the ``MAX_CANDIDATES`` most central distinct sentences are considered, which bounds
    the work per segment however much evidence it holds.
    """

    def __init__(self, corpus: Corpus, segment: Segment, scores: np.ndarray) -> None:
        import numpy as np

        self.corpus = corpus
        self.segment = segment
        self.scores = scores
        self.candidates = _distinct(
            corpus, segment.sentences[np.lexsort((segment.sentences, -scores))]
        )
        self.used: set[str] = set()
        self.shown: list[list[str]] = []
        """The words of every line shown so far, insights and quotes."""
        self.shown_sentences: set[str] = set()
        """The keys of every sentence shown so far, contexts included."""
        self.chosen: dict[int, list[int]] = {}
        """Each section's insights, as sentence numbers."""

    def choose_insights(self) -> None:
        """Pick each section's lines, most central first."""
        for section in range(len(SECTIONS)):
            matching = [(s, k) for s, k in self.candidates if self.corpus.section(k, s) == section]
            self.chosen[section] = self._take(
                matching, MAX_INSIGHTS, INSIGHT_CHARS, avoid=self.used
            )

    def insights(self, section: int) -> list[Insight]:
        return [
            Insight(text=self.corpus.line(s), evidence_ids=self._cite(s))
            for s in self.chosen[section]
        ]

    def quotes(self, target: int) -> list[Quote]:
        """Verbatim quotes: self-contained sentences with cue phrases first, then other
        central sentences, then those that need the sentence before them, from as many
        participants as possible. When that gives fewer than ``MIN_QUOTES``, insights are
        quoted as well (a quote may repeat a goal), then short sentences are taken."""
        cued = [(s, key) for s, key in self.candidates if self.corpus.section(key, s) >= 0]
        plain = [(s, key) for s, key in self.candidates if self.corpus.section(key, s) < 0]
        chosen: list[int] = []
        avoid = set(self.used)
        ordered = [self._self_contained(cued), self._self_contained(plain), cued, plain]
        for fresh_speakers in (True, False):
            for candidates in ordered:
                speakers = {self._speaker(s) for s in chosen} if fresh_speakers else None
                chosen += self._take(
                    candidates, target - len(chosen), QUOTE_CHARS, avoid=avoid, speakers=speakers
                )
        if len(chosen) < MIN_QUOTES:  # short answers only, or every sentence is an insight
            self._repeat_insights(chosen)
        if len(chosen) < MIN_QUOTES:
            self._fill(chosen, self.candidates, MIN_QUOTES, (1, 10**6), avoid)
        return [
            Quote(text=self.corpus.line(s), evidence_ids=self._cite(s), verified=True)
            for s in chosen
        ]

    def _self_contained(self, candidates: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """The candidates that need no sentence before them to make sense."""
        context = self.corpus.context_lines
        return [(s, key) for s, key in candidates if s not in context]

    def _repeat_insights(self, chosen: list[int]) -> None:
        """Quote insights too, from participants not yet quoted first, until ``MIN_QUOTES``."""
        lines = [s for section in sorted(self.chosen) for s in self.chosen[section]]
        lines.sort(key=lambda s: len(self.corpus.line(s)) < QUOTE_CHARS[0])  # whole sentences first
        for fresh_speakers in (True, False):
            speakers = {self._speaker(sentence) for sentence in chosen}
            for sentence in lines:
                if len(chosen) >= MIN_QUOTES:
                    return
                if sentence in chosen or (fresh_speakers and self._speaker(sentence) in speakers):
                    continue
                chosen.append(sentence)
                speakers.add(self._speaker(sentence))

    def _fill(
        self,
        chosen: list[int],
        candidates: list[tuple[int, str]],
        target: int,
        chars: tuple[int, int],
        avoid: set[str],
    ) -> None:
        """Add candidates to ``chosen`` up to ``target``: participants not yet quoted first."""
        speakers = {self._speaker(sentence) for sentence in chosen}
        chosen += self._take(
            candidates, target - len(chosen), chars, avoid=avoid, speakers=speakers
        )
        chosen += self._take(candidates, target - len(chosen), chars, avoid=avoid)

    def _take(
        self,
        candidates: list[tuple[int, str]],
        limit: int,
        chars: tuple[int, int],
        *,
        avoid: set[str],
        speakers: set[int] | None = None,
    ) -> list[int]:
        """Up to ``limit`` candidates of a fitting length whose text is not in ``avoid`` (which
        grows with every pick) and, when ``speakers`` is given, whose participants differ from
        those and from each other."""
        chosen: list[int] = []
        taken = set(speakers) if speakers is not None else None
        for sentence, key in candidates:
            if len(chosen) >= limit:
                break
            text = self.corpus.line(sentence)
            record = self.corpus.sentence_record[sentence]
            if not chars[0] <= len(text) <= chars[1] or key in avoid:
                continue
            if sentence in self.corpus.unresolved:
                continue  # "It covers a fifth of them." says nothing on its own
            if taken is not None and self._speaker(sentence) in taken:
                continue
            words = _TOKEN.findall(text.casefold())
            if any(_near_duplicate(words, other) for other in self.shown):
                continue
            parts = self._parts(sentence)
            if parts & self.shown_sentences:
                continue  # its context is shown already, or it is another line's context
            if not quote_in_text(text, self.corpus.records[record].text):
                continue  # never cite a sentence its own record would not verify
            chosen.append(sentence)
            self.shown.append(words)
            self.shown_sentences |= parts
            avoid.add(key)
            if taken is not None:
                taken.add(self._speaker(sentence))
        return chosen

    def _parts(self, sentence: int) -> set[str]:
        """The keys of the sentences a line shows: its own and, if it has one, its context
        (the sentence before it in the same record)."""
        keys = {sentence_key(self.corpus.sentence_text[sentence])}
        if sentence in self.corpus.context_lines:
            keys.add(sentence_key(self.corpus.sentence_text[sentence - 1]))
        return keys

    def _speaker(self, sentence: int) -> int:
        return self.corpus.record_participant[self.corpus.sentence_record[sentence]]

    def _cite(self, sentence: int) -> list[str]:
        """The sentence's record, then other records of the segment saying the same."""
        import numpy as np

        # Identical sentences have identical vectors, hence bit-identical scores.
        score = self.scores[np.searchsorted(self.segment.sentences, sentence)]
        key = sentence_key(self.corpus.sentence_text[sentence])
        same: set[int] = {self.corpus.sentence_record[sentence]}
        for other in self.segment.sentences[np.flatnonzero(self.scores == score)].tolist():
            if len(same) >= MAX_SUPPORT_IDS:
                break
            if sentence_key(self.corpus.sentence_text[other]) == key:
                same.add(self.corpus.sentence_record[other])
        return [self.corpus.records[i].id for i in sorted(same)]


def _distinct(corpus: Corpus, ranked: np.ndarray) -> list[tuple[int, str]]:
    """The first ``MAX_CANDIDATES`` sentences of ``ranked`` with distinct text, with their keys."""
    seen: set[str] = set()
    distinct: list[tuple[int, str]] = []
    seen_text: set[str] = set()  # a cheap first filter: the same text is often repeated
    order = ranked.tolist()
    for sentence, text in zip(order, corpus.sentence_text.take(order), strict=True):
        if text in seen_text:
            continue
        seen_text.add(text)
        key = sentence_key(text)
        if key not in seen:
            seen.add(key)
            distinct.append((sentence, key))
            if len(distinct) >= MAX_CANDIDATES:
                break
    return distinct


def _near_duplicate(words: list[str], other: list[str]) -> bool:
    return Indel.normalized_similarity(words, other) >= NEAR_DUPLICATE


def sentence_key(text: str) -> str:
    return " ".join(text.casefold().split())
