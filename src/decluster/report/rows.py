"""Which rows the report looks at: each cluster's members by confidence, and bounded samples.

The report never holds more of the data than it draws or averages: the galleries read the few
rows they show, the profiles a stratified random sample of at most ``max_rows`` rows. Rows on
disk (:class:`~decluster.data.npy_rows.NpyRows`) are read one at a time, so ten million rows
cost no more memory than ten thousand; only the labels and confidences (a few bytes a row) are
held for every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decluster.data.disk_rows import DiskRows
from decluster.data.preprocessing import FeatureScaling

DEFAULT_MAX_ROWS = 20_000
"""Most rows the profiles average (a stratified sample when the data hold more)."""


@dataclass(frozen=True)
class ClusterIndex:
    """The rows grouped by cluster, each group's most confident rows first.

    Attributes
    ----------
    order : ndarray of int64 of shape (n_samples,)
        Row numbers: cluster 0's, then cluster 1's..., each by decreasing confidence (ties and
        rows without a confidence in row order).
    bounds : ndarray of int64 of shape (n_clusters + 1,)
        Cluster ``j``'s rows are ``order[bounds[j]:bounds[j + 1]]``.
    """

    order: np.ndarray
    bounds: np.ndarray

    @property
    def n_clusters(self) -> int:
        return len(self.bounds) - 1

    @property
    def sizes(self) -> np.ndarray:
        """Rows of each cluster, shape (n_clusters,)."""
        return np.diff(self.bounds)

    def members(self, cluster: int) -> np.ndarray:
        """Row numbers of ``cluster``, most confident first."""
        return self.order[self.bounds[cluster]:self.bounds[cluster + 1]]


def check_assignments(labels, confidence, n_clusters: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate cluster labels and their confidences; return them as arrays with the number of clusters.

    Parameters
    ----------
    labels : array-like of int of shape (n_samples,)
        Cluster of each row, in ``0 .. n_clusters - 1``.
    confidence : array-like of shape (n_samples,)
        The probability of that cluster for the row (``predict_proba(X).max(axis=1)``), in [0, 1].
    n_clusters : int, optional
        Number of clusters (some may be empty); by default one more than the largest label.

    Returns
    -------
    labels : ndarray of int64 of shape (n_samples,)
    confidence : ndarray of float64 of shape (n_samples,)
    n_clusters : int

    Raises
    ------
    ValueError
        On shapes that differ, labels out of range or confidences outside [0, 1].
    """
    labels, confidence = np.asarray(labels), np.asarray(confidence, dtype=np.float64)
    if labels.ndim != 1 or labels.size == 0 or confidence.shape != labels.shape:
        raise ValueError(f"labels and confidence must be 1-D, non-empty and of one length, got shapes "
                         f"{labels.shape} and {confidence.shape}")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers (cluster numbers), got {labels.dtype}")
    k = int(labels.max()) + 1 if n_clusters is None else int(n_clusters)
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must lie in 0..{k - 1}, got {labels.min()}..{labels.max()}")
    if not (np.all(confidence >= 0.0) and np.all(confidence <= 1.0)):
        raise ValueError("confidence must hold probabilities in [0, 1]")
    return labels.astype(np.int64, copy=False), confidence, k


def index_clusters(labels: np.ndarray, confidence: np.ndarray, n_clusters: int) -> ClusterIndex:
    """Group the rows by cluster, most confident first (inputs checked by ``check_assignments``).

    Parameters
    ----------
    labels : ndarray of int64 of shape (n_samples,)
    confidence : ndarray of float64 of shape (n_samples,)
    n_clusters : int

    Returns
    -------
    ClusterIndex
    """
    order = np.lexsort((-confidence, labels))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=n_clusters))])
    return ClusterIndex(order.astype(np.int64, copy=False), bounds.astype(np.int64))


def stratified_sample(index: ClusterIndex, max_rows: int = DEFAULT_MAX_ROWS,
                      random_state: int | None = 0) -> np.ndarray:
    """A seeded sample of the rows, the same number from each cluster, in row order.

    Each cluster gives all its rows or ``max(1, max_rows // n_clusters)`` of them drawn at
    random, so a small cluster is never missed as in a uniform sample of a large data set.

    Parameters
    ----------
    index : ClusterIndex
    max_rows : int, default=20000
        Most rows drawn in all (at least one per non-empty cluster).
    random_state : int or None, default=0

    Returns
    -------
    ndarray of int64 of shape (m,)
        Sorted row numbers, ``m <= max(max_rows, n_clusters)``.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
    rng = np.random.default_rng(random_state)
    quota = max(1, int(max_rows) // index.n_clusters)
    chosen = []
    for cluster in range(index.n_clusters):
        members = index.members(cluster)
        chosen.append(members if len(members) <= quota else rng.choice(members, quota, replace=False))
    return np.sort(np.concatenate(chosen))


def on_disk(X) -> bool:
    """Whether ``X`` is rows kept on disk (:class:`~decluster.data.npy_rows.NpyRows`, or Parquet
    rows) rather than an array."""
    return isinstance(X, DiskRows)


def read_rows(X: np.ndarray | DiskRows, rows: np.ndarray, scaling: FeatureScaling | None = None) -> np.ndarray:
    """The rows ``rows`` of ``X`` as float64, in the data's own units.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), or rows on disk (NpyRows, ParquetRows)
        The data as the model sees them; rows on disk are read one at a time, in file order.
    rows : ndarray of int of shape (m,)
        Row numbers, in any order (the result follows it).
    scaling : FeatureScaling, optional
        The scaling that made ``X`` from the user's data, undone here (``x * factor + offset``)
        so that pictures and means are in the data's own units.

    Returns
    -------
    ndarray of float64 of shape (m, n_features)
    """
    rows = np.asarray(rows, dtype=np.int64)
    if on_disk(X):
        order = np.argsort(rows, kind="stable")
        values = np.empty((len(rows), X.shape[1]), dtype=np.float64)
        for position in order:
            values[position] = X.to_float(X.read(int(rows[position]), int(rows[position]) + 1))[0]
    else:
        values = np.asarray(X)[rows].astype(np.float64)
    if scaling is not None:
        values = values * scaling.factor.astype(np.float64) + scaling.offset.astype(np.float64)
    return values
