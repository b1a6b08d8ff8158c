"""The base of every estimator: parameters declared and checked once, the autoencoder and its
pretraining, data checks, seeds, phase timing and fitted state."""

from __future__ import annotations

import copy
import hashlib
import inspect
import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from decluster.data.augmentation import ImageAugmentation, image_shape_of
from decluster.data.disk_rows import DiskRows
from decluster.data.npy_rows import NpyRows
from decluster.data.streamed import StreamedRows, device_rows
from decluster.distributed import World, join_launched_world
from decluster.estimators.persistence import load_model, params_to_json, save_model
from decluster.estimators.validation import (
    AutoOr,
    Bool,
    Choice,
    ImageShape,
    InstanceOf,
    Integer,
    OrNone,
    Real,
    Resolved,
    Widths,
    check_parameters,
    check_real,
)
from decluster.exceptions import ClusterSizeWarning
from decluster.k_selection import SAMPLE_SIZE, candidate_range
from decluster.nn import architectures
from decluster.nn.conv_autoencoder import CONV_CHANNELS
from decluster.training.checkpoint import FitSession
from decluster.training.device import PRECISIONS, resolve_device, resolve_precision
from decluster.training.memory import MemoryEstimate, available_memory, check_fit_memory, estimate_fit_memory
from decluster.training.pretraining import pretrain_autoencoder, stages_of
from decluster.training.settings import (
    AUTO_FINETUNE_EPOCHS,
    AUTO_LAYER_EPOCHS,
    LR_SCHEDULES,
    OPTIMIZERS,
    PRETRAIN_MODES,
    PretrainSettings,
)

logger = logging.getLogger(__name__)
phase_logger = logging.getLogger("decluster.phases")

SEED_BOUND = np.iinfo(np.int32).max

SHRINK_RATIO = 0.25
"""A cluster that ends below this fraction of its initial size is reported (ClusterSizeWarning)."""

PRETRAINING_CHECKS: dict[str, Any] = {
    "hidden_dims": Widths(),
    "embedding_dim": Integer(1),
    "pretrain": Choice(PRETRAIN_MODES),
    "layer_epochs": AutoOr(Integer(0)),
    "finetune_epochs": AutoOr(Integer(0)),
    "pretrain_optimizer": Choice(OPTIMIZERS),
    "pretrain_lr": Real(0, None, "neither"),
    "pretrain_lr_schedule": Choice(LR_SCHEDULES),
    "pretrain_batch_size": Integer(1),
    "dropout": Real(0, 1, "left"),
    "augment": Bool(),
    "image_shape": OrNone(ImageShape()),
    "autoencoder": InstanceOf(architectures.AUTOENCODER_TYPES),
    "architecture": Choice(architectures.ARCHITECTURES),
    "device": Resolved("by resolve_device in fit"),
    "precision": Choice(PRECISIONS),
    "random_state": Resolved("by check_random_state in fit"),
    "verbose": Resolved("taken as a truth value"),
}
"""The constraints of the parameters that every estimator shares (those of the autoencoder)."""


def shrunken_clusters(initial_sizes: np.ndarray | None, final_sizes: np.ndarray,
                      ratio: float = SHRINK_RATIO) -> np.ndarray:
    """Indices of the clusters that ended empty or below ``ratio`` times their initial size.

    Parameters
    ----------
    initial_sizes : ndarray of shape (k,) or None
        Points per cluster at initialisation; None reports empty clusters only.
    final_sizes : ndarray of shape (k,)
    ratio : float

    Returns
    -------
    ndarray of int
    """
    shrunk = final_sizes == 0
    if initial_sizes is not None:
        shrunk |= final_sizes < ratio * initial_sizes
    return np.flatnonzero(shrunk)


def warn_if_clusters_shrank(method: str, labels: np.ndarray, n_clusters: int,
                            initial_sizes: np.ndarray | None = None) -> None:
    """One ``ClusterSizeWarning`` line naming the clusters that ended empty or far smaller than
    they began (the smallest first), with their sizes."""
    final_sizes = np.bincount(labels, minlength=n_clusters)
    shrunk = shrunken_clusters(initial_sizes, final_sizes)
    if not shrunk.size:
        return
    shrunk = shrunk[np.argsort(final_sizes[shrunk], kind="stable")]
    described = ", ".join(f"cluster {j}: {final_sizes[j]} points" + (
        "" if initial_sizes is None else f" ({initial_sizes[j]} at initialisation)") for j in shrunk[:3])
    more = f" and {shrunk.size - 3} more" if shrunk.size > 3 else ""
    what = "ended empty" if initial_sizes is None else f"ended empty or below {SHRINK_RATIO:g} of their initial size"
    warnings.warn(f"{method}: {shrunk.size} of {n_clusters} clusters {what} ({described}{more}); for clusters of "
                  "very different sizes see the user guide, 'Unknown number of clusters' (docs/guide/unknown-k.md)",
                  ClusterSizeWarning, stacklevel=3)


@dataclass(frozen=True)
class CheckpointOptions:
    """Where and how often a fit checkpoints, and whether it resumes (``fit``'s keyword arguments)."""

    directory: str | os.PathLike | None
    resume: bool
    interval: float


def data_fingerprint(X: np.ndarray | DiskRows) -> str:
    """SHA-256 of the checked rows as float32 values (read block by block from disk for
    :class:`~decluster.data.disk_rows.DiskRows`): the same for the same rows in memory and on disk."""
    if isinstance(X, DiskRows):
        return X.fingerprint()
    return hashlib.sha256(np.ascontiguousarray(X).data).hexdigest()


def _run_header(model: DeepClusteringEstimator, X: np.ndarray | DiskRows, seeds: list[int],
                arithmetic: dict[str, str]) -> dict:
    """What a checkpoint must match to be resumed: parameters, data, device type and precision
    (and the seeds it used)."""
    params = params_to_json(model.get_params(deep=False))
    for name in ("verbose", "device"):
        params.pop(name)
    header = {"params": params, "data": {"shape": list(X.shape), "sha256": data_fingerprint(X)},
              "arithmetic": arithmetic, "seeds": seeds}
    if model.autoencoder is not None:
        weights = b"".join(t.detach().cpu().numpy().tobytes() for t in model.autoencoder.state_dict().values())
        header["autoencoder_sha256"] = hashlib.sha256(weights).hexdigest()
    return header


def _constructor_parameters(cls: type) -> list[inspect.Parameter]:
    """The parameters of ``cls``'s constructor (without ``self``) and, where it takes
    ``**kwargs``, those of the next constructor of the method resolution order, which it passes
    them to, as keyword-only parameters (and so on up); a name both give is the subclass's."""
    parameters: dict[str, inspect.Parameter] = {}
    constructors = [klass.__init__ for klass in cls.__mro__ if "__init__" in vars(klass) and klass is not object]
    for depth, constructor in enumerate(constructors):
        own = list(inspect.signature(constructor).parameters.values())[1:]
        for parameter in own:
            if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                passed_on = parameter.replace(kind=parameter.KEYWORD_ONLY)  # reached through **kwargs
                parameters.setdefault(parameter.name, passed_on if depth else parameter)
        if all(parameter.kind != parameter.VAR_KEYWORD for parameter in own):
            break
    return list(parameters.values())


def constructor_defaults(cls: type) -> dict[str, Any]:
    """Each constructor parameter of ``cls`` with its default (``inspect.Parameter.empty`` if it
    has none), in the constructor's order.

    A constructor that takes ``**kwargs`` passes them on to the next constructor of the method
    resolution order (as :class:`~decluster.IDEC` passes DEC's parameters on to
    :class:`~decluster.DEC`), whose parameters follow; where both name a parameter, the
    subclass's default is the one kept.
    """
    return {parameter.name: parameter.default for parameter in _constructor_parameters(cls)}


def _param_defaults(model: DeepClusteringEstimator) -> dict[str, Any]:
    """The constructor's defaults as JSON values: what a checkpoint written before a parameter
    existed implies for it."""
    return params_to_json({name: default for name, default in constructor_defaults(type(model)).items()
                           if default is not inspect.Parameter.empty})


def _required_image_shape(params: dict[str, Any], n_features: int, needed_by: str) -> tuple[int, int, int]:
    """``(height, width, channels)`` of the checked ``image_shape``, which ``needed_by`` requires.

    Raises
    ------
    ValueError
        If ``image_shape`` is None or does not hold ``n_features`` values.
    """
    if params["image_shape"] is None:
        raise ValueError(f"{needed_by} needs image_shape=(height, width) or (height, width, channels)")
    return image_shape_of(params["image_shape"], n_features)


@dataclass(frozen=True)
class FitStart:
    """What every ``fit`` sets up before training, as :meth:`DeepClusteringEstimator._start_fit`
    returns it.

    Attributes
    ----------
    params : dict
        The checked parameters.
    X : ndarray of shape (n_samples, n_features), or DiskRows
        All rows, checked (every rank holds them, or reads them from disk).
    data : torch.Tensor of shape (n_shard, n_features), or StreamedRows
        This rank's rows (all of them in one process), on ``device`` or streamed to it.
    device : torch.device
    precision : str
        ``"float32"`` or ``"bfloat16"``.
    world : World
        The ranks of the fit.
    settings : PretrainSettings
    autoencoder : torch.nn.Module
        The network to pretrain (or the given one), on ``device``.
    session : FitSession
    generator : torch.Generator
        Seeded with the training seed plus this rank's number.
    last_seed : int
        The third seed (k-means or the manifold).
    """

    params: dict[str, Any]
    X: np.ndarray | DiskRows
    data: torch.Tensor | StreamedRows
    device: torch.device
    precision: str
    world: World
    settings: PretrainSettings
    autoencoder: torch.nn.Module
    session: FitSession
    generator: torch.Generator
    last_seed: int


@contextmanager
def stopwatch(times: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall time of the block in ``times[name]`` (and log the phase on ``decluster.phases``)."""
    phase_logger.debug("phase %s started", name)
    start = time.perf_counter()
    yield
    times[name] = time.perf_counter() - start
    phase_logger.debug("phase %s took %.2f s", name, times[name])


class DeepClusteringEstimator(ClusterMixin, TransformerMixin, BaseEstimator):
    """What DEC, IDEC and N2D share. A subclass declares ``_parameter_checks``, one constraint
    per constructor parameter (see :mod:`decluster.estimators.validation`); ``fit`` checks them
    all once with :meth:`_checked_params`. Its constructor may take its parent's parameters as
    ``**kwargs`` (see :func:`constructor_defaults`). It saves and loads with :meth:`save` and
    :meth:`load` by saying what its folder holds beyond what every method saves:
    :meth:`_saved_state`, :meth:`_restored_state` and :meth:`_restored_networks`."""

    _parameter_checks: ClassVar[dict[str, Any]] = PRETRAINING_CHECKS

    _auto_k_by_silhouette: ClassVar[bool] = True
    """Whether ``n_clusters="auto"`` means k chosen by the silhouette after pretraining (kept as
    ``k_selection_`` and saved); a method that finds k while it trains says False."""

    _stages_after_pretraining: ClassVar[tuple[str, ...]] = ()
    """The fit's stages after pretraining, as checkpoints name them; the first one is where a
    checkpoint written at the end of pretraining resumes."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give a constructor that takes its parent's parameters as ``**kwargs`` the signature of
        everything it accepts, so that ``inspect.signature`` and what reads it (scikit-learn's
        repr, which shows the parameters set, ``help``, the docs) see every parameter."""
        super().__init_subclass__(**kwargs)
        init = vars(cls).get("__init__")
        signature = None if init is None else inspect.signature(init)
        if signature is not None and any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            self_parameter = next(iter(signature.parameters.values()))
            init.__signature__ = signature.replace(parameters=[self_parameter, *_constructor_parameters(cls)])

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The names of the constructor's parameters, sorted, with those it takes as ``**kwargs``
        (:func:`constructor_defaults`): what ``get_params``, ``set_params`` and ``clone`` use."""
        return sorted(constructor_defaults(cls))

    def _checked_params(self) -> dict[str, Any]:
        """Every parameter, checked against its declared constraint.

        Raises
        ------
        TypeError, ValueError
            Naming the first parameter that breaks its constraint.
        """
        return check_parameters(self.get_params(deep=False), self._parameter_checks)

    def _check_params(self) -> None:
        """Check every parameter as ``fit`` does, without fitting (used when loading a model)."""
        self._checked_params()

    @staticmethod
    def _augmentation(params: dict[str, Any], n_features: int) -> ImageAugmentation | None:
        """The DEC-DA augmentation of ``augment=True`` for images of ``image_shape``, or None.

        Raises
        ------
        ValueError
            If ``augment`` is set without an ``image_shape``, or the shape does not hold
            ``n_features`` values.
        """
        if not params["augment"]:
            return None
        return ImageAugmentation(_required_image_shape(params, n_features, "augment=True"))

    @staticmethod
    def _pretrain_settings(params: dict[str, Any], precision: str, n_samples: int,
                           augmentation: ImageAugmentation | None = None) -> PretrainSettings:
        """The checked pretraining parameters as :class:`PretrainSettings`, ``"auto"`` epochs
        resolved for ``n_samples`` rows (see :class:`~decluster.training.settings.StepBudget`)."""
        budgets = {"layer_epochs": AUTO_LAYER_EPOCHS, "finetune_epochs": AUTO_FINETUNE_EPOCHS}
        epochs = {name: budget.epochs(n_samples, params["pretrain_batch_size"]) if params[name] == "auto"
                  else params[name] for name, budget in budgets.items()}
        return PretrainSettings(
            mode=params["pretrain"] if params["architecture"] == "mlp" else "end-to-end",
            layer_epochs=epochs["layer_epochs"], finetune_epochs=epochs["finetune_epochs"],
            optimizer=params["pretrain_optimizer"], lr=params["pretrain_lr"],
            lr_schedule=params["pretrain_lr_schedule"], batch_size=params["pretrain_batch_size"],
            dropout=params["dropout"], precision=precision, augmentation=augmentation,
        )

    @staticmethod
    def _check_n_clusters(params: dict[str, Any], n_samples: int) -> None:
        """Raise ``ValueError`` unless there are at least ``n_clusters`` samples or, with ``"auto"``,
        enough for some k of ``n_clusters_range`` to be scored."""
        if params["n_clusters"] == "auto":
            candidate_range(*params["n_clusters_range"], min(n_samples, SAMPLE_SIZE))
        elif n_samples < params["n_clusters"]:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={params['n_clusters']}")

    def _start_fit(self, X, options: CheckpointOptions) -> FitStart:
        """Forget an earlier fit, check the parameters and ``X``, join the ranks of a launched
        run and set up the autoencoder, the checkpoint session and the generator."""
        self._forget_fit()
        params = self._checked_params()
        X = self._check_rows(X, reset=True)
        self._check_fit_inputs(params, X)
        device = resolve_device(self.device)
        precision = resolve_precision(params["precision"], device)
        check_fit_memory(self._memory_estimate(params, X, device), available_memory(device), params)
        world = join_launched_world(device)
        augmentation = self._augmentation(params, X.shape[1])
        settings = replace(self._pretrain_settings(params, precision, X.shape[0], augmentation), world=world)
        logger.info("training on %s in %s (rank %d of %d)", device, precision, world.rank, world.size)
        seeds = world.broadcast_object(self._seeds(3))  # one model for all ranks, even unseeded
        autoencoder = self._initial_autoencoder(params, X.shape[1], torch.Generator().manual_seed(seeds[0])).to(device)
        session = self._open_session(X, autoencoder, settings.mode, seeds,
                                     {"device": device.type, "precision": precision}, options, world)
        _, train_seed, last_seed = session.header["seeds"]
        generator = torch.Generator(device=device).manual_seed(train_seed + world.rank)
        data = device_rows(X[world.shard(X.shape[0])], device)
        return FitStart(params, X, data, device, precision, world, settings, autoencoder, session, generator,
                        last_seed)

    def _check_fit_inputs(self, params: dict[str, Any], X: np.ndarray | DiskRows) -> None:
        """Raise ``ValueError`` if ``X`` cannot be fitted with these parameters (too few rows for
        ``n_clusters``, or an ``image_shape`` that does not hold a row's values)."""
        self._check_n_clusters(params, X.shape[0])
        if params["image_shape"] is not None:
            image_shape_of(params["image_shape"], X.shape[1])

    def _memory_estimate(self, params: dict[str, Any], X: np.ndarray | DiskRows,
                         device: torch.device) -> MemoryEstimate:
        """The least memory the fit holds (:func:`~decluster.training.memory.estimate_fit_memory`),
        from the parameters and the shape of ``X``, before the network exists."""
        given = params["autoencoder"]
        config = (architectures.check_config(given.config()) if given is not None
                  else self._architecture_config(params, X.shape[1]))
        k = params["n_clusters"] if params["n_clusters"] != "auto" else params["n_clusters_range"][1]
        batch_size = min(max(params.get("batch_size", 1), params["pretrain_batch_size"]), X.shape[0])
        on_device = device.type != "cpu" and not isinstance(X, DiskRows)
        return estimate_fit_memory(config, X.shape[0], k, batch_size, data_on_device=on_device)

    def _seeds(self, count: int) -> list[int]:
        """``count`` seeds drawn from ``random_state`` (weights, training, k-means or manifold)."""
        return [int(seed) for seed in check_random_state(self.random_state).randint(SEED_BOUND, size=count)]

    def _check_rows(self, X, *, reset: bool) -> np.ndarray | DiskRows:
        """``X`` checked: rows on disk (:class:`~decluster.data.disk_rows.DiskRows`: ``NpyRows``,
        ``ParquetRows``), or a ``np.memmap`` readable from its file, are checked
        block by block and stay on disk; anything else is validated into memory (:meth:`_check_data`).

        Raises
        ------
        ValueError
            If ``X`` has no rows, another feature count than the fit (unless ``reset``), or a
            NaN or infinity.
        """
        rows = X if isinstance(X, DiskRows) else NpyRows.from_memmap(X) if isinstance(X, np.memmap) else None
        if rows is None:
            return self._check_data(X, reset=reset)
        if rows.n_rows < 1:
            raise ValueError(f"Found array with 0 sample(s) (shape={rows.shape}) while a minimum of 1 is required.")
        if reset:
            self.n_features_in_ = rows.n_features
        elif rows.n_features != self.n_features_in_:
            raise ValueError(f"X has {rows.n_features} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")
        bad_row = rows.first_non_finite()
        if bad_row is not None:
            raise ValueError(f"Input X contains NaN or infinity (row {bad_row} of the file)")
        return rows

    def _check_data(self, X, *, reset: bool) -> np.ndarray:
        """Validate features as a finite 2-D float32 array (and their count, unless ``reset``)."""
        X = validate_data(self, X, reset=reset, dtype=np.float32, ensure_min_samples=1)
        return X if X.flags.writeable else np.array(X)  # torch shares memory only with writable arrays

    def _initial_autoencoder(self, params: dict[str, Any], n_features: int,
                             init_generator: torch.Generator) -> torch.nn.Module:
        """A copy of the given autoencoder, or a new one of ``architecture`` initialised from
        ``init_generator``."""
        given = params["autoencoder"]
        if given is None:
            return architectures.build(self._architecture_config(params, n_features), generator=init_generator)
        expected = architectures.n_features(architectures.check_config(given.config()))
        if expected != n_features:
            raise ValueError(f"autoencoder expects {expected} input features, X has {n_features}")
        return copy.deepcopy(given).eval()

    @staticmethod
    def _architecture_config(params: dict[str, Any], n_features: int) -> dict[str, Any]:
        """The ``config()`` of the autoencoder the parameters describe (``"conv"`` needs ``image_shape``)."""
        if params["architecture"] == "mlp":
            return {"kind": "mlp", "dims": [n_features, *params["hidden_dims"], params["embedding_dim"]]}
        return {"kind": "conv", "image_shape": list(_required_image_shape(params, n_features, "architecture='conv'")),
                "embedding_dim": params["embedding_dim"], "channels": list(CONV_CHANNELS)}

    def _open_session(self, X: np.ndarray | DiskRows, autoencoder: torch.nn.Module, mode: str, seeds: list[int],
                      arithmetic: dict[str, str], options: CheckpointOptions, world: World) -> FitSession:
        """The fit's :class:`FitSession`, resumed from the checkpoint folder if asked (every rank
        checks the folder before rank 0 claims it)."""
        if options.directory is not None and not isinstance(options.directory, (str, os.PathLike)):
            raise TypeError(f"checkpoint_dir must be a path, got {type(options.directory).__name__}")
        if not isinstance(options.resume, (bool, np.bool_)):
            raise TypeError(f"resume must be a bool, got {type(options.resume).__name__}")
        interval = check_real(options.interval, "checkpoint_interval", min_val=0)
        pretraining = () if self.autoencoder is not None else stages_of(autoencoder, mode)
        header = {} if options.directory is None else _run_header(self, X, seeds, arithmetic)
        if header and world.size > 1:
            header["world_size"] = world.size
        session = FitSession((*pretraining, *self._stages_after_pretraining), header, options.directory, interval,
                             world, _param_defaults(self))
        if options.resume:
            session.resume()
        else:
            session.check_folder()
        session.header.setdefault("seeds", seeds)
        world.barrier()
        return session

    def _pretrain(self, autoencoder: torch.nn.Module, data: torch.Tensor | StreamedRows, settings: PretrainSettings,
                  generator: torch.Generator, session: FitSession) -> dict[str, list[float]]:
        """Pretrain ``autoencoder`` in place (unless it was given) and checkpoint the result."""
        session.track("autoencoder", autoencoder)
        if self.autoencoder is not None:
            return {}
        losses = pretrain_autoencoder(autoencoder, data, settings, generator, bool(self.verbose), session)
        if not session.reached(self._stages_after_pretraining[0]):
            session.save(self._stages_after_pretraining[0], None, "the end of pretraining")
        return losses

    def _forget_fit(self) -> None:
        """Drop what an earlier fit learned, so that a fit that fails leaves an unfitted estimator."""
        for name in [name for name in vars(self) if name.endswith("_") and not name.startswith("_")]:
            delattr(self, name)

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once ``fit`` has finished (``labels_`` is set last); a failed fit leaves it unfitted."""
        return hasattr(self, "labels_")

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the fitted model to the folder ``path`` (safetensors weights and JSON).

        The folder is created if needed; a model of this class already there is replaced
        atomically (concurrent saves into one folder run one after the other, the last one
        wins). A folder holding anything else is refused.

        Parameters
        ----------
        path : str or os.PathLike
        overwrite : bool, default=False
            Save even into a folder holding files decluster did not write: its ``config.json``
            is replaced, every other file is kept.

        Raises
        ------
        ForeignFolderError
            A ``ValueError``: the folder holds files that are not a decluster model.
        """
        check_is_fitted(self)
        save_model(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike, device="auto") -> DeepClusteringEstimator:
        """Read a model written by :meth:`save`; never unpickles.

        Parameters
        ----------
        path : str or os.PathLike
            The folder given to :meth:`save`.
        device : str or torch.device, default="auto"
            Where to put the model.

        Raises
        ------
        ValueError
            If the folder is missing, incomplete, corrupted or not a decluster model.
        """
        return load_model(cls, path, device=device)

    def _saved_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """What the method saves beyond what every method saves (the parameters, the autoencoder,
        the feature count, the pretraining losses, k and the labels): fields of ``config.json``
        and tensors, which :meth:`_restored_state` reads back."""
        raise NotImplementedError(f"{type(self).__name__} does not say what it saves")

    def _restored_state(self, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                        architecture: dict[str, Any], n_clusters: int) -> dict[str, Any]:
        """The method's fitted attributes read back from a saved ``config.json`` and its tensors,
        checked (this estimator holds the saved parameters, unfitted).

        Must check every tensor of the folder, with
        :func:`~decluster.estimators.persistence.check_tensors` for the autoencoder of
        ``architecture`` and labels of ``n_clusters`` clusters (the fitted k) and its own.

        Raises
        ------
        ValueError, TypeError
            Naming the field or tensor that is wrong.
        """
        raise NotImplementedError(f"{type(self).__name__} does not say how it loads")

    def _restored_networks(self, autoencoder: torch.nn.Module,
                           tensors: dict[str, torch.Tensor]) -> dict[str, torch.nn.Module]:
        """The networks besides ``autoencoder_`` the method refined, by attribute name, rebuilt
        from the checked tensors (the saved ``autoencoder`` gives their architecture): none here."""
        return {}
