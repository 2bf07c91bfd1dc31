"""TF-IDF vectors of sentences and participants, joined with weighted attribute vectors."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from persona.errors import InsufficientEvidenceError
from persona.generation.local.corpus import WORD, Corpus
from persona.generation.local.profiles import Profiles, descriptive_attributes, read_profiles
from persona.sources.columns import role_rank

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_matrix

MAX_FEATURES = 20_000
ATTRIBUTE_WEIGHT = 1.0
"""Weight of a segment- or role-like attribute, or of another that fully agrees with the
text, against the whole (unit-length) text vector: a participant in another segment is then
farther away than any difference in wording makes them."""
NUMERIC_BUCKETS = 3
"""Numeric attributes (age, tenure, spend) group participants by tertile."""
NUMERIC_WEIGHT = 1.0
"""Weight of a bucketed number whose buckets fully agree with the text; it grows with the
square root of the agreement, with no early saturation as for categories."""
FULL_AGREEMENT = 0.05
"""Share of the text's variance between an attribute's groups (adjusted for chance) from which
the attribute counts with its full weight; less agreement, less weight, none at or below 0."""


@dataclass
class Vectors:
    terms: np.ndarray
    sentences: csr_matrix
    """One L2-normalised TF-IDF row per sentence."""
    participants: csr_matrix
    """One L2-normalised TF-IDF row per participant: the sum of their sentences."""
    clustering: csr_matrix
    """The participant rows joined with their weighted categorical attributes."""
    undescribed: np.ndarray
    """Participants without a value for an attribute of full weight (a segment column that
    one of the sources lacks): placed by their words once the others are clustered."""


def vectorise(corpus: Corpus, segment_key: str | None = None) -> Vectors:
    """TF-IDF vectors of the corpus; ``segment_key``: the attribute a caller named as the
    segment column, weighted like one recognised by name."""
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
    # The counts become the sentence vectors in place: over a large corpus each copy would be
    # tens of megabytes.
    counts.data *= tfidf.idf_.astype(np.float32)[counts.indices]
    sentences = normalize(counts, copy=False)
    attributes, undescribed = _attribute_vectors(read_profiles(corpus), participants, segment_key)
    clustering = participants if attributes is None else hstack([participants, attributes])
    return Vectors(
        counter.get_feature_names_out(),
        sentences,
        participants,
        csr_matrix(clustering),
        undescribed,
    )


def _analyzer() -> Callable[[str], list[str]]:
    """Words (no stop words) and bigrams of adjacent ones, in one pass per sentence."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    stop_words = frozenset(ENGLISH_STOP_WORDS)

    def terms(sentence: str) -> list[str]:
        # A stop word becomes "" so that no bigram spans it.
        words = [word if word not in stop_words else "" for word in WORD.findall(sentence.lower())]
        found = [word for word in words if word]
        found += [f"{a} {b}" for a, b in pairwise(words) if a and b]
        return found

    return terms


def _attribute_vectors(
    profiles: Profiles, text: csr_matrix, segment_key: str | None
) -> tuple[csr_matrix | None, np.ndarray]:
    """Weighted one-hot rows of the participants' categorical attributes (None if none fit),
    and which participants lack a value for an attribute of full weight.

    A segment column outweighs wording; another column counts as much as its groups agree
    with what people say, so one unrelated to the text (or no column at all) leaves the text
    to decide.
    """
    import numpy as np
    from scipy.sparse import csr_matrix, hstack

    blocks = []
    undescribed = np.zeros(text.shape[0], dtype=bool)
    numeric_keys = {key for key, numeric in descriptive_attributes(profiles).items() if numeric}
    for key, values in _grouping_attributes(profiles):
        groups = _group_indices(values)
        numeric = key in numeric_keys
        if key == segment_key and not numeric:
            weight = ATTRIBUTE_WEIGHT
        else:
            weight = _attribute_weight(key, groups, text, numeric=numeric)
        # A participant without a value is placed by their words alone: a survey that
        # has no segment column is not a segment of its own.
        present = np.asarray([value != "" for value in values], dtype=bool)
        rows = np.flatnonzero(present)
        if weight >= ATTRIBUTE_WEIGHT:
            undescribed |= ~present
        if weight > 0 and len(rows):
            data = np.full(len(rows), weight, dtype=np.float32)
            blocks.append(
                csr_matrix((data, (rows, groups[rows])), shape=(len(groups), groups.max() + 1))
            )
    return (csr_matrix(hstack(blocks)) if blocks else None), undescribed


def _attribute_weight(key: str, groups: np.ndarray, text: csr_matrix, *, numeric: bool) -> float:
    """Full weight for a segment- or role-like column (the researcher's own segmentation);
    for any other, a weight that grows with how well its groups agree with the text."""
    if role_rank(key) is not None and not numeric:
        return ATTRIBUTE_WEIGHT
    agreement = _agreement(groups, text)
    if numeric:  # quantile buckets are not the researcher's groups: no full weight early
        return NUMERIC_WEIGHT * math.sqrt(max(0.0, min(1.0, agreement)))
    return ATTRIBUTE_WEIGHT * math.sqrt(max(0.0, min(1.0, agreement / FULL_AGREEMENT)))


def _grouping_attributes(profiles: Profiles) -> list[tuple[str, list[str]]]:
    """Each attribute that can group participants, with each participant's group ("" when
    they have no value): descriptive, non-numeric attributes whose values are shared (two
    participants or more per value on average, so neither identifiers nor one-off answers),
    and numeric ones (age, tenure, spend) bucketed by their quantiles."""
    grouping: list[tuple[str, list[str]]] = []
    for key, numeric in descriptive_attributes(profiles).items():
        values = [profile[key] for profile in profiles.values if key in profile]
        if numeric:
            buckets = _numeric_buckets([profile.get(key) for profile in profiles.values])
            if buckets is not None:
                grouping.append((key, buckets))
        elif 1 < len(set(values)) <= len(values) / 2:
            grouping.append((key, [profile.get(key, "") for profile in profiles.values]))
    return grouping


def _numeric_buckets(values: list[str | None]) -> list[str] | None:
    """Each value's quantile bucket ("" when missing), or None when too few values differ."""
    import numpy as np

    numbers = np.asarray([float(v) for v in values if v is not None], dtype=np.float64)
    if len(np.unique(numbers)) < NUMERIC_BUCKETS * 2:
        return None
    edges = np.quantile(numbers, np.linspace(0, 1, NUMERIC_BUCKETS + 1)[1:-1])
    return [
        "" if value is None else str(int(np.searchsorted(edges, float(value), side="right")))
        for value in values
    ]


def _group_indices(values: list[str]) -> np.ndarray:
    """Each value's index among the sorted distinct values (missing, "", is a group too)."""
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
