"""Merging clusters while the clustering phase trains: which clusters the embedding connects.

Start with more clusters than the data holds; at each target update, look at the k-nearest-
neighbour graph of (a sample of) the current embedding. Two parts of one group lie side by side,
so many of their points have neighbours in the other part; two groups the embedding keeps apart
share few edges. The *connectivity* of clusters a and b is the share of the edges of the smaller
of the two that cross to the other:

    c_ab = (e_ab + e_ba) / (2 K min(n_a, n_b)),

e_ab the number of points of a among whose K nearest neighbours a point of b is counted (once
per neighbour), n_a the sampled points of a. It lies in [0, 1] and does not depend on the
clusters' sizes, so a small cluster next to a large one is judged as two equal ones are. The pair
of largest connectivity is merged (edge counts and sizes add up) while it reaches the threshold;
then the next one, until no pair does. The cost is that of the neighbour search on the sample,
whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors


@dataclass(frozen=True)
class MergeSettings:
    """When the clustering phase merges clusters.

    Attributes
    ----------
    threshold : float
        Merge two clusters whose connectivity reaches this value (in (0, 1]).
    n_neighbors : int
        K, the neighbours of each point in the graph.
    min_clusters : int
        Never merge below this many clusters.
    target_clusters : int or None
        Merge, connected or not, the most connected pairs until this many clusters remain
        (a known k); None: stop at the threshold.
    sample_size : int
        Rows of the embedding the graph is built on (a seeded sample of larger data).
    """

    threshold: float = 0.05
    n_neighbors: int = 15
    min_clusters: int = 2
    target_clusters: int | None = None
    sample_size: int = 20_000


def graph_neighbors(n_points: int, n_clusters: int, n_neighbors: int) -> int:
    """K for ``n_points`` in ``n_clusters`` clusters: ``n_neighbors``, but at most half the mean
    cluster size (at least 2), since a point of a cluster of n points has only n - 1 neighbours
    inside it: 15 for 20,000 points in 30 clusters, 5 for 178 points in 17. The clustering phase
    takes it for the clusters it starts with and keeps it as they merge: the threshold keeps one
    meaning over the run."""
    return min(n_neighbors, max(2, n_points // (2 * n_clusters)))


def edge_counts(embedding: np.ndarray, labels: np.ndarray, n_clusters: int, n_neighbors: int) -> np.ndarray:
    """Symmetric counts of K-nearest-neighbour edges between clusters, e_ab + e_ba.

    Parameters
    ----------
    embedding : ndarray of shape (m, d)
    labels : ndarray of int of shape (m,)
        Cluster of each point, in [0, n_clusters).
    n_clusters : int
    n_neighbors : int
        K (at most m - 1 are used).

    Returns
    -------
    ndarray of float64 of shape (n_clusters, n_clusters)
        Zero diagonal.
    """
    neighbours = min(n_neighbors, len(embedding) - 1)
    index = NearestNeighbors(n_neighbors=neighbours + 1).fit(embedding).kneighbors(embedding, return_distance=False)
    counts = np.zeros((n_clusters, n_clusters))
    np.add.at(counts, (np.repeat(labels, neighbours), labels[index[:, 1:]].ravel()), 1)
    counts = counts + counts.T
    np.fill_diagonal(counts, 0)
    return counts


def connectivity(counts: np.ndarray, sizes: np.ndarray, n_neighbors: int) -> np.ndarray:
    """c_ab = counts_ab / (2 K min(n_a, n_b)); 0 on the diagonal and for empty clusters.

    Parameters
    ----------
    counts : ndarray of shape (k, k)
        Symmetric edge counts (:func:`edge_counts`).
    sizes : ndarray of shape (k,)
        Points of each cluster.
    n_neighbors : int
        K.

    Returns
    -------
    ndarray of shape (k, k)
    """
    smaller = np.minimum.outer(sizes, sizes).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(smaller > 0, counts / (2 * n_neighbors * smaller), 0.0)
    np.fill_diagonal(values, 0)
    return values


def merge_plan(counts: np.ndarray, sizes: np.ndarray, settings: MergeSettings) -> np.ndarray:
    """Greedy merges: the most connected pair first, while it reaches ``settings.threshold``
    (or while more than ``settings.target_clusters`` remain), never below ``settings.min_clusters``.

    Parameters
    ----------
    counts : ndarray of shape (k, k)
        Symmetric edge counts (:func:`edge_counts`).
    sizes : ndarray of shape (k,)
        Points of each cluster.
    settings : MergeSettings

    Returns
    -------
    ndarray of int64 of shape (k,)
        New cluster of each old one, in [0, k'), numbered in the order of the old clusters; -1
        for a cluster without points, which is dropped.
    """
    counts, sizes = counts.astype(float).copy(), sizes.astype(float).copy()
    group = np.arange(len(sizes))
    alive = sizes > 0
    empty = ~alive
    floor = max(settings.min_clusters, settings.target_clusters or 0)
    while alive.sum() > floor:
        values = connectivity(counts, sizes, settings.n_neighbors)
        values[~alive] = values[:, ~alive] = -1
        a, b = np.unravel_index(np.argmax(values), values.shape)
        if settings.target_clusters is None and values[a, b] < settings.threshold:
            break
        keep, gone = min(a, b), max(a, b)
        counts[keep] += counts[gone]
        counts[:, keep] += counts[:, gone]
        counts[keep, keep] = counts[gone] = counts[:, gone] = 0
        sizes[keep], sizes[gone], alive[gone] = sizes[keep] + sizes[gone], 0, False
        group[group == gone] = keep
    plan = np.full(len(group), -1, dtype=np.int64)
    plan[~empty] = np.unique(group[~empty], return_inverse=True)[1]
    return plan


def merged_centers(centers: np.ndarray, embedding: np.ndarray, labels: np.ndarray, plan: np.ndarray) -> np.ndarray:
    """The centroids after the merges of ``plan``: a cluster left alone keeps its centroid, a
    merged one starts at the mean embedding of its sampled points.

    Parameters
    ----------
    centers : ndarray of shape (k, d)
    embedding : ndarray of shape (m, d)
        The sampled points' embedding.
    labels : ndarray of int of shape (m,)
        Their clusters before the merges, in [0, k).
    plan : ndarray of int of shape (k,)
        :func:`merge_plan`'s new cluster of each old one (-1: dropped).

    Returns
    -------
    ndarray of shape (k', d), k' = ``plan.max() + 1``
    """
    merged = np.empty((int(plan.max()) + 1, centers.shape[1]), dtype=centers.dtype)
    for new in range(len(merged)):
        members = np.flatnonzero(plan == new)
        merged[new] = centers[members[0]] if len(members) == 1 else \
            embedding[np.isin(labels, members)].mean(axis=0)
    return merged
