"""Participants clustered into segments (k-means with a fixed seed)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from persona.generation.local.corpus import Corpus
from persona.generation.local.vectors import Vectors

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_matrix

KMEANS_RESTARTS = ((200, 30), (2_000, 10), (None, 3))
"""k-means++ runs (best kept) by participant count: many where they are cheap, fewer beyond."""


@dataclass
class Segment:
    participants: np.ndarray
    records: np.ndarray
    sentences: np.ndarray
    centroid: np.ndarray


def segment_participants(corpus: Corpus, vectors: Vectors, count: int, seed: int) -> list[Segment]:
    """Cluster participants into ``count`` non-empty segments, largest first."""
    import numpy as np

    labels = _labels(vectors, count, seed)
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
    return [
        Segment(
            participants=np.flatnonzero(labels == label),
            records=np.flatnonzero(record_label == label),
            sentences=np.flatnonzero(sentence_label == label),
            centroid=centroids[label],
        )
        for label in range(count)
    ]


def _labels(vectors: Vectors, count: int, seed: int) -> np.ndarray:
    """Each participant's segment. Participants lacking a full-weight attribute that others
    have are placed afterwards, by their words, in the segment whose words are closest:
    clustered with the others, the missing value alone would make them a segment."""
    import numpy as np
    from sklearn.preprocessing import normalize

    described = ~vectors.undescribed
    if described.all() or described.sum() < count:
        return _repair_empty(_cluster_labels(vectors.clustering, count, seed), count)
    labels = np.empty(len(described), dtype=np.int64)
    labels[described] = _repair_empty(
        _cluster_labels(vectors.clustering[described], count, seed), count
    )
    text = vectors.participants
    centroids = normalize(
        np.vstack(
            [np.asarray(text[described][labels[described] == s].mean(axis=0)) for s in range(count)]
        )
    )
    labels[~described] = np.asarray(text[~described] @ centroids.T).argmax(axis=1)
    return labels


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
