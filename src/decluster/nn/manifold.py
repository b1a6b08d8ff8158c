"""N2D's clustering head (McConville et al., 2020): UMAP's manifold of an embedding, a Gaussian
mixture on it, the mixture's posterior, centroids in the embedding from that posterior, and
the placing of new points on the learned manifold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

AUTO_COMPONENTS = 10
"""Manifold dimension of ``n_components=None`` with ``n_clusters="auto"``."""

UMAP_INSTALL_HINT = ("N2D and init='manifold' need umap-learn, a dependency of decluster that is "
                     "missing here: pip install umap-learn")


def umap_class() -> type:
    """umap-learn's ``UMAP``, or an ImportError that says how to install it."""
    try:
        from umap import UMAP
    except ImportError:
        raise ImportError(UMAP_INSTALL_HINT) from None
    return UMAP


@dataclass(frozen=True)
class ManifoldSettings:
    """How the manifold and its mixture are fitted (N2D's defaults are the authors').

    Attributes
    ----------
    n_components : int
        Dimension of the manifold.
    n_neighbors : int
        UMAP's neighbourhood size (at most the number of points less one is used).
    min_dist : float
        UMAP's minimum distance between embedded points.
    n_init : int
        Restarts of the Gaussian mixture; the fit of highest likelihood is kept.
    verbose : bool
        Let UMAP report its progress.
    """

    n_components: int
    n_neighbors: int = 20
    min_dist: float = 0.0
    n_init: int = 10
    verbose: bool = False


def umap_manifold(embedding: np.ndarray, settings: ManifoldSettings, seed: int) -> np.ndarray:
    """UMAP coordinates of shape (n, n_components) of ``embedding`` (n, d); seeded and
    single-threaded, so reproducible."""
    n_neighbors = min(settings.n_neighbors, len(embedding) - 1)
    reducer = umap_class()(n_components=settings.n_components, n_neighbors=n_neighbors, min_dist=settings.min_dist,
                           random_state=seed, n_jobs=1, verbose=settings.verbose)
    return reducer.fit_transform(embedding).astype(np.float32)


def fit_mixture(manifold: np.ndarray, n_clusters: int, settings: ManifoldSettings, seed: int) -> GaussianMixture:
    """A Gaussian mixture of ``n_clusters`` full-covariance components fitted to ``manifold`` (n, c)."""
    return GaussianMixture(n_clusters, covariance_type="full", n_init=settings.n_init,
                           random_state=seed).fit(manifold)


def centers_from_posterior(embedding: np.ndarray, log_posterior: np.ndarray) -> np.ndarray:
    """Centroids in the embedding of the mixture's hard clusters.

    ``u_j = mean of z_i over the points i whose most probable component is j``; a component
    that is no point's most probable one takes the point of its highest posterior.

    Parameters
    ----------
    embedding : ndarray of shape (n, d)
        The points z_i.
    log_posterior : ndarray of shape (n, k)
        ``log p(j | x_i)`` (any scores whose row-wise argmax is the cluster will do).

    Returns
    -------
    ndarray of shape (k, d), dtype float32
    """
    labels = log_posterior.argmax(axis=1)
    centers = np.empty((log_posterior.shape[1], embedding.shape[1]), dtype=np.float32)
    for j in range(len(centers)):
        members = labels == j
        centers[j] = embedding[members].mean(axis=0) if members.any() else embedding[log_posterior[:, j].argmax()]
    return centers


def manifold_centers(embedding: np.ndarray, n_clusters: int, seed: int, verbose: bool = False) -> np.ndarray:
    """Initial centroids of shape (n_clusters, d) from N2D's clustering of ``embedding`` (n, d):
    UMAP to ``n_clusters`` dimensions, a Gaussian mixture there, and the mean embedding of each
    of its clusters (:func:`centers_from_posterior`)."""
    settings = ManifoldSettings(n_components=n_clusters, verbose=verbose)
    manifold = umap_manifold(embedding, settings, seed)
    mixture = fit_mixture(manifold, n_clusters, settings, seed)
    log_posterior = mixture_log_posterior(manifold, mixture.weights_, mixture.means_, mixture.covariances_)
    return centers_from_posterior(embedding, log_posterior)


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
