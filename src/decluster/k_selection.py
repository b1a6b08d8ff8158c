"""Choosing the number of clusters k on an embedding: the mean silhouette of k-means.

For each candidate k, k-means (``n_init`` restarts) partitions the embedding, and the partition
is scored by its mean silhouette (Rousseeuw, 1987): for each point, ``s = (b - a) / max(a, b)``
with ``a`` its mean distance to the points of its own cluster and ``b`` that to the points of the
nearest other cluster. The chosen k has the highest mean silhouette. Among internal criteria it
is one of the most reliable across data sets (Arbelaitz et al., "An extensive comparative study
of cluster validity indices", Pattern Recognition 2013), and it needs no model of the clusters' shape.
Measured on the digits (an autoencoder pretrained with seed 0): silhouette chose 9 clusters on
the autoencoder's embedding and 10 on N2D's manifold (10 digits), a full-covariance Gaussian
mixture's BIC 14 and 30.

Both steps run on at most ``sample_size`` points drawn once, so the cost does not grow with the
data: silhouette is quadratic in the points it scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state

from decluster.io.checks import expect_int, expect_list, expect_number, expect_object

SAMPLE_SIZE = 10_000
KMEANS_RESTARTS = 4


@dataclass(frozen=True)
class KSelection:
    """The criterion's value for each candidate k, and the k chosen.

    Attributes
    ----------
    candidates : tuple of int
        The k tried, increasing.
    scores : tuple of float
        The mean silhouette of each candidate's k-means partition (higher is better).
    n_clusters : int
        The candidate with the highest score (the smallest, on a tie).
    criterion : str
        ``"silhouette"``.
    """

    candidates: tuple[int, ...]
    scores: tuple[float, ...]
    n_clusters: int
    criterion: str = "silhouette"

    @classmethod
    def best_of(cls, candidates: tuple[int, ...], scores: tuple[float, ...]) -> KSelection:
        """The selection of the candidate with the highest score (the smallest k on a tie)."""
        return cls(candidates, scores, candidates[int(np.argmax(scores))])

    def to_json(self) -> dict:
        """The selection as JSON values."""
        return {"criterion": self.criterion, "n_clusters": self.n_clusters, "candidates": list(self.candidates),
                "scores": list(self.scores)}

    @classmethod
    def from_json(cls, value, where: str) -> KSelection:
        """The selection stored by :meth:`to_json`, checked field by field.

        Raises
        ------
        ValueError, TypeError
            Naming ``where`` and the field, if a field is missing or wrong.
        """
        value = expect_object(value, where, {"criterion", "n_clusters", "candidates", "scores"})
        if value["criterion"] != "silhouette":
            raise ValueError(f"{where}.criterion must be 'silhouette', got {value['criterion']!r:.40}")
        candidates = expect_list(value["candidates"], f"{where}.candidates", lambda v, w: expect_int(v, w, low=2))
        if not candidates or candidates != sorted(set(candidates)):
            raise ValueError(f"{where}.candidates must be increasing integers")
        scores = expect_list(value["scores"], f"{where}.scores", expect_number, len(candidates))
        chosen = expect_int(value["n_clusters"], f"{where}.n_clusters", low=2)
        if chosen not in candidates:
            raise ValueError(f"{where}.n_clusters={chosen} is not among the candidates")
        return cls(tuple(candidates), tuple(scores), chosen)


def candidate_range(low: int, high: int, n_samples: int) -> tuple[int, ...]:
    """The k from ``low`` to ``high`` that a sample of ``n_samples`` points can score.

    Silhouette needs 2 <= k <= n - 1.

    Raises
    ------
    ValueError
        If no candidate is left.
    """
    candidates = tuple(range(max(low, 2), min(high, n_samples - 1) + 1))
    if not candidates:
        raise ValueError(f"no number of clusters in [{low}, {high}] can be scored on {n_samples} samples "
                         "(silhouette needs 2 <= k < n_samples)")
    return candidates


def select_n_clusters(embedding: np.ndarray, low: int, high: int, *, random_state=None,
                      sample_size: int = SAMPLE_SIZE) -> KSelection:
    """Choose k in ``[low, high]`` by the mean silhouette of k-means on ``embedding``.

    Parameters
    ----------
    embedding : ndarray of shape (n_samples, d)
    low, high : int
        The range of k tried (both included; cut to what the sample allows).
    random_state : int, RandomState instance or None
        Seeds the sample and every k-means.
    sample_size : int
        Points used (all if fewer).

    Returns
    -------
    KSelection
    """
    rng = check_random_state(random_state)
    points = np.asarray(embedding, dtype=np.float64)
    if len(points) > sample_size:
        points = points[np.sort(rng.choice(len(points), sample_size, replace=False))]
    candidates = candidate_range(low, high, len(points))
    seed = rng.randint(np.iinfo(np.int32).max)
    scores = tuple(_silhouette_of_kmeans(points, k, seed) for k in candidates)
    return KSelection.best_of(candidates, scores)


def _silhouette_of_kmeans(points: np.ndarray, k: int, seed: int) -> float:
    """Mean silhouette of the best of ``KMEANS_RESTARTS`` k-means partitions into k clusters."""
    labels = KMeans(k, n_init=KMEANS_RESTARTS, random_state=seed).fit_predict(points)
    if np.unique(labels).size < 2:  # every point identical: no partition to score
        return -1.0
    return float(silhouette_score(points, labels))
