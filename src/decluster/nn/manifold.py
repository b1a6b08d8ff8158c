"""N2D's clustering head as pure functions: placing new points on a learned manifold, and the
posterior of a Gaussian mixture with full covariances (McConville et al., 2020).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp
from sklearn.neighbors import NearestNeighbors

AUTO_COMPONENTS = 10
"""Manifold dimension of ``n_components=None`` with ``n_clusters="auto"``."""


def manifold_dimension(n_components: int | None, n_clusters: int | str) -> int:
    """The manifold's dimension: ``n_components``, else ``n_clusters``, else (``"auto"``) ``AUTO_COMPONENTS``."""
    if n_components is not None:
        return n_components
    return AUTO_COMPONENTS if n_clusters == "auto" else n_clusters


def place_on_manifold(points: np.ndarray, reference: np.ndarray, reference_manifold: np.ndarray,
                      n_neighbors: int) -> np.ndarray:
    """Manifold coordinates of new points from those of their nearest reference points.

    A point that coincides with a reference point takes its coordinates exactly (so the
    training data map back to their own manifold coordinates); any other point takes the mean
    of its ``n_neighbors`` nearest reference points' coordinates weighted by inverse distance.

    Parameters
    ----------
    points : ndarray of shape (m, d)
        Embeddings of the new points.
    reference : ndarray of shape (n, d)
        Embeddings of the training points.
    reference_manifold : ndarray of shape (n, c)
        Their manifold coordinates.
    n_neighbors : int
        Neighbours averaged (at most n).

    Returns
    -------
    ndarray of shape (m, c)
    """
    index = NearestNeighbors(n_neighbors=min(n_neighbors, len(reference))).fit(reference)
    distances, neighbours = index.kneighbors(points)
    exact = distances[:, 0] == 0
    weights = 1.0 / np.where(exact[:, None], 1.0, distances)
    weights /= weights.sum(axis=1, keepdims=True)
    placed = np.einsum("mk,mkc->mc", weights, reference_manifold[neighbours])
    placed[exact] = reference_manifold[neighbours[exact, 0]]
    return placed.astype(np.float32)


def mixture_log_posterior(points: np.ndarray, weights: np.ndarray, means: np.ndarray,
                          covariances: np.ndarray) -> np.ndarray:
    """Log posterior ``log p(j | x_i)`` of each component of a Gaussian mixture.

    ``log p(j | x) = log w_j + log N(x; mu_j, S_j) - log sum_l w_l N(x; mu_l, S_l)``, with
    ``log N(x; mu, S) = -(c log 2 pi + log det S + (x - mu)^T S^-1 (x - mu)) / 2``, computed
    through the Cholesky factor of each S_j.

    Parameters
    ----------
    points : ndarray of shape (n, c)
    weights : ndarray of shape (k,)
        Mixing weights, positive, summing to one.
    means : ndarray of shape (k, c)
    covariances : ndarray of shape (k, c, c)
        Symmetric positive definite.

    Returns
    -------
    ndarray of shape (n, k), dtype float64
        Rows whose exponentials sum to one.
    """
    points = np.asarray(points, dtype=np.float64)
    n_components, dimension = means.shape
    joint = np.empty((len(points), n_components))
    for j in range(n_components):
        factor = np.linalg.cholesky(np.asarray(covariances[j], dtype=np.float64))
        whitened = solve_triangular(factor, (points - means[j]).T, lower=True)
        log_det = 2.0 * np.log(np.diag(factor)).sum()
        joint[:, j] = math.log(weights[j]) - 0.5 * (dimension * math.log(2 * math.pi) + log_det
                                                    + (whitened ** 2).sum(axis=0))
    return joint - logsumexp(joint, axis=1, keepdims=True)
