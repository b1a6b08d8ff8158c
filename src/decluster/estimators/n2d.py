"""The N2D estimator: autoencoder embedding, then UMAP, then a Gaussian mixture (McConville et al., 2020)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted

from decluster.data.batching import map_in_batches
from decluster.data.streamed import device_rows
from decluster.estimators.base import (
    PRETRAINING_CHECKS,
    CheckpointOptions,
    DeepClusteringEstimator,
    stopwatch,
    warn_if_clusters_shrank,
)
from decluster.estimators.persistence import check_tensors
from decluster.estimators.validation import AutoOr, Integer, IntegerRange, OrNone, Real
from decluster.k_selection import KSelection, select_n_clusters
from decluster.nn import architectures
from decluster.nn.autoencoder import StackedAutoencoder
from decluster.nn.manifold import (
    ManifoldSettings,
    fit_mixture,
    manifold_dimension,
    mixture_log_posterior,
    place_on_manifold,
    umap_class,
    umap_manifold,
)

logger = logging.getLogger(__name__)

_SAVED_ARRAYS = {"embedding_": np.float32, "manifold_": np.float32, "weights_": np.float64, "means_": np.float64,
                 "covariances_": np.float64}
"""The fitted arrays a saved N2D holds as tensors (named without the underscore), with their dtypes."""


def _check_mixture(weights: torch.Tensor, covariances: torch.Tensor) -> None:
    """Raise ``ValueError`` unless the saved mixture weights are positive and sum to one and its
    covariances are symmetric positive definite."""
    if bool((weights <= 0).any()) or abs(float(weights.sum()) - 1) > 1e-4:
        raise ValueError("mixture weights must be positive and sum to one")
    if not torch.allclose(covariances, covariances.transpose(1, 2)) or bool(
            torch.linalg.cholesky_ex(covariances).info.any()):
        raise ValueError("mixture covariances must be symmetric positive definite")


class N2D(DeepClusteringEstimator):
    """N2D (McConville, Santos-Rodriguez, Piechocki & Craddock, ICPR 2020).

    Pretrains DEC's stacked autoencoder, maps its embedding to ``n_components`` dimensions with
    UMAP (n_neighbors 20, min_dist 0, as the authors) and clusters the result with a Gaussian
    mixture of full covariances. New points are placed on the manifold from their nearest
    training points in the embedding (inverse-distance weights; a training point maps to its
    own coordinates), so a saved model needs no pickle. Needs umap-learn
    (a dependency of decluster).

    Parameters
    ----------
    n_clusters : int or "auto", default=10
        Number of clusters (mixture components). ``"auto"`` chooses k in ``n_clusters_range`` by
        the mean silhouette of k-means on the manifold (see :class:`~decluster.KSelection`).
    n_clusters_range : (int, int), default=(2, 30)
        The smallest and largest k that ``n_clusters="auto"`` tries.
    n_neighbors : int, default=20
        UMAP's neighbourhood size; also the neighbours that place new points.
    min_dist : float, default=0.0
        UMAP's minimum distance between embedded points.
    n_components : int or None, default=None
        Dimension of the manifold; None means ``n_clusters`` (the authors' choice), or
        10 with ``n_clusters="auto"``, where k is chosen on the manifold.
    n_init : int, default=10
        Restarts of the Gaussian mixture (each initialised by k-means); the one of highest
        likelihood is kept. A single start can merge two clusters and split another: on a
        10,000-image MNIST subset, three single starts gave ACC 0.81, 0.83 and 0.95 on one
        manifold, where 5 or 20 restarts gave 0.95 every time.
    hidden_dims, embedding_dim, pretrain, layer_epochs, finetune_epochs, pretrain_optimizer, \
pretrain_lr, pretrain_lr_schedule, pretrain_batch_size, dropout, augment, image_shape, architecture, \
autoencoder, device, precision, random_state, verbose
        As :class:`~decluster.DEC`: the autoencoder and its pretraining (``augment`` acts on the
        pretraining only).

    Attributes
    ----------
    labels_ : ndarray of int32 of shape (n_samples,)
        Most probable mixture component of each training point.
    autoencoder_ : StackedAutoencoder
    embedding_ : ndarray of shape (n_samples, embedding_dim)
        Autoencoder embedding of the training data.
    manifold_ : ndarray of shape (n_samples, n_components)
        Its UMAP coordinates.
    weights_, means_, covariances_ : ndarray
        The Gaussian mixture: shapes (k,), (k, n_components), (k, n_components, n_components).
    n_clusters_ : int
        The number of clusters k: ``n_clusters``, or the one chosen with ``"auto"``.
    k_selection_ : KSelection or None
        With ``n_clusters="auto"``: the silhouette of each k tried and the choice; else None.
    pretrain_losses_ : dict of str to list of float
    phase_times_ : dict of str to float
        Wall time of ``"pretrain"``, ``"manifold"`` and ``"mixture"``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str of shape (n_features,)
        The column names of a DataFrame or Table given to ``fit`` (see :class:`DEC`).
    device_ : torch.device
    """

    def __init__(
        self,
        n_clusters: int | str = 10,
        *,
        n_clusters_range=(2, 30),
        n_neighbors: int = 20,
        min_dist: float = 0.0,
        n_components: int | None = None,
        n_init: int = 10,
        hidden_dims=(500, 500, 2000),
        embedding_dim: int = 10,
        pretrain: str = "layerwise",
        layer_epochs: int | str = "auto",
        finetune_epochs: int | str = "auto",
        pretrain_optimizer: str = "adam",
        pretrain_lr: float = 1e-3,
        pretrain_lr_schedule: str = "cosine",
        pretrain_batch_size: int = 256,
        dropout: float = 0.2,
        augment: bool = False,
        image_shape=None,
        architecture: str = "mlp",
        autoencoder: StackedAutoencoder | None = None,
        device="auto",
        precision: str = "auto",
        random_state=None,
        verbose: bool = False,
    ):
        self.n_clusters = n_clusters
        self.n_clusters_range = n_clusters_range
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_components = n_components
        self.n_init = n_init
        self.hidden_dims = hidden_dims
        self.embedding_dim = embedding_dim
        self.pretrain = pretrain
        self.layer_epochs = layer_epochs
        self.finetune_epochs = finetune_epochs
        self.pretrain_optimizer = pretrain_optimizer
        self.pretrain_lr = pretrain_lr
        self.pretrain_lr_schedule = pretrain_lr_schedule
        self.pretrain_batch_size = pretrain_batch_size
        self.dropout = dropout
        self.augment = augment
        self.image_shape = image_shape
        self.architecture = architecture
        self.autoencoder = autoencoder
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    _stages_after_pretraining = ("manifold",)

    _parameter_checks: ClassVar[dict[str, Any]] = {
        **PRETRAINING_CHECKS,
        "n_clusters": AutoOr(Integer(1)),
        "n_clusters_range": IntegerRange(2),
        "n_neighbors": Integer(2),
        "min_dist": Real(0),
        "n_components": OrNone(Integer(1)),
        "n_init": Integer(1),
    }

    def fit(self, X, y=None, *, checkpoint_dir=None, resume: bool = False, checkpoint_interval: float = 120.0):
        """Pretrain the autoencoder, embed the data, map it with UMAP and fit the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        checkpoint_dir, resume, checkpoint_interval
            As :meth:`DEC.fit`: pretraining is checkpointed and resumed exactly; the manifold and
            the mixture (short) are computed again after a resume.

        Returns
        -------
        self : N2D

        Raises
        ------
        ImportError
            If umap-learn is not installed (the message says how to install it).
        ValueError, TypeError
            For bad data or parameters.
        CheckpointError, DivergenceError, FitInterrupted
            As :meth:`DEC.fit`.
        """
        start = self._start_fit(X, CheckpointOptions(checkpoint_dir, resume, checkpoint_interval))
        session, times = start.session, {}
        with session.running():
            session.track_generator(start.generator)
            with stopwatch(times, "pretrain"):
                losses = self._pretrain(start.autoencoder, start.data, start.settings, start.generator, session)
        embedding = map_in_batches(start.autoencoder.eval().encoder, start.data)
        embedding = start.world.gather_rows(embedding, start.X.shape[0]).cpu().numpy()
        found = self._cluster_embedding(start.params, embedding, start.last_seed) if start.world.is_main else None
        manifold, mixture, selection, manifold_times = start.world.broadcast_object(found)
        self.autoencoder_, self.device_ = start.autoencoder, start.device
        self.embedding_, self.manifold_ = embedding, manifold
        self.weights_, self.means_, self.covariances_ = mixture.weights_, mixture.means_, mixture.covariances_
        self.pretrain_losses_, self.phase_times_ = losses, times | manifold_times
        self.n_clusters_, self.k_selection_ = mixture.n_components, selection
        self.labels_ = self._log_posterior_on_manifold(manifold).argmax(axis=1).astype(np.int32)
        warn_if_clusters_shrank(type(self).__name__, self.labels_, self.n_clusters_)
        session.raise_if_interrupted()
        return self

    def _check_fit_inputs(self, params: dict[str, Any], X: np.ndarray) -> None:
        """Enough rows for k and the neighbourhoods, and umap-learn installed."""
        super()._check_fit_inputs(params, X)
        n_clusters = params["n_clusters"]
        if X.shape[0] <= max(params["n_neighbors"], 0 if n_clusters == "auto" else n_clusters):
            raise ValueError(f"n_samples={X.shape[0]} should be > n_clusters={params['n_clusters']} and "
                             f"n_neighbors={params['n_neighbors']}")
        umap_class()

    def _cluster_embedding(self, params: dict[str, Any], embedding: np.ndarray,
                           seed: int) -> tuple[np.ndarray, GaussianMixture, KSelection | None, dict[str, float]]:
        """UMAP's manifold of the embedding, k (with ``"auto"``) and the fitted mixture, with the
        times of the ``"manifold"`` and ``"mixture"`` phases."""
        times: dict[str, float] = {}
        settings = ManifoldSettings(manifold_dimension(params["n_components"], params["n_clusters"]),
                                    params["n_neighbors"], params["min_dist"], params["n_init"], bool(self.verbose))
        with stopwatch(times, "manifold"):
            manifold = umap_manifold(embedding, settings, seed)
        with stopwatch(times, "mixture"):
            selection = self._k_selection(params, manifold, seed)
            n_clusters = params["n_clusters"] if selection is None else selection.n_clusters
            mixture = fit_mixture(manifold, n_clusters, settings, seed)
        return manifold, mixture, selection, times

    @staticmethod
    def _k_selection(params: dict[str, Any], manifold: np.ndarray, seed: int) -> KSelection | None:
        """With ``n_clusters="auto"``, k chosen on the manifold; else None."""
        if params["n_clusters"] != "auto":
            return None
        selection = select_n_clusters(manifold, *params["n_clusters_range"], random_state=seed)
        logger.info("n_clusters='auto': silhouette chose %d clusters", selection.n_clusters)
        return selection

    # ----------------------------------------------------------------- inference
    def _log_posterior_on_manifold(self, manifold: np.ndarray) -> np.ndarray:
        return mixture_log_posterior(manifold, self.weights_, self.means_, self.covariances_)

    def transform(self, X) -> np.ndarray:
        """The autoencoder embedding z = f(x), of shape (n_samples, embedding_dim)."""
        check_is_fitted(self)
        data = device_rows(self._check_rows(X, reset=False), self.device_)
        return map_in_batches(self.autoencoder_.encoder, data).cpu().numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Posterior of each mixture component for each point, of shape (n_samples, n_clusters)."""
        placed = place_on_manifold(self.transform(X), self.embedding_, self.manifold_, self.n_neighbors)
        return np.exp(self._log_posterior_on_manifold(placed)).astype(np.float32)

    def predict(self, X) -> np.ndarray:
        """Most probable component of each point; the training data get back ``labels_``."""
        return self.predict_proba(X).argmax(axis=1).astype(np.int32)

    def score(self, X, y=None) -> float:
        """Mean over ``X`` of the largest posterior probability: higher means more confident clusters."""
        return float(self.predict_proba(X).max(axis=1).mean())

    # ----------------------------------------------------------------- persistence
    def _saved_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The training embedding, its manifold coordinates and the mixture, as tensors."""
        return {}, {name.rstrip("_"): torch.from_numpy(np.ascontiguousarray(getattr(self, name), dtype=dtype))
                    for name, dtype in _SAVED_ARRAYS.items()}

    def _restored_state(self, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                        architecture: dict[str, Any], n_clusters: int) -> dict[str, Any]:
        """The checked embedding, manifold and mixture of ``n_clusters`` components
        (:meth:`DeepClusteringEstimator._restored_state`)."""
        n_samples = tensors["labels"].shape[0] if "labels" in tensors else -1
        n_components = manifold_dimension(self.n_components, self.n_clusters)
        single = {"embedding": (n_samples, architectures.embedding_dim(architecture)),
                  "manifold": (n_samples, n_components)}
        double = {"weights": (n_clusters,), "means": (n_clusters, n_components),
                  "covariances": (n_clusters, n_components, n_components)}
        check_tensors(tensors, architecture, n_clusters, {torch.float32: single, torch.float64: double})
        _check_mixture(tensors["weights"], tensors["covariances"])
        return {name: tensors[name.rstrip("_")].numpy() for name in _SAVED_ARRAYS}
