"""The offline ``local`` provider: personas synthesised from the evidence itself, with no LLM.

Participants are clustered into segments (k-means with a fixed seed) on their TF-IDF text
vector joined with one-hot vectors of their categorical attributes (segment, company size...),
each attribute weighted by how well it agrees with what the participants say; each segment
becomes one persona whose goals, pain points, behaviours and quotes are sentences copied
verbatim from the segment's evidence, chosen by cue phrases and by how central they are to
the segment. Same evidence + config gives byte-identical output.

Evidence without a participant counts as its own participant (a survey row, a note).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import statistics
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from persona.errors import InsufficientEvidenceError
from persona.generation.grounding import EvidenceIndex, ground, quote_in_text
from persona.providers.base import GenerationResult, ProgressCallback
from persona.schemas import Evidence, GenerationConfig, Insight, PersonaContent, Quote, Usage

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_matrix

T = TypeVar("T")

MAX_INSIGHTS = 5
MAX_QUOTES = 5
MIN_QUOTES = 2
MAX_CANDIDATES = 2_000
MAX_SUPPORT_IDS = 10
"""Evidence ids cited per item: the sentence's own record plus records saying the same."""
MAX_FEATURES = 20_000
KMEANS_RESTARTS = ((200, 30), (2_000, 10), (None, 3))
"""k-means++ runs (best kept) by participant count: many where they are cheap, fewer beyond."""
TITLE_TERMS = 3
ATTRIBUTE_WEIGHT = 1.0
"""Weight of a segment- or role-like attribute, or of another that fully agrees with the
text, against the whole (unit-length) text vector: a participant in another segment is then
farther away than any difference in wording makes them."""
FULL_AGREEMENT = 0.05
"""Share of the text's variance between an attribute's groups (adjusted for chance) from which
the attribute counts with its full weight; less agreement, less weight, none at or below 0."""
FILLER_WORDS = frozenset({
    "actually", "basically", "honestly", "just", "like", "really", "maybe", "okay", "ok",
    "yeah", "yes", "guess", "think", "thing", "things", "lot", "lots", "stuff", "kind", "sort",
    "way", "pretty", "bit", "little", "sure", "know", "mean", "right", "good", "want", "need",
    "don", "doesn", "didn", "isn", "ll", "ve", "re", "time", "got", "make", "use", "using",
    "used", "says", "said", "let", "lets", "ones", "near", "inside", "outside", "matters",
    "hand", "hour", "hours", "day", "days", "week", "weeks", "month", "months", "year", "years",
    "minute", "minutes", "morning", "today", "tomorrow", "start", "end",
})  # fmt: skip
"""Conversational words and units of time ("by hand", "hours per week") that say nothing
about a segment; never part of a title."""
INSIGHT_CHARS = (20, 300)
QUOTE_CHARS = (30, 300)
MAX_ATTRIBUTE_CHARS = 80
MAX_ATTRIBUTE_WORDS = 6
CONTEXT_KEYS = frozenset({"question", "prompt", "context", "interviewer", "comment", "notes"})
"""Attributes that hold what was asked or noted around the words, not who said them."""
SHOWN_VALUES = 3
VARYING_SHARE = 0.25
MIN_IDENTIFYING = 5
"""A text attribute with a distinct value for each of this many participants is an identifier."""

GOALS, PAIN_POINTS, BEHAVIOURS = 0, 1, 2
SECTIONS = ("goals", "pain_points", "behaviours")

_CUES = {
    GOALS: (
        r"\b(?:i|we)\s+(?:really\s+)?(?:want|need|wish|hope)\b|\b(?:my|our)\s+goal\b"
        r"|\b(?:i|we)(?:'d|\s+would)\s+(?:like|love)\b|\b(?:i'm|i\s+am|we're|we\s+are)\s+trying\s+to\b"
        r"|\bit\s+would\s+be\s+(?:great|nice|helpful)\b|\bideally\b"
    ),
    PAIN_POINTS: (
        r"frustrat|annoy|\bhard\s+to\b|difficult|\bslow|problem|\bhate|confus|struggl|painful"
        r"|\bwaste|broken|tedious|\bcan't\b|\bcannot\b|takes\s+forever|\btoo\s+(?:long|many|much)\b"
        r"|complicated|\bcrash|\bbugs?\b"
    ),
    BEHAVIOURS: (
        r"\b(?:i|we)\s+(?:usually|always|often|typically|normally|tend\s+to|use)\b"
        r"|\bevery\s+(?:day|week|month|morning|evening|time)\b|\busually\b|\bdaily\b|\bweekly\b"
        r"|\bmy\s+routine\b|\bhabit"
    ),
}
_CUE = re.compile(
    "|".join(f"(?P<c{section}>{pattern})" for section, pattern in _CUES.items()), re.IGNORECASE
)
# A sentence ends at . ! ? or … (with closing quotes/brackets) before white space, or at a
# line end; lines are never joined, so every sentence is a verbatim slice of one record.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)|\n")
_WORD = re.compile(r"\b[^\W\d_][^\W\d_]+\b")  # two or more letters; no digits

ROLE_KEYS = (
    "role", "job_title", "jobtitle", "job", "title", "occupation", "position", "profession",
    "segment", "persona", "user_type", "customer_type",
)  # fmt: skip

FIRST_NAMES = (
    "Ada", "Amara", "Ben", "Carmen", "Chen", "Dario", "Elena", "Emeka", "Farah", "Felix",
    "Grace", "Hamid", "Hana", "Ines", "Ivan", "Jonas", "Kai", "Keiko", "Lara", "Leon",
    "Lucia", "Malik", "Maya", "Mateo", "Nadia", "Nikhil", "Noor", "Omar", "Olivia", "Priya",
    "Quinn", "Rafael", "Rosa", "Sami", "Sofia", "Tariq", "Tessa", "Uma", "Viktor", "Wen",
    "Xavier", "Yara", "Yusuf", "Zoe", "Anika", "Bruno", "Clara", "Dev",
)  # fmt: skip
LAST_NAMES = (
    "Abara", "Bauer", "Costa", "Dalton", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe",
    "Rossi", "Schmidt", "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zhang",
    "Almeida", "Brennan", "Chowdhury", "Duarte", "Novak", "Ortiz",
)  # fmt: skip


class LocalProvider:
    """Deterministic persona synthesis from the evidence alone: no key, no network, no tokens."""

    name = "local"
    grounds_personas: ClassVar[bool] = True
    """Its personas are checked against the evidence before they are returned."""

    async def generate(
        self,
        evidence: Sequence[Evidence],
        config: GenerationConfig,
        *,
        progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """``config.persona_count`` personas, one per segment of similar participants."""
        seed = (config.seed or 0) % 2**32  # numpy seeds are 32-bit
        corpus = await _step(progress, 0.05, "reading evidence", _read_corpus, evidence)
        _require_participants(corpus, config.persona_count)
        vectors = await _step(progress, 0.3, "vectorising", _vectorise, corpus)
        segments = await _step(
            progress, 0.6, "clustering", _segment, corpus, vectors, config.persona_count, seed
        )
        personas = await _step(
            progress, 0.8, "describing personas", _describe, corpus, vectors, segments
        )
        grounded = await _step(progress, 0.95, "checking quotes", _ground_all, corpus, personas)
        if progress is not None:
            await progress(1.0, "done")
        return GenerationResult(
            personas=grounded, usage=Usage(input_tokens=0, output_tokens=0, cost_usd=0.0)
        )

    async def aclose(self) -> None:
        """Nothing to release: the provider holds no connections."""


async def _step(
    progress: ProgressCallback | None,
    fraction: float,
    stage: str,
    work: Callable[..., T],
    *args: Any,
) -> T:
    """Report ``stage`` and run ``work`` in a thread, so the event loop keeps serving."""
    if progress is not None:
        await progress(fraction, stage)
    return await asyncio.to_thread(work, *args)


# --------------------------------------------------------------------------- corpus


@dataclass
class _Corpus:
    """Evidence sorted by id, its participants and its sentences (parallel lists)."""

    records: list[Evidence]
    record_participant: list[int]
    participants: list[str]
    sentence_text: list[str] = field(default_factory=list)
    sentence_record: list[int] = field(default_factory=list)
    sections: dict[str, int] = field(default_factory=dict)
    """Cue-phrase section by sentence key, filled as sentences are considered."""

    def section(self, key: str) -> int:
        """GOALS, PAIN_POINTS, BEHAVIOURS, or -1 when no cue phrase matches ``key``."""
        if key not in self.sections:
            self.sections[key] = _section_of(key)
        return self.sections[key]


def _read_corpus(evidence: Sequence[Evidence]) -> _Corpus:
    # One record per id (the last wins, as in the id -> evidence map used for grounding);
    # sorting makes the result independent of the order the sources were read in.
    by_id = {record.id: record for record in evidence}
    records = [by_id[key] for key in sorted(by_id)]
    keys = [_participant_key(record) for record in records]
    participants = sorted(set(keys))
    index = {key: position for position, key in enumerate(participants)}
    corpus = _Corpus(records, [index[key] for key in keys], participants)
    for position, record in enumerate(records):
        sentences = _sentences(record.text)
        corpus.sentence_text += sentences
        corpus.sentence_record += [position] * len(sentences)
    return corpus


def _sentences(text: str) -> list[str]:
    """The sentences of ``text``, each a verbatim slice with its edge white space removed."""
    found: list[str] = []
    start = 0
    for end in _SENTENCE_END.finditer(text):
        if sentence := text[start : end.end()].strip():
            found.append(sentence)
        start = end.end()
    if sentence := text[start:].strip():
        found.append(sentence)
    return found


def _participant_key(record: Evidence) -> str:
    label = (record.participant or "").strip()
    return label or f"\x00record {record.id}"


def _section_of(sentence: str) -> int:
    """The section whose cue phrases the sentence matches most often (ties: pain points first)."""
    hits = Counter(int(match.lastgroup[1:]) for match in _CUE.finditer(sentence) if match.lastgroup)
    if not hits:
        return -1
    return max(hits, key=lambda section: (hits[section], section == PAIN_POINTS, -section))


def _require_participants(corpus: _Corpus, persona_count: int) -> None:
    if not corpus.records:
        raise InsufficientEvidenceError(
            "no evidence to build personas from: the data sources produced no records"
        )
    found = len(corpus.participants)
    if found < persona_count:
        raise InsufficientEvidenceError(
            f"found {found} participant{'s' if found != 1 else ''} in {len(corpus.records)} "
            f"evidence records, but {persona_count} personas were asked for; "
            "ask for fewer personas or add more data"
        )


# --------------------------------------------------------------------------- vectors


@dataclass
class _Vectors:
    terms: np.ndarray
    sentences: csr_matrix
    """One L2-normalised TF-IDF row per sentence."""
    participants: csr_matrix
    """One L2-normalised TF-IDF row per participant: the sum of their sentences."""
    clustering: csr_matrix
    """The participant rows joined with their weighted categorical attributes."""


def _vectorise(corpus: _Corpus) -> _Vectors:
    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.preprocessing import normalize

    counter = CountVectorizer(analyzer=_analyzer(), max_features=MAX_FEATURES, dtype=np.float32)
    try:
        counts = counter.fit_transform(corpus.sentence_text)
    except ValueError as exc:  # sklearn's "empty vocabulary"
        raise InsufficientEvidenceError(
            f"the {len(corpus.records)} evidence records hold no words to build personas from"
        ) from exc
    sentence_participant = np.asarray(corpus.record_participant, dtype=np.int64)[
        np.asarray(corpus.sentence_record, dtype=np.int64)
    ]
    membership = csr_matrix(
        (
            np.ones(len(sentence_participant), dtype=np.float32),
            (sentence_participant, np.arange(len(sentence_participant))),
        ),
        shape=(len(corpus.participants), len(sentence_participant)),
    )
    tfidf = TfidfTransformer(sublinear_tf=True)
    participants = tfidf.fit_transform(membership @ counts).astype(np.float32).tocsr()
    sentences = normalize(counts.multiply(tfidf.idf_.astype(np.float32)).tocsr())
    attributes = _attribute_vectors(_profiles(corpus), participants)
    clustering = participants if attributes is None else hstack([participants, attributes])
    return _Vectors(
        counter.get_feature_names_out(), sentences, participants, csr_matrix(clustering)
    )


def _analyzer() -> Callable[[str], list[str]]:
    """Words (no stop words) and bigrams of adjacent ones, in one pass per sentence."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stop_words = frozenset(ENGLISH_STOP_WORDS)

    def terms(sentence: str) -> list[str]:
        # A stop word becomes "" so that no bigram spans it.
        words = [word if word not in stop_words else "" for word in _WORD.findall(sentence.lower())]
        found = [word for word in words if word]
        found += [f"{a} {b}" for a, b in pairwise(words) if a and b]
        return found

    return terms


def _attribute_vectors(profiles: _Profiles, text: csr_matrix) -> csr_matrix | None:
    """Weighted one-hot rows of the participants' categorical attributes, or None if none fit.

    A segment column outweighs wording; another column counts as much as its groups agree
    with what people say, so one unrelated to the text (or no column at all) leaves the text
    to decide.
    """
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    blocks = []
    for key in _categorical_keys(profiles):
        groups = _group_indices([profile.get(key, "") for profile in profiles.values])
        weight = _attribute_weight(key, groups, text)
        if weight > 0:
            data = np.full(len(groups), weight, dtype=np.float32)
            blocks.append(
                csr_matrix(
                    (data, (np.arange(len(groups)), groups)), shape=(len(groups), groups.max() + 1)
                )
            )
    return csr_matrix(hstack(blocks)) if blocks else None


def _attribute_weight(key: str, groups: np.ndarray, text: csr_matrix) -> float:
    """Full weight for a segment- or role-like column (the researcher's own segmentation);
    for any other, a weight that grows with how well its groups agree with the text."""
    if _role_key(key) in ROLE_KEYS:
        return ATTRIBUTE_WEIGHT
    agreement = max(0.0, min(1.0, _agreement(groups, text) / FULL_AGREEMENT))
    return ATTRIBUTE_WEIGHT * math.sqrt(agreement)


def _categorical_keys(profiles: _Profiles) -> list[str]:
    """Descriptive, non-numeric attributes whose values are shared: two participants or more
    per value on average, so neither identifiers nor one-off answers."""
    keys: list[str] = []
    for key, numeric in _descriptive_attributes(profiles).items():
        values = [profile[key] for profile in profiles.values if key in profile]
        if not numeric and 1 < len(set(values)) <= len(values) / 2:
            keys.append(key)
    return keys


def _group_indices(values: list[str]) -> np.ndarray:
    """Each value's index among the sorted distinct values (a missing value is its own group)."""
    import numpy as np

    distinct = sorted(set(values))
    index = {value: position for position, value in enumerate(distinct)}
    return np.asarray([index[value] for value in values], dtype=np.int64)


def _agreement(groups: np.ndarray, text: csr_matrix) -> float:
    """Share of the text vectors' variance between the groups, adjusted for chance (like an
    adjusted R²): about 0 for a grouping unrelated to the text, up to 1."""
    import numpy as np
    from scipy.sparse import csr_matrix

    rows, group_count = len(groups), int(groups.max()) + 1  # 2 <= groups <= rows / 2
    membership = csr_matrix(
        (np.ones(rows, dtype=np.float64), (groups, np.arange(rows))), shape=(group_count, rows)
    )
    sums = membership @ text.astype(np.float64)
    sizes = np.bincount(groups, minlength=group_count).astype(np.float64)
    total = text.sum(axis=0, dtype=np.float64)
    mean_square = float(np.square(total).sum()) / rows
    spread = float(text.multiply(text).sum(dtype=np.float64)) - mean_square
    between = float(np.asarray(sums.multiply(sums).sum(axis=1)).ravel() @ (1 / sizes))
    between -= mean_square
    if spread <= 0:
        return 0.0
    explained = between / spread
    return 1 - (1 - explained) * (rows - 1) / (rows - group_count)


# --------------------------------------------------------------------------- segments


@dataclass
class _Segment:
    participants: np.ndarray
    records: np.ndarray
    sentences: np.ndarray
    centroid: np.ndarray
    terms: list[str]


def _segment(corpus: _Corpus, vectors: _Vectors, count: int, seed: int) -> list[_Segment]:
    """Cluster participants into ``count`` non-empty segments, largest first."""
    import numpy as np

    labels = _repair_empty(_cluster_labels(vectors.clustering, count, seed), count)
    sizes = np.bincount(labels, minlength=count)
    firsts = np.array([np.flatnonzero(labels == label)[0] for label in range(count)])
    order = np.lexsort((firsts, -sizes))
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count)
    labels = rank[labels]
    record_label = labels[np.asarray(corpus.record_participant, dtype=np.int64)]
    sentence_label = record_label[np.asarray(corpus.sentence_record, dtype=np.int64)]
    centroids = np.vstack(
        [
            np.asarray(vectors.participants[labels == label].mean(axis=0)).ravel()
            for label in range(count)
        ]
    )
    distinctive = centroids - centroids.mean(axis=0) if count > 1 else centroids
    shares = _term_shares(vectors.participants, labels, count)
    return [
        _Segment(
            participants=np.flatnonzero(labels == label),
            records=np.flatnonzero(record_label == label),
            sentences=np.flatnonzero(sentence_label == label),
            centroid=centroids[label],
            terms=_top_terms(shares, label, distinctive[label], vectors.terms),
        )
        for label in range(count)
    ]


def _cluster_labels(matrix: csr_matrix, count: int, seed: int) -> np.ndarray:
    import numpy as np

    rows = matrix.shape[0]
    if count == 1:
        return np.zeros(rows, dtype=np.int64)
    if count == rows:
        return np.arange(rows, dtype=np.int64)
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        # Fewer distinct participants than segments is repaired below, not warned about.
        warnings.simplefilter("ignore")
        restarts = next(runs for most, runs in KMEANS_RESTARTS if most is None or rows <= most)
        model = KMeans(n_clusters=count, n_init=restarts, random_state=seed)
        return np.asarray(model.fit_predict(matrix), dtype=np.int64)


def _repair_empty(labels: np.ndarray, count: int) -> np.ndarray:
    """Give every empty cluster the last participant of the largest one."""
    import numpy as np

    labels = labels.copy()
    sizes = np.bincount(labels, minlength=count)
    for empty in np.flatnonzero(sizes == 0):
        largest = int(np.argmax(sizes))
        moved = np.flatnonzero(labels == largest)[-1]
        labels[moved] = empty
        sizes[largest] -= 1
        sizes[empty] += 1
    return labels


def _term_shares(participants: csr_matrix, labels: np.ndarray, count: int) -> np.ndarray:
    """For each segment (row) and term (column), the share of its participants who use it."""
    import numpy as np
    from scipy.sparse import csr_matrix

    used = participants.copy()
    used.data = np.ones_like(used.data)
    membership = csr_matrix(
        (np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))),
        shape=(count, len(labels)),
    )
    sizes = np.bincount(labels, minlength=count).astype(np.float32)
    return np.asarray((membership @ used).todense()) / sizes[:, None]


def _top_terms(shares: np.ndarray, label: int, weights: np.ndarray, terms: np.ndarray) -> list[str]:
    """The terms most of the segment uses and few others do (ties: two-word phrases, then the
    most distinctive by TF-IDF), no filler words, a phrase replacing the words it contains."""
    import numpy as np

    others = np.delete(shares, label, axis=0)
    outside = others.max(axis=0) if len(others) else np.zeros_like(shares[label])
    score = np.round(shares[label] - outside, 6)
    phrase = np.char.find(terms.astype(str), " ") >= 0
    order = np.lexsort((np.arange(len(weights)), -weights, ~phrase, -score))
    chosen: list[str] = []
    for index in order.tolist():
        if len(chosen) >= TITLE_TERMS or weights[index] <= 0 or score[index] <= 0:
            break
        term = str(terms[index])
        words = set(term.split())
        if words & FILLER_WORDS:
            continue
        overlapping = [other for other in chosen if words & set(other.split())]
        if any(" " in other for other in overlapping):
            continue  # a phrase already says it
        # Distinct terms that share a word: a phrase and the single words it contains.
        chosen = [other for other in chosen if other not in overlapping] + [term]
    return chosen[:TITLE_TERMS]


# --------------------------------------------------------------------------- personas


def _describe(corpus: _Corpus, vectors: _Vectors, segments: list[_Segment]) -> list[PersonaContent]:
    profiles = _profiles(corpus)
    keys = _descriptive_attributes(profiles)
    used_first_names: set[str] = set()
    titles: list[str] = []
    personas: list[PersonaContent] = []
    for segment in segments:
        scores = vectors.sentences[segment.sentences] @ segment.centroid
        picker = _SentencePicker(corpus, segment, scores)
        attributes = _segment_attributes(profiles, segment, keys)
        insights = {name: picker.insights(section) for section, name in enumerate(SECTIONS)}
        title = _title(attributes, segment.terms, titles)
        titles.append(title)
        personas.append(
            PersonaContent(
                name=_name(corpus, segment, used_first_names),
                title=title,
                demographics=_demographics(attributes, keys, len(segment.participants)),
                **insights,
                quotes=picker.quotes(_quote_target(len(segment.participants))),
                evidence_ids=[corpus.records[i].id for i in segment.records],
            )
        )
    return personas


def _quote_target(participant_count: int) -> int:
    return min(MAX_QUOTES, max(MIN_QUOTES, participant_count))


class _SentencePicker:
    """Chooses a segment's sentences: most central first, no repeats, cited with their records.

    Only the ``MAX_CANDIDATES`` most central distinct sentences are considered, which bounds
    the work per segment however much evidence it holds.
    """

    def __init__(self, corpus: _Corpus, segment: _Segment, scores: np.ndarray) -> None:
        import numpy as np

        self.corpus = corpus
        self.segment = segment
        self.scores = scores
        self.candidates = _distinct(
            corpus, segment.sentences[np.lexsort((segment.sentences, -scores))]
        )
        self.used: set[str] = set()

    def insights(self, section: int) -> list[Insight]:
        matching = [(s, key) for s, key in self.candidates if self.corpus.section(key) == section]
        chosen = self._take(matching, MAX_INSIGHTS, INSIGHT_CHARS, avoid=self.used)
        return [
            Insight(text=self.corpus.sentence_text[s], evidence_ids=self._cite(s)) for s in chosen
        ]

    def quotes(self, target: int) -> list[Quote]:
        """Verbatim quotes: sentences with cue phrases first, then other central sentences,
        from as many participants as possible. Sentences already used as insights are
        quoted only when nothing else gives ``MIN_QUOTES``."""
        cued = [(s, key) for s, key in self.candidates if self.corpus.section(key) >= 0]
        plain = [(s, key) for s, key in self.candidates if self.corpus.section(key) < 0]
        chosen: list[int] = []
        avoid = set(self.used)
        for candidates in (cued, plain):
            self._fill(chosen, candidates, target, QUOTE_CHARS, avoid)
        if len(chosen) < MIN_QUOTES:  # short answers only, or every sentence is an insight
            quoted = {_key(self.corpus.sentence_text[s]) for s in chosen}
            self._fill(chosen, self.candidates, MIN_QUOTES, (1, 10**6), quoted)
        return [
            Quote(text=self.corpus.sentence_text[s], evidence_ids=self._cite(s), verified=True)
            for s in chosen
        ]

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
            text = self.corpus.sentence_text[sentence]
            record = self.corpus.sentence_record[sentence]
            if not chars[0] <= len(text) <= chars[1] or key in avoid:
                continue
            if taken is not None and self._speaker(sentence) in taken:
                continue
            if not quote_in_text(text, self.corpus.records[record].text):
                continue  # never cite a sentence its own record would not verify
            chosen.append(sentence)
            avoid.add(key)
            if taken is not None:
                taken.add(self._speaker(sentence))
        return chosen

    def _speaker(self, sentence: int) -> int:
        return self.corpus.record_participant[self.corpus.sentence_record[sentence]]

    def _cite(self, sentence: int) -> list[str]:
        """The sentence's record, then other records of the segment saying the same."""
        import numpy as np

        # Identical sentences have identical vectors, hence bit-identical scores.
        score = self.scores[np.searchsorted(self.segment.sentences, sentence)]
        key = _key(self.corpus.sentence_text[sentence])
        same: set[int] = {self.corpus.sentence_record[sentence]}
        for other in self.segment.sentences[np.flatnonzero(self.scores == score)]:
            if len(same) >= MAX_SUPPORT_IDS:
                break
            if _key(self.corpus.sentence_text[other]) == key:
                same.add(self.corpus.sentence_record[other])
        return [self.corpus.records[i].id for i in sorted(same)]


def _distinct(corpus: _Corpus, ranked: np.ndarray) -> list[tuple[int, str]]:
    """The first ``MAX_CANDIDATES`` sentences of ``ranked`` with distinct text, with their keys."""
    seen: set[str] = set()
    distinct: list[tuple[int, str]] = []
    seen_text: set[str] = set()  # a cheap first filter: the same text is often repeated
    for sentence in ranked.tolist():
        text = corpus.sentence_text[sentence]
        if text in seen_text:
            continue
        seen_text.add(text)
        key = _key(text)
        if key not in seen:
            seen.add(key)
            distinct.append((sentence, key))
            if len(distinct) >= MAX_CANDIDATES:
                break
    return distinct


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


# --------------------------------------------------------------------------- attributes


@dataclass
class _Profiles:
    values: list[dict[str, str]]
    """Each participant's attributes: for each key, the value most of their records give."""
    varying: set[str]
    """Keys that change between one participant's records (the topic of an answer, say):
    facts about the record, not about the person."""


def _profiles(corpus: _Corpus) -> _Profiles:
    by_participant: list[list[dict[str, str]]] = [[] for _ in corpus.participants]
    for record, participant in zip(corpus.records, corpus.record_participant, strict=True):
        by_participant[participant].append(record.attributes)
    values: list[dict[str, str]] = []
    repeated: Counter[str] = Counter()  # participants with two or more values for the key
    changed: Counter[str] = Counter()  # ... of which the values differ
    for dicts in by_participant:
        profile, counters = _profile(dicts)
        values.append(profile)
        for key, counter in counters.items():
            if counter.total() > 1:
                repeated[key] += 1
                changed[key] += len(counter) > 1
    varying = {key for key in repeated if changed[key] > VARYING_SHARE * repeated[key]}
    return _Profiles(values, varying)


def _profile(dicts: list[dict[str, str]]) -> tuple[dict[str, str], dict[str, Counter[str]]]:
    """One participant's attributes, and how often each value of each key occurs."""
    first = dicts[0]
    if all(other == first for other in dicts[1:]):  # the usual case: one row of attributes
        profile = {key: value.strip() for key, value in first.items() if value.strip()}
        return profile, {key: Counter({value: len(dicts)}) for key, value in profile.items()}
    counters: dict[str, Counter[str]] = {}
    for attributes in dicts:
        for key, value in attributes.items():
            if value.strip():
                counters.setdefault(key, Counter())[value.strip()] += 1
    return {key: _most_common(counter) for key, counter in counters.items()}, counters


def _descriptive_attributes(profiles: _Profiles) -> dict[str, bool]:
    """Attribute keys worth aggregating, mapped to True when every value is a number.

    Left out: context (the interviewer's question), keys that vary within a participant,
    free text (long values) and identifiers (a distinct value per participant).
    """
    values: dict[str, Counter[str]] = {}
    for profile in profiles.values:
        for key, value in profile.items():
            values.setdefault(key, Counter())[value] += 1
    kept: dict[str, bool] = {}
    for key in sorted(values):
        counts = values[key]
        numeric = all(_number(value) is not None for value in counts)
        if _role_key(key) in CONTEXT_KEYS or key in profiles.varying:
            continue
        if any(_free_text(value) for value in counts):
            continue
        identifying = len(counts) >= MIN_IDENTIFYING and max(counts.values()) == 1
        if identifying and not numeric and _role_key(key) not in ROLE_KEYS:
            continue
        kept[key] = numeric
    return kept


def _free_text(value: str) -> bool:
    return len(value) > MAX_ATTRIBUTE_CHARS or len(value.split()) > MAX_ATTRIBUTE_WORDS


def _segment_attributes(
    profiles: _Profiles, segment: _Segment, keys: dict[str, bool]
) -> dict[str, list[str]]:
    """For each descriptive key, the values of the segment's participants who have it."""
    result: dict[str, list[str]] = {}
    for participant in segment.participants.tolist():
        for key, value in profiles.values[participant].items():
            if key in keys:
                result.setdefault(key, []).append(value)
    return result


def _most_common(counter: Counter[str]) -> str:
    return min(counter, key=lambda value: (-counter[value], value))


def _demographics(
    attributes: dict[str, list[str]], keys: dict[str, bool], participant_count: int
) -> dict[str, str]:
    demographics = {"participants": str(participant_count)}
    for key in sorted(attributes):
        values = attributes[key]
        demographics[key] = _numeric_summary(values) if keys[key] else _share_summary(values)
    return demographics


def _numeric_summary(values: list[str]) -> str:
    numbers = sorted(n for n in map(_number, values) if n is not None)
    low, high, median = numbers[0], numbers[-1], statistics.median(numbers)
    if low == high:
        return _format_number(low)
    return f"{_format_number(low)}\u2013{_format_number(high)} (median {_format_number(median)})"


def _share_summary(values: list[str]) -> str:
    """The most common values with their shares: 'Designer (60%), Engineer (40%)'."""
    counts = Counter(values)
    ranked = sorted(counts, key=lambda value: (-counts[value], value))
    shown = [f"{value} ({round(100 * counts[value] / len(values))}%)" for value in ranked]
    more = len(ranked) - SHOWN_VALUES
    return ", ".join(shown[:SHOWN_VALUES]) + (f" and {more} more" if more > 0 else "")


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _format_number(number: float) -> str:
    return f"{round(number, 1):g}"


def _title(attributes: dict[str, list[str]], terms: list[str], taken: list[str]) -> str:
    """The dominant role-like attribute, else the segment's distinctive terms."""
    role = _dominant_role(attributes)
    focus = _join_terms(terms)
    if role is None:
        return f"Focused on {focus}" if focus else "General participant"
    role = role[:1].upper() + role[1:]
    if role in taken and focus:
        return f"{role}, focused on {focus}"
    return role


def _dominant_role(attributes: dict[str, list[str]]) -> str | None:
    by_key = {_role_key(key): key for key in attributes}
    for role_key in ROLE_KEYS:
        if role_key in by_key:
            values = attributes[by_key[role_key]]
            counts = Counter(values)
            top = _most_common(counts)
            if 3 * counts[top] > len(values):  # at least a third of those who said
                return top
    return None


def _role_key(key: str) -> str:
    return key.strip().lower().replace(" ", "_").replace("-", "_")


def _join_terms(terms: list[str]) -> str:
    if len(terms) <= 1:
        return "".join(terms)
    return f"{', '.join(terms[:-1])} and {terms[-1]}"


def _name(corpus: _Corpus, segment: _Segment, used_first_names: set[str]) -> str:
    """A name picked by a stable hash of the segment's participants; first names never repeat."""
    content = "\n".join(corpus.participants[i] for i in segment.participants)
    digest = int.from_bytes(hashlib.sha256(content.encode()).digest()[:8], "big")
    first_index = digest % len(FIRST_NAMES)
    while FIRST_NAMES[first_index] in used_first_names:
        first_index = (first_index + 1) % len(FIRST_NAMES)
    first = FIRST_NAMES[first_index]
    used_first_names.add(first)
    return f"{first} {LAST_NAMES[(digest // len(FIRST_NAMES)) % len(LAST_NAMES)]}"


def _ground_all(corpus: _Corpus, personas: list[PersonaContent]) -> list[PersonaContent]:
    index = EvidenceIndex.of(corpus.records)
    return [ground(persona, index) for persona in personas]
