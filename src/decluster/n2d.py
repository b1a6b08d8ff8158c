"""The N2D estimator: autoencoder embedding, then UMAP, then a Gaussian mixture (McConville et al., 2020)."""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _validation as check
from ._batching import map_in_batches
from ._device import PRECISIONS, resolve_device, resolve_precision
from ._pretraining import PretrainingMixin
from .autoencoder import StackedAutoencoder, pretrain_autoencoder
from .estimator import _SEED_BOUND, _stopwatch
from .manifold import mixture_log_posterior, place_on_manifold
from .persistence import load_n2d, save_n2d

logger = logging.getLogger(__name__)

UMAP_INSTALL_HINT = "N2D needs umap-learn: pip install 'decluster[umap]' (or pip install umap-learn)"


def _umap_class():
    """umap-learn's ``UMAP``, or an ImportError that says how to install it."""
    try:
        from umap import UMAP
    except ImportError:
        raise ImportError(UMAP_INSTALL_HINT) from None
    return UMAP


class N2D(PretrainingMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """N2D (McConville, Santos-Rodriguez, Piechocki & Craddock, ICPR 2020).

    Pretrains DEC's stacked autoencoder, maps its embedding to ``n_components`` dimensions with
    UMAP (n_neighbors 20, min_dist 0, as the authors) and clusters the result with a Gaussian
    mixture of full covariances. New points are placed on the manifold from their nearest
    training points in the embedding (inverse-distance weights; a training point maps to its
    own coordinates), so a saved model needs no pickle. Needs umap-learn
    (``pip install 'decluster[umap]'``).

    Parameters
    ----------
    n_clusters : int, default=10
        Number of clusters (mixture components).
    n_neighbors : int, default=20
        UMAP's neighbourhood size; also the neighbours that place new points.
    min_dist : float, default=0.0
        UMAP's minimum distance between embedded points.
    n_components : int or None, default=None
        Dimension of the manifold; None means ``n_clusters``.
    hidden_dims, embedding_dim, pretrain, layer_epochs, finetune_epochs, pretrain_optimizer, \
pretrain_lr, pretrain_lr_schedule, pretrain_batch_size, dropout, autoencoder, device, precision, \
random_state, verbose
        As :class:`~decluster.DEC`: the autoencoder and its pretraining.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Most probable mixture component of each training point.
    autoencoder_ : StackedAutoencoder
    embedding_ : ndarray of shape (n_samples, embedding_dim)
        Autoencoder embedding of the training data.
    manifold_ : ndarray of shape (n_samples, n_components)
        Its UMAP coordinates.
    weights_, means_, covariances_ : ndarray
        The Gaussian mixture: shapes (k,), (k, n_components), (k, n_components, n_components).
    pretrain_losses_ : dict of str to list of float
    phase_times_ : dict of str to float
        Wall time of ``"pretrain"``, ``"manifold"`` and ``"mixture"``.
    n_features_in_ : int
    device_ : torch.device
    """

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        n_neighbors: int = 20,
        min_dist: float = 0.0,
        n_components: int | None = None,
        hidden_dims=(500, 500, 2000),
        embedding_dim: int = 10,
        pretrain: str = "layerwise",
        layer_epochs: int = 10,
        finetune_epochs: int = 30,
        pretrain_optimizer: str = "adam",
        pretrain_lr: float = 1e-3,
        pretrain_lr_schedule: str = "cosine",
        pretrain_batch_size: int = 256,
        dropout: float = 0.2,
        autoencoder: StackedAutoencoder | None = None,
        device="auto",
        precision: str = "auto",
        random_state=None,
        verbose: bool = False,
    ):
        self.n_clusters = n_clusters
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_components = n_components
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
        self.autoencoder = autoencoder
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def _manifold_settings(self) -> tuple[int, int, float, int]:
        """``(n_clusters, n_neighbors, min_dist, n_components)``, checked."""
        n_clusters = check.check_positive_int(self.n_clusters, "n_clusters")
        n_components = n_clusters if self.n_components is None else check.check_positive_int(
            self.n_components, "n_components")
        return (n_clusters, check.check_positive_int(self.n_neighbors, "n_neighbors", min_val=2),
                check.check_real(self.min_dist, "min_dist", min_val=0), n_components)

    def _check_params(self) -> None:
        """Check every parameter as ``fit`` does, without fitting (used when loading a model)."""
        self._manifold_settings()
        check.check_widths(self.hidden_dims, "hidden_dims")
        check.check_positive_int(self.embedding_dim, "embedding_dim")
        self._pretrain_settings(check.check_choice(self.precision, "precision", PRECISIONS))

    def fit(self, X, y=None):
        """Pretrain the autoencoder, embed the data, map it with UMAP and fit the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : N2D

        Raises
        ------
        ImportError
            If umap-learn is not installed (the message says how to install it).
        ValueError, TypeError
            For bad data or parameters.
        """
        self._forget_fit()
        X = self._check_data(X, reset=True)
        n_clusters, n_neighbors, min_dist, n_components = self._manifold_settings()
        if X.shape[0] <= max(n_clusters, n_neighbors):
            raise ValueError(f"n_samples={X.shape[0]} should be > n_clusters={n_clusters} and "
                             f"n_neighbors={n_neighbors}")
        umap_class = _umap_class()
        device = resolve_device(self.device)
        settings = self._pretrain_settings(resolve_precision(check.check_choice(
            self.precision, "precision", PRECISIONS), device))
        init_seed, train_seed, manifold_seed = (int(s) for s in check_random_state(
            self.random_state).randint(_SEED_BOUND, size=3))
        autoencoder = self._initial_autoencoder(X.shape[1], torch.Generator().manual_seed(init_seed)).to(device)
        data, times = torch.from_numpy(X).to(device), {}
        with _stopwatch(times, "pretrain"):
            losses = {} if self.autoencoder is not None else pretrain_autoencoder(
                autoencoder, data, settings, torch.Generator(device=device).manual_seed(train_seed),
                bool(self.verbose))
        with _stopwatch(times, "manifold"):
            embedding = map_in_batches(autoencoder.eval().encoder, data).cpu().numpy()
            manifold = umap_class(n_components=n_components, n_neighbors=n_neighbors, min_dist=min_dist,
                                  random_state=manifold_seed, n_jobs=1, verbose=bool(self.verbose)
                                  ).fit_transform(embedding).astype(np.float32)
        with _stopwatch(times, "mixture"):
            mixture = GaussianMixture(n_clusters, covariance_type="full", random_state=manifold_seed).fit(manifold)
        self.autoencoder_, self.device_, self.embedding_, self.manifold_ = autoencoder, device, embedding, manifold
        self.weights_, self.means_, self.covariances_ = mixture.weights_, mixture.means_, mixture.covariances_
        self.pretrain_losses_, self.phase_times_ = losses, times
        self.labels_ = self._log_posterior_on_manifold(manifold).argmax(axis=1)
        return self

    # ----------------------------------------------------------------- inference
    def _log_posterior_on_manifold(self, manifold: np.ndarray) -> np.ndarray:
        return mixture_log_posterior(manifold, self.weights_, self.means_, self.covariances_)

    def transform(self, X) -> np.ndarray:
        """The autoencoder embedding z = f(x), of shape (n_samples, embedding_dim)."""
        check_is_fitted(self)
        data = torch.from_numpy(self._check_data(X, reset=False)).to(self.device_)
        return map_in_batches(self.autoencoder_.encoder, data).cpu().numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Posterior of each mixture component for each point, of shape (n_samples, n_clusters)."""
        placed = place_on_manifold(self.transform(X), self.embedding_, self.manifold_, self.n_neighbors)
        return np.exp(self._log_posterior_on_manifold(placed)).astype(np.float32)

    def predict(self, X) -> np.ndarray:
        """Most probable component of each point; the training data get back ``labels_``."""
        return self.predict_proba(X).argmax(axis=1)

    def score(self, X, y=None) -> float:
        """Mean over ``X`` of the largest posterior probability: higher means more confident clusters."""
        return float(self.predict_proba(X).max(axis=1).mean())

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the fitted model to the folder ``path`` (safetensors and JSON, as :meth:`DEC.save`)."""
        check_is_fitted(self)
        save_n2d(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike, device="auto") -> N2D:
        """Read a model written by :meth:`save`; never unpickles; a ValueError names any fault."""
        return load_n2d(cls, path, device=device)
