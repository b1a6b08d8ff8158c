"""``method="auto"``: a recipe chosen from the data, each branch of the rule set by a measurement.

The rule (the measurements are on the benchmarks page of the docs):

* **tables** (no ``image_shape``): DEC with its defaults, the paper's method; on the wine table it
  did best of the three methods.
* **images** (an ``image_shape``): N2D on an autoencoder pretrained with augmentation (random
  shifts and rotations), its pretraining as ``"auto"`` gives it (shorter pretraining cost MNIST
  0.01 to 0.11 ACC).
* **images with** ``refine=True``: then IDEC with augmentation refines N2D's clusters for
  :data:`REFINE_EPOCHS` passes over the data, and the refined clustering is kept only if it stays
  close to the one it started from (:func:`check_refinement`); otherwise N2D's is kept.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.validation import check_is_fitted

from decluster.data.augmentation import image_shape_of
from decluster.data.disk_rows import DiskRows
from decluster.estimators.base import SHRINK_RATIO, shrunken_clusters
from decluster.estimators.dec import DEC
from decluster.estimators.idec import IDEC
from decluster.estimators.n2d import N2D
from decluster.estimators.validation import (
    AutoOr,
    Bool,
    Choice,
    ImageShape,
    Integer,
    IntegerRange,
    OrNone,
    Resolved,
    check_parameters,
)
from decluster.exceptions import CheckpointError, RefinementWarning
from decluster.io.folders import folder_is_new
from decluster.io.model_folder import CONFIG_FILE
from decluster.nn.manifold import centers_from_posterior, mixture_log_posterior
from decluster.training.checkpoint import check_checkpoint_folder
from decluster.training.device import PRECISIONS

recipe_logger = logging.getLogger("decluster.progress.recipe")

REFINE_EPOCHS = 44
"""Passes over the data of the IDEC refinement (``refine=True``): 12,032 iterations of 256 rows on
MNIST, where 12,000 took N2D's 0.974 to 0.980 to 0.981 (5 seeds) and 2,240 left it at 0.966."""
MIN_AGREEMENT = 0.85
"""A refined clustering whose adjusted Rand index with its start is below this is not kept. On the
digits each of three refinements ended below N2D's ACC, with agreements 0.739, 0.759 and 0.812."""
STAGE_CLASSES = {"dec": DEC, "idec": IDEC, "n2d": N2D}
"""The estimators a recipe's stages name."""


@dataclass(frozen=True)
class Stage:
    """One estimator of a recipe and its every parameter."""

    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Recipe:
    """What ``method="auto"`` chose for the data, and why.

    Attributes
    ----------
    name : str
        ``"dec"``, ``"n2d"`` or ``"n2d+idec"`` (N2D, then IDEC from its clusters).
    reason : str
        The branch of the rule that chose it, in words.
    stages : tuple of Stage
        Each estimator run, in order, with all its parameters (the IDEC stage's ``autoencoder``
        and ``init`` come from the N2D stage and are not listed).
    """

    name: str
    reason: str
    stages: tuple[Stage, ...]

    def describe(self) -> str:
        """One line: the recipe and why."""
        return f"method='auto' chose {self.name}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """The recipe as JSON values."""
        return {"name": self.name, "reason": self.reason,
                "stages": [{"method": stage.method, "params": _json_params(stage.params)} for stage in self.stages]}


@dataclass(frozen=True)
class RefinementCheck:
    """Whether a refinement kept the clusters it started from (``AutoCluster.refinement_``).

    Attributes
    ----------
    accepted : bool
    agreement : float
        Adjusted Rand index between the start's labels and the refined ones.
    shrunk_clusters : tuple of int
        Clusters that ended empty or below ``SHRINK_RATIO`` of their size at the start.
    reason : str
    """

    accepted: bool
    agreement: float
    shrunk_clusters: tuple[int, ...] = field(default=())
    reason: str = ""


def check_refinement(start_labels: np.ndarray, refined_labels: np.ndarray, n_clusters: int,
                     min_agreement: float = MIN_AGREEMENT) -> RefinementCheck:
    """Judge a refinement without true labels: keep it only if no cluster collapsed and it agrees
    with the clustering it started from.

    A refinement sharpens clusters; one that empties a cluster (below ``SHRINK_RATIO`` of its
    starting size) or reassigns so many points that the adjusted Rand index with the start falls
    below ``min_agreement`` has moved away from what it refined, and cannot be checked without labels.

    Parameters
    ----------
    start_labels, refined_labels : ndarray of int of shape (n_samples,)
    n_clusters : int
    min_agreement : float

    Returns
    -------
    RefinementCheck
    """
    start_sizes = np.bincount(start_labels, minlength=n_clusters)
    shrunk = tuple(int(j) for j in shrunken_clusters(start_sizes, np.bincount(refined_labels, minlength=n_clusters)))
    agreement = float(adjusted_rand_score(start_labels, refined_labels))
    if shrunk:
        return RefinementCheck(False, agreement, shrunk, f"{len(shrunk)} cluster(s) fell below {SHRINK_RATIO:g} "
                               f"of their starting size (cluster {shrunk[0]}: {start_sizes[shrunk[0]]} points at the "
                               f"start)")
    if agreement < min_agreement:
        return RefinementCheck(False, agreement, shrunk, f"it agrees with its start by ARI {agreement:.3f}, "
                               f"below {min_agreement:g}")
    return RefinementCheck(True, agreement, shrunk, f"no cluster collapsed and it agrees with its start by ARI "
                           f"{agreement:.3f}")


def choose_recipe(n_samples: int, n_features: int, params: dict[str, Any]) -> Recipe:
    """The recipe for ``n_samples`` rows of ``n_features`` values under ``AutoCluster``'s checked
    ``params`` (images when ``params["image_shape"]`` is set).

    Returns
    -------
    Recipe
    """
    common = {name: params[name] for name in ("n_clusters", "n_clusters_range", "device", "precision",
                                              "random_state", "verbose")}
    if params["image_shape"] is None:
        return Recipe("dec", f"a table of {n_samples:,} rows and {n_features:,} features: DEC with its defaults "
                      "(the best method on the tables measured)", (Stage("dec", common),))
    images = f"{n_samples:,} images of {' x '.join(map(str, params['image_shape']))}"
    n2d = {**common, "augment": True, "image_shape": params["image_shape"]}
    if not params["refine"]:
        return Recipe("n2d", f"{images}: N2D on an autoencoder pretrained with augmentation (the best recipe "
                      "without refinement on the images measured)", (Stage("n2d", n2d),))
    max_iter = math.ceil(REFINE_EPOCHS * n_samples / IDEC().batch_size)
    idec = {**common, "augment": True, "image_shape": params["image_shape"], "max_iter": max_iter}
    return Recipe("n2d+idec", f"{images}, refine=True: N2D on an autoencoder pretrained with augmentation, then "
                  f"IDEC with augmentation from its clusters for {max_iter:,} iterations, kept if no cluster "
                  f"collapses and it agrees with N2D's by ARI >= {MIN_AGREEMENT:g}",
                  (Stage("n2d", n2d), Stage("idec", idec)))


def _json_params(params: dict[str, Any]) -> dict[str, Any]:
    return {name: list(value) if isinstance(value, tuple) else value for name, value in params.items()}


class AutoCluster(ClusterMixin, TransformerMixin, BaseEstimator):
    """The clustering method chosen from the data: what ``decluster fit`` runs by default.

    Tables get DEC; images get N2D on an autoencoder pretrained with augmentation and, with
    ``refine=True``, an IDEC refinement of N2D's clusters that is kept only when it stays close to
    them. The rule is in the user guide ("Choosing a method") and the measurements behind each
    branch on the benchmarks page of the docs. The recipe chosen is logged in one line (on ``decluster.progress.recipe``) and kept in
    ``recipe_``.

    Parameters
    ----------
    n_clusters : int or "auto", default=10
        Number of clusters, or ``"auto"`` to choose it as the chosen method does.
    n_clusters_range : (int, int), default=(2, 30)
        The smallest and largest k that ``n_clusters="auto"`` tries.
    image_shape : (int, int) or (int, int, int), optional
        ``(height, width)`` or ``(height, width, channels)`` when each row is an image (stored
        row-major, channels last); None for a table.
    refine : bool, default=False
        For images: refine N2D's clusters with IDEC, kept only if it stays close to them
        (about twice the time; on MNIST 0.981 instead of 0.974). ``refinement_`` says whether it
        was kept. Tables are refined by DEC in any case.
    device : {"auto", "cpu", "cuda", ...} or torch.device, default="auto"
    precision : {"auto", "float32", "bfloat16"}, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : bool, default=False

    Attributes
    ----------
    recipe_ : Recipe
        The recipe chosen, with every parameter of each stage.
    estimator_ : DEC, IDEC or N2D
        The fitted estimator whose clustering is kept; ``predict``, ``transform``,
        ``predict_proba`` and ``score`` are its.
    refinement_ : RefinementCheck or None
        For ``"n2d+idec"``: whether IDEC's refinement was kept, and why; else None.
    start_, refined_ : N2D and IDEC, or None
        For ``"n2d+idec"``: the N2D model the refinement started from and the IDEC model it
        ended with (kept in ``estimator_`` or not); else None.
    labels_ : ndarray of int32 of shape (n_samples,)
    n_clusters_ : int
    phase_times_ : dict of str to float
        Seconds of each phase of each stage (``"n2d.pretrain"``, ``"idec.clustering"``...).
    pretrain_losses_ : dict of str to list of float
    k_selection_ : KSelection or None
    n_features_in_ : int
    feature_names_in_ : ndarray of str of shape (n_features,)
        The column names of a DataFrame or Table given to ``fit`` (see :class:`DEC`).
    """

    _parameter_checks: ClassVar[dict[str, Any]] = {
        "n_clusters": AutoOr(Integer(1)),
        "n_clusters_range": IntegerRange(2),
        "image_shape": OrNone(ImageShape()),
        "refine": Bool(),
        "device": Resolved("by the chosen estimator"),
        "precision": Choice(PRECISIONS),
        "random_state": Resolved("by the chosen estimator"),
        "verbose": Resolved("taken as a truth value"),
    }

    def __init__(self, n_clusters: int | str = 10, *, n_clusters_range=(2, 30), image_shape=None,
                 refine: bool = False, device="auto", precision: str = "auto", random_state=None,
                 verbose: bool = False):
        self.n_clusters = n_clusters
        self.n_clusters_range = n_clusters_range
        self.image_shape = image_shape
        self.refine = refine
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None, *, checkpoint_dir=None, resume: bool = False, checkpoint_interval: float = 120.0):
        """Choose the recipe from the shape of ``X`` and run it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or rows on disk (NpyRows, ParquetRows)
        y : ignored
        checkpoint_dir, resume, checkpoint_interval
            As :meth:`DEC.fit`; each stage checkpoints in a subfolder named after its method.

        Returns
        -------
        self : AutoCluster
        """
        for name in [name for name in vars(self) if name.endswith("_") and not name.startswith("_")]:
            delattr(self, name)
        params = check_parameters(self.get_params(deep=False), self._parameter_checks)
        n_samples, n_features = _shape_of(X)
        if params["image_shape"] is not None:
            image_shape_of(params["image_shape"], n_features)
        recipe = choose_recipe(n_samples, n_features, params)
        recipe_logger.info(recipe.describe())
        options = {"resume": resume, "checkpoint_interval": checkpoint_interval}
        fitted: list = []
        for stage in recipe.stages:
            fitted.append(self._fit_stage(stage, X, fitted, checkpoint_dir, options))
        self._keep(recipe, fitted)
        return self

    @staticmethod
    def _fit_stage(stage: Stage, X, fitted_before: list, checkpoint_dir, options: dict):
        """Fit one stage; the IDEC stage starts from the N2D model before it (its autoencoder, its
        number of clusters and the centroids of its clusters)."""
        params = dict(stage.params)
        if stage.method == "idec":
            start = fitted_before[-1]
            params.update(n_clusters=start.n_clusters_, autoencoder=start.autoencoder_, init=n2d_centers(start))
        folder = None if checkpoint_dir is None else Path(checkpoint_dir) / stage.method
        if fitted_before and options["resume"] and not (folder / CONFIG_FILE).is_file():
            options = {**options, "resume": False}  # interrupted before this stage began
        return STAGE_CLASSES[stage.method](**params).fit(X, checkpoint_dir=folder, **options)

    def _keep(self, recipe: Recipe, fitted: list) -> None:
        """Set the fitted attributes from the stages' models, keeping IDEC's clustering only if
        :func:`check_refinement` accepts it."""
        kept, self.refinement_, self.start_, self.refined_ = fitted[-1], None, None, None
        if recipe.name == "n2d+idec":
            start, refined = fitted
            self.start_, self.refined_ = start, refined
            self.refinement_ = check_refinement(start.labels_, refined.labels_, start.n_clusters_)
            if not self.refinement_.accepted:
                kept = start
                warnings.warn(f"method='auto': IDEC's refinement was not kept ({self.refinement_.reason}); "
                              "the clusters are N2D's", RefinementWarning, stacklevel=3)
        self.phase_times_ = {f"{stage.method}.{name}": seconds for stage, model in zip(recipe.stages, fitted)
                             for name, seconds in model.phase_times_.items()}
        self.recipe_, self.estimator_ = recipe, kept
        self.pretrain_losses_ = fitted[0].pretrain_losses_
        self.k_selection_ = fitted[0].k_selection_
        self.n_features_in_, self.n_clusters_ = kept.n_features_in_, kept.n_clusters_
        if hasattr(kept, "feature_names_in_"):
            self.feature_names_in_ = kept.feature_names_in_
        self.labels_ = kept.labels_

    def predict(self, X) -> np.ndarray:
        """The cluster of each row, by the kept estimator."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    def predict_proba(self, X) -> np.ndarray:
        """Soft assignments of shape (n_samples, n_clusters), by the kept estimator."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def transform(self, X) -> np.ndarray:
        """The embedding of each row, of shape (n_samples, embedding_dim), by the kept estimator."""
        check_is_fitted(self)
        return self.estimator_.transform(X)

    def score(self, X, y=None) -> float:
        """The kept estimator's score (higher is better); see its ``score``."""
        check_is_fitted(self)
        return self.estimator_.score(X, y)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the kept estimator to the folder ``path``; read it back with its class's ``load``
        (``recipe_.stages`` names it)."""
        check_is_fitted(self)
        self.estimator_.save(path, overwrite=overwrite)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "labels_")


def check_stage_folders(checkpoint_dir: str | os.PathLike) -> None:
    """Refuse a checkpoint folder for ``AutoCluster`` unless it is new or holds only its stages'
    checkpoint folders (``n2d``, ``idec``, ``dec``), each a decluster checkpoint.

    Raises
    ------
    CheckpointError
        Naming the folder.
    """
    folder = Path(checkpoint_dir)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder}: exists and is not a folder")
    if folder_is_new(folder):
        return
    foreign = [entry.name for entry in folder.iterdir() if entry.name not in STAGE_CLASSES or not entry.is_dir()]
    if foreign:
        raise CheckpointError(f"{folder}: holds files that are not decluster checkpoints ({foreign[0]}); "
                              "choose a new or empty checkpoint folder")
    for entry in folder.iterdir():
        check_checkpoint_folder(entry)


def n2d_centers(model: N2D) -> np.ndarray:
    """Centroids in the embedding of a fitted N2D's clusters, shape (k, embedding_dim): the mean
    embedding of the points of each mixture component."""
    log_posterior = mixture_log_posterior(model.manifold_, model.weights_, model.means_, model.covariances_)
    return centers_from_posterior(model.embedding_, log_posterior)


def _shape_of(X) -> tuple[int, int]:
    """``(n_samples, n_features)`` of a 2-D array-like or rows on disk, without copying them."""
    shape = X.shape if isinstance(X, (DiskRows, np.ndarray)) else np.shape(X)
    if len(shape) != 2:
        raise ValueError(f"Expected a 2-D array of shape (n_samples, n_features), got shape {tuple(shape)}")
    return int(shape[0]), int(shape[1])
