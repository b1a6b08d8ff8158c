"""External clustering metrics: accuracy under the best one-to-one label map, NMI and ARI."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils.validation import check_consistent_length, column_or_1d


@dataclass(frozen=True)
class ClusteringScores:
    """Agreement of a clustering with reference labels.

    Attributes
    ----------
    accuracy : float
        Clustering accuracy (ACC) under the best one-to-one map of clusters to classes.
    nmi : float
        Normalized mutual information (arithmetic normalisation, scikit-learn's default).
    ari : float
        Adjusted Rand index.
    """

    accuracy: float
    nmi: float
    ari: float


def _check_label_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    if y_true.size == 0:
        raise ValueError("y_true and y_pred must not be empty")
    return y_true, y_pred


@dataclass(frozen=True)
class LabelMatching:
    """The best one-to-one map of clusters to classes.

    Attributes
    ----------
    counts : ndarray of shape (n_classes, n_clusters)
        Contingency table, rows and columns in sorted label order.
    rows, cols : ndarray of shape (min(n_classes, n_clusters),)
        Matched pairs: class ``rows[i]`` goes with cluster ``cols[i]``.
    """

    counts: np.ndarray
    rows: np.ndarray
    cols: np.ndarray


def match_labels(y_true, y_pred) -> LabelMatching:
    """Match clusters to classes with the Hungarian algorithm on the contingency table.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels; their number may differ from the number of classes.

    Returns
    -------
    LabelMatching
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    counts = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return LabelMatching(counts=counts, rows=rows, cols=cols)


def cluster_accuracy(y_true, y_pred) -> float:
    """Clustering accuracy: the fraction of points correct under the best cluster-to-class map.

    ACC = max_m (1/n) sum_i 1{y_i = m(c_i)}, where m ranges over one-to-one maps from
    clusters to classes (DEC paper, eq. 10). The best map is found with the Hungarian
    algorithm (:func:`scipy.optimize.linear_sum_assignment`) on the contingency table.
    When there are more clusters than classes (or the reverse), the unmatched clusters
    count as wrong.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels (any hashable values).
    y_pred : array-like of shape (n_samples,)
        Cluster labels (any hashable values).

    Returns
    -------
    float
        Accuracy in [0, 1].
    """
    matching = match_labels(y_true, y_pred)
    return float(matching.counts[matching.rows, matching.cols].sum() / matching.counts.sum())


def evaluate(y_true, y_pred) -> ClusteringScores:
    """Compute ACC, NMI and ARI of a clustering against reference labels.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    ClusteringScores
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    return ClusteringScores(
        accuracy=cluster_accuracy(y_true, y_pred),
        nmi=float(normalized_mutual_info_score(y_true, y_pred)),
        ari=float(adjusted_rand_score(y_true, y_pred)),
    )
