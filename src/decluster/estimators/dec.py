"""The public DEC estimator."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from decluster.data.batching import map_in_batches
from decluster.data.streamed import StreamedRows, device_rows, embed_rows
from decluster.distributed import World
from decluster.estimators.base import (
    PRETRAINING_CHECKS,
    CheckpointOptions,
    DeepClusteringEstimator,
    FitStart,
    stopwatch,
    warn_if_clusters_shrank,
)
from decluster.estimators.persistence import check_tensors
from decluster.estimators.validation import AutoOr, ChoiceOrCenters, Integer, IntegerRange, Real
from decluster.io.checks import expect_bool, expect_int
from decluster.io.model_folder import add_prefix, strip_prefix
from decluster.k_selection import SAMPLE_SIZE, KSelection, candidate_range, select_n_clusters
from decluster.nn import architectures
from decluster.nn.autoencoder import StackedAutoencoder
from decluster.nn.manifold import manifold_centers, umap_class
from decluster.nn.student_t import soft_assignment, target_distribution
from decluster.objectives import kl_divergence
from decluster.training.checkpoint import FitSession
from decluster.training.clustering import ClusteringHistory, refine_clusters
from decluster.training.settings import ClusteringSettings

logger = logging.getLogger(__name__)

MAX_ALPHA = 1e6


KMEANS_MAX_ROWS = 200_000
"""The centroids are initialised from at most this many rows of the embedding (a seeded sample of larger data)."""

INITS = ("kmeans", "manifold")
"""The ways to initialise the centroids (``init``)."""


def _kmeans_centers(embedding: np.ndarray, n_clusters: int, n_init: int, seed: int,
                    device: torch.device) -> torch.Tensor:
    """Initial centroids of shape (n_clusters, d): k-means with ``n_init`` restarts on the embedding f(X)."""
    kmeans = KMeans(n_clusters, n_init=n_init, random_state=seed).fit(embedding)
    logger.info("k-means on the embedding: inertia %.5g", kmeans.inertia_)
    return torch.as_tensor(kmeans.cluster_centers_, dtype=torch.float32, device=device)


def _initial_centers(embedding: np.ndarray, n_clusters: int, params: dict[str, Any], seed: int,
                     device: torch.device, verbose: bool) -> torch.Tensor:
    """Initial centroids of shape (n_clusters, d) by ``params["init"]``: k-means, N2D's mixture on
    UMAP's manifold of the embedding (:func:`~decluster.nn.manifold.manifold_centers`), or the
    given array."""
    if not isinstance(params["init"], str):
        return torch.as_tensor(params["init"], dtype=torch.float32, device=device)
    if params["init"] == "kmeans":
        return _kmeans_centers(embedding, n_clusters, params["n_init"], seed, device)
    centers = manifold_centers(embedding, n_clusters, seed, verbose)
    logger.info("centroids initialised from N2D's mixture on the manifold of the embedding")
    return torch.as_tensor(centers, dtype=torch.float32, device=device)


def init_phase(init) -> str:
    """The name of the initialisation phase in ``phase_times_``: ``init``, or ``"given"`` for centroids."""
    return init if isinstance(init, str) else "given"


def kmeans_sample(n_rows: int, seed: int) -> np.ndarray | None:
    """The rows k-means initialises from: None for all of them, or, above
    :data:`KMEANS_MAX_ROWS` rows, that many drawn without replacement (seeded), increasing."""
    if n_rows <= KMEANS_MAX_ROWS:
        return None
    generator = np.random.default_rng(seed)
    if n_rows <= 4 * KMEANS_MAX_ROWS:
        return np.sort(generator.permutation(n_rows)[:KMEANS_MAX_ROWS])
    while True:  # without a permutation of all rows: k of the distinct rows among 2k drawn, each subset as likely
        distinct = np.unique(generator.integers(0, n_rows, 2 * KMEANS_MAX_ROWS))
        if len(distinct) >= KMEANS_MAX_ROWS:
            return np.sort(generator.choice(distinct, KMEANS_MAX_ROWS, replace=False))


def _kmeans_embedding(encoder: torch.nn.Module, data: torch.Tensor | StreamedRows, n_rows: int, seed: int,
                      world: World) -> np.ndarray | None:
    """The embedding that k-means sees, on rank 0 (None on the other ranks): f(x) of every row,
    or of :func:`kmeans_sample`'s rows, each rank embedding those of its shard."""
    sample = kmeans_sample(n_rows, seed)
    if sample is None:
        return world.gather_rows(map_in_batches(encoder, data), n_rows).cpu().numpy()
    shard = world.shard(n_rows)
    mine = sample[(sample >= shard.start) & (sample < shard.stop)] - shard.start
    pieces = world.gather_objects(embed_rows(encoder, data, mine).cpu().numpy())
    return None if pieces is None else np.concatenate(pieces)


class DEC(DeepClusteringEstimator):
    """Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016).

    Pretrains a stacked autoencoder, initialises centroids by k-means on its embedding,
    then refines encoder and centroids together by minimising KL(P || Q) between the
    Student's t soft assignment Q and the sharpened target distribution P.

    Parameters
    ----------
    n_clusters : int or "auto", default=10
        Number of clusters k. ``"auto"`` chooses k in ``n_clusters_range`` after pretraining,
        by the mean silhouette of k-means on the embedding (see :class:`~decluster.KSelection`);
        :class:`~decluster.MergeIDEC` finds k while it trains instead.
    n_clusters_range : (int, int), default=(2, 30)
        The smallest and largest k that ``n_clusters="auto"`` tries.
    hidden_dims : sequence of int, default=(500, 500, 2000)
        Widths of the hidden encoder layers (the decoder mirrors them).
    embedding_dim : int, default=10
        Dimension of the embedding z.
    alpha : float, default=1.0
        Degrees of freedom of the Student's t kernel, in (0, 1e6] (far larger values overflow
        float32 in Q; towards the bound the kernel is already a Gaussian).
    pretrain : {"layerwise", "end-to-end"}, default="layerwise"
        How the autoencoder is pretrained, "layerwise" or "end-to-end". ``"layerwise"``: greedy denoising pretraining of each layer pair, then end-to-end
        fine-tuning (the paper). ``"end-to-end"``: the whole autoencoder trained at once.
    layer_epochs : int or "auto", default="auto"
        Epochs per greedy layer pair (``pretrain="layerwise"`` only). ``"auto"``: enough epochs
        for 2,500 optimizer steps, since the autoencoder needs steps more than passes (the paper
        also counts iterations), but at most 1.5 epochs per batch of an epoch, or 10 if that is
        more: 10 epochs on MNIST's 70,000 rows, 60 on 10,000 rows, 12 on 1,797 rows.
    finetune_epochs : int or "auto", default="auto"
        Epochs of end-to-end autoencoder training. ``"auto"``: enough epochs for 8,000 optimizer
        steps, but at most 5 per batch of an epoch, or 30 if that is more: 30 epochs on MNIST, 200
        on 10,000 rows, 40 on 1,797 rows, 30 on 178 rows.
    pretrain_optimizer : {"adam", "sgd"}, default="adam"
        Optimizer of the pretraining, "adam" or "sgd" (with momentum 0.9).
    pretrain_lr : float, default=1e-3
        Initial pretraining learning rate.
    pretrain_lr_schedule : {"constant", "step", "cosine"}, default="cosine"
        Learning-rate schedule of each pretraining stage: "constant", "step" or "cosine".
        ``"step"`` divides the rate by 10 after 40% and 80% of each stage (the paper's
        schedule); ``"cosine"`` anneals it to zero over each stage.
    pretrain_batch_size : int, default=256
        Mini-batch size of the pretraining.
    dropout : float, default=0.2
        Dropout rate used as corruption in layer-wise pretraining.
    augment : bool, default=False
        Train on randomly shifted (up to 10% of each side) and rotated (up to 10 degrees) copies
        of the images, drawn per image and batch from ``random_state`` (DEC-DA: Guo and others, 2018):
        pretraining reconstructs augmented images, and the clustering phase fits Q of augmented
        batches to the target P of the clean ones. Needs ``image_shape``.
    image_shape : tuple of int, optional
        ``(height, width)`` or ``(height, width, channels)`` of each row of X (flattened row-major,
        channels last); used by ``augment`` and ``architecture="conv"``.
    architecture : {"mlp", "conv"}, default="mlp"
        The autoencoder, "mlp" or "conv". ``"mlp"``: the paper's stacked fully connected network
        (``hidden_dims``). ``"conv"``: DCEC's convolutional one (Guo et al., ICONIP 2017: conv
        32 5x5, 64 5x5, 128 3x3, each of stride 2, then a dense embedding; decoder mirrored) for
        images of ``image_shape``, any size, pretrained end to end (``pretrain`` and
        ``hidden_dims`` do not apply).
    autoencoder : StackedAutoencoder, optional
        An already trained autoencoder. It is copied, never modified, and pretraining
        is skipped; ``hidden_dims`` and ``embedding_dim`` are then ignored.
    init : {"kmeans", "manifold"} or array-like of shape (n_clusters, embedding_dim), default="kmeans"
        How the centroids start, "kmeans", "manifold" or given centroids. ``"kmeans"``: k-means with ``n_init``
        restarts on the embedding (the paper). ``"manifold"``: the mean embedding of each cluster
        that N2D finds (McConville et al., 2020): UMAP maps the embedding to ``n_clusters``
        dimensions (n_neighbors 20, min_dist 0) and a Gaussian mixture of full covariances with
        10 restarts clusters it. With ``augment`` on MNIST it kept apart the digits that k-means
        merged on some seeds (see the benchmarks in the docs; on 8x8 images it did worse than
        N2D). It costs UMAP's time (about 1.5 minutes on 70,000 rows on a CPU) and needs
        umap-learn (a dependency of decluster).
    n_init : int, default=20
        Restarts of the k-means that initialises the centroids (``init="kmeans"``).
    update_interval : int, default=140
        Mini-batch iterations between recomputations of P over the whole data.
    tol : float, default=1e-3
        Stop when fewer than this fraction of points change cluster between two updates of P.
    max_iter : int, default=20000
        Maximum number of clustering iterations; reaching it raises a ``ConvergenceWarning``.
    batch_size : int, default=256
        Mini-batch size of the clustering phase.
    lr : float, default=0.01
        SGD learning rate of the clustering phase.
    momentum : float, default=0.9
        SGD momentum of the clustering phase.
    device : str or torch.device, default="auto"
        Torch device ("cpu", "cuda", "cuda:1", "mps" or "auto"). ``"auto"`` picks CUDA, then Apple MPS, then the CPU; resolved once in ``fit``.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of training, "auto", "float32" or "bfloat16". ``"bfloat16"`` runs the network's
        passes in bfloat16 mixed precision (weights, centroids, Q and P stay float32); ``"auto"``
        chooses it where the hardware computes bfloat16 natively (CUDA GPUs that support it,
        CPUs with Intel AMX) and float32 elsewhere. The final labels, ``predict`` and ``transform``
        always compute in float32.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, corruption, shuffling and k-means.
    verbose : bool, default=False
        Show progress bars.

    Attributes
    ----------
    labels_ : ndarray of int32 of shape (n_samples,)
        Cluster of each training point, ``argmax_j q_ij`` under the final model.
    cluster_centers_ : ndarray of shape (``n_clusters_``, embedding_dim)
        Centroids u_j in the embedding space.
    n_clusters_ : int
        The number of clusters: ``n_clusters``, or the one chosen with ``"auto"``.
    k_selection_ : KSelection or None
        With ``n_clusters="auto"``: the silhouette of each k tried and the choice; else None.
    n_iter_ : int
        Clustering iterations run.
    converged_ : bool
        Whether the label-change criterion stopped the clustering phase.
    history_ : ClusteringHistory
        Loss and label-change fraction at each update of P.
    pretrain_losses_ : dict of str to list of float
        Per-epoch reconstruction error of each pretraining stage (empty if an autoencoder
        was given).
    autoencoder_ : StackedAutoencoder
        The pretrained autoencoder (before the clustering phase).
    encoder_ : torch.nn.Module
        The encoder refined by the clustering phase.
    phase_times_ : dict of str to float
        Wall time in seconds of ``"pretrain"``, the initialisation (``"kmeans"`` or ``"manifold"``,
        as ``init``) and ``"clustering"``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str of shape (n_features,)
        The column names of ``X`` in ``fit``, when it had names that are all strings (a pandas
        or polars DataFrame, a pyarrow Table); absent otherwise, as in scikit-learn.
    device_ : torch.device
        Device the model lives on.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from decluster import DEC
    >>> X, _ = load_digits(return_X_y=True)
    >>> labels = DEC(n_clusters=10, random_state=0).fit_predict(X / 16.0)  # doctest: +SKIP
    """

    _refined_networks: tuple[str, ...] = ("encoder",)
    """The parts of the autoencoder the clustering phase refines (saved as ``<part>_``)."""

    _stages_after_pretraining = ("kmeans", "clustering")

    _parameter_checks: ClassVar[dict[str, Any]] = {
        **PRETRAINING_CHECKS,
        "n_clusters": AutoOr(Integer(1)),
        "n_clusters_range": IntegerRange(2),
        "alpha": Real(0, MAX_ALPHA, "right"),
        "init": ChoiceOrCenters(INITS),
        "n_init": Integer(1),
        "update_interval": Integer(1),
        "tol": Real(0, 1),
        "max_iter": Integer(1),
        "batch_size": Integer(1),
        "lr": Real(0, None, "neither"),
        "momentum": Real(0, 1, "left"),
    }

    def __init__(
        self,
        n_clusters: int | str = 10,
        *,
        n_clusters_range=(2, 30),
        hidden_dims=(500, 500, 2000),
        embedding_dim: int = 10,
        alpha: float = 1.0,
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
        init: str = "kmeans",
        n_init: int = 20,
        update_interval: int = 140,
        tol: float = 1e-3,
        max_iter: int = 20_000,
        batch_size: int = 256,
        lr: float = 0.01,
        momentum: float = 0.9,
        device="auto",
        precision: str = "auto",
        random_state=None,
        verbose: bool = False,
    ):
        self.n_clusters = n_clusters
        self.n_clusters_range = n_clusters_range
        self.hidden_dims = hidden_dims
        self.embedding_dim = embedding_dim
        self.alpha = alpha
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
        self.init = init
        self.n_init = n_init
        self.update_interval = update_interval
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    @staticmethod
    def _clustering_settings(params: dict[str, Any], start: FitStart) -> ClusteringSettings:
        """The checked clustering parameters as :class:`ClusteringSettings`."""
        return ClusteringSettings(
            alpha=params["alpha"], update_interval=params["update_interval"], tol=params["tol"],
            max_iter=params["max_iter"], batch_size=params["batch_size"], lr=params["lr"],
            momentum=params["momentum"], precision=start.precision, augmentation=start.settings.augmentation,
            world=start.world,
        )

    # ----------------------------------------------------------------- fitting
    def fit(self, X, y=None, *, checkpoint_dir=None, resume: bool = False, checkpoint_interval: float = 120.0):
        """Pretrain the autoencoder, initialise the centroids and run the clustering phase.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; finite numbers only.
        y : ignored
            Present for API consistency.
        checkpoint_dir : str or os.PathLike, optional
            Folder for checkpoints. They are written every ``checkpoint_interval`` seconds
            inside the training loops, at the end of each phase, and on SIGINT or SIGTERM
            (which then stop the fit with :class:`~decluster.exceptions.FitInterrupted`).
            Without ``resume``, a checkpoint already there is replaced.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir``. With the same ``X`` and
            parameters, a resumed fit ends with exactly the labels of an uninterrupted one
            on the same device.
        checkpoint_interval : float, default=120.0
            Seconds between checkpoints inside a training loop (0: after every step).

        Returns
        -------
        self : DEC

        Raises
        ------
        ValueError
            If ``X`` is empty, not 2-D, non-numeric or not finite, if it has fewer samples
            than ``n_clusters``, or if a parameter is out of range.
        TypeError
            If a parameter has the wrong type.
        CheckpointError
            A ``ValueError``: the checkpoint to resume is missing, unreadable or was written
            for other data or parameters.
        DivergenceError
            A ``RuntimeError``: a loss or parameter became NaN or infinite; the last good
            checkpoint is kept.
        FitInterrupted
            A ``KeyboardInterrupt``: SIGINT or SIGTERM arrived; a checkpoint was written.

        Notes
        -----
        Under ``torchrun --nproc_per_node N`` (``WORLD_SIZE`` > 1; the default process group is
        initialised if the caller has not done it: nccl on GPUs, gloo otherwise) every rank calls
        ``fit`` with the same ``X`` and trains on its shard of the rows: ``batch_size`` and
        ``pretrain_batch_size`` are split over the ranks, the gradients averaged, P and the stop
        test computed over all rows, k-means run by rank 0 on the whole embedding. Every rank
        ends with the same fitted model and all of ``labels_``; rank 0 writes the checkpoints
        (save the model from rank 0 too). ``random_state`` is rank 0's on every rank.
        """
        start = self._start_fit(X, CheckpointOptions(checkpoint_dir, resume, checkpoint_interval))
        session, settings, times = start.session, self._clustering_settings(start.params, start), {}
        with session.running():
            session.track_generator(start.generator)
            with stopwatch(times, "pretrain"):
                pretrain_losses = self._pretrain(start.autoencoder, start.data, start.settings, start.generator,
                                                 session)
                encoder, decoder = self._networks_to_refine(start.autoencoder, session)
            with stopwatch(times, init_phase(start.params["init"])):
                selection, initial_centers = self._initialisation(encoder, start)
            with stopwatch(times, "clustering"):
                result = refine_clusters(encoder, initial_centers, start.data, settings, start.generator,
                                         bool(self.verbose), session, decoder)
        self.autoencoder_, self.encoder_, self.device_ = start.autoencoder, encoder, start.device
        if decoder is not None:
            self.decoder_ = decoder
        self.cluster_centers_ = result.centers.cpu().numpy()
        self.n_clusters_, self.k_selection_ = len(result.centers), selection
        self.labels_ = start.world.gather_rows(result.labels.to(torch.int32), start.X.shape[0]).cpu().numpy()
        k_kept = len(result.centers) == len(initial_centers)  # sizes compare only while k has not changed
        initial_sizes = None if result.initial_sizes is None or not k_kept else result.initial_sizes.cpu().numpy()
        warn_if_clusters_shrank(type(self).__name__, self.labels_, self.n_clusters_, initial_sizes)
        self.n_iter_, self.converged_, self.history_ = result.n_iter, result.converged, result.history
        self.pretrain_losses_, self.phase_times_ = pretrain_losses, times
        session.raise_if_interrupted()
        return self

    def _check_fit_inputs(self, params: dict[str, Any], X) -> None:
        """Enough rows for k, umap-learn installed for ``init="manifold"``, and given centroids of
        the shape of k and the embedding."""
        super()._check_fit_inputs(params, X)
        if isinstance(params["init"], str):
            if params["init"] == "manifold":
                umap_class()
            return
        given = params["autoencoder"]
        width = params["embedding_dim"] if given is None else architectures.embedding_dim(given.config())
        expected = (params["n_clusters"], width)
        if params["n_clusters"] == "auto" or params["init"].shape != expected:
            raise ValueError(f"init: given centroids must have shape (n_clusters, embedding_dim) = {expected}, "
                             f"got {params['init'].shape}")

    def _networks_to_refine(self, autoencoder: StackedAutoencoder,
                            session: FitSession) -> tuple[torch.nn.Module, torch.nn.Module | None]:
        """Copies of the networks the clustering phase trains: DEC trains the encoder alone."""
        encoder = copy.deepcopy(autoencoder.encoder)
        session.track("encoder", encoder)
        return encoder, None

    def _initialisation(self, encoder: torch.nn.Module, start: FitStart) -> tuple[KSelection | None, torch.Tensor]:
        """k (with ``n_clusters="auto"``) and the initial centroids of shape (k, d) (by ``init``) on
        the whole embedding (a sample of :data:`KMEANS_MAX_ROWS` rows of larger data), computed by
        rank 0 and shared; or those the resumed checkpoint kept (its encoder has moved on since)."""
        params, session, world, n_rows = start.params, start.session, start.world, start.X.shape[0]
        if session.reached("clustering"):
            selection = self._kept_selection(params, session, n_rows)
            n_clusters = self._starting_n_clusters(params, selection, n_rows)
            centers = session.kept("initial_centers", (n_clusters, encoder[-1].out_features))
            return selection, centers.to(start.device)
        given = not isinstance(params["init"], str)  # given centroids need no embedding of the rows
        embedding = None if given else _kmeans_embedding(encoder, start.data, n_rows, start.last_seed, world)
        selection = self._select_n_clusters(embedding, start)
        n_clusters = self._starting_n_clusters(params, selection, n_rows)
        centers = torch.zeros((n_clusters, encoder[-1].out_features), device=start.device)
        if world.is_main:
            centers = _initial_centers(embedding, n_clusters, params, start.last_seed, start.device,
                                       bool(self.verbose))
        centers = world.broadcast(centers)
        session.keep("initial_centers", centers)
        session.save("clustering", None, "the end of the initialisation")
        return selection, centers

    @staticmethod
    def _select_n_clusters(embedding: np.ndarray | None, start: FitStart) -> KSelection | None:
        """With ``n_clusters="auto"``: k chosen by the silhouette on the embedding (by rank 0, shared
        and kept for a resumed fit); else None."""
        if start.params["n_clusters"] != "auto":
            return None
        low, high = start.params["n_clusters_range"]
        world = start.world
        chosen = select_n_clusters(embedding, low, high, random_state=start.last_seed) if world.is_main else None
        selection = world.broadcast_object(chosen)
        start.session.keep("k_selection_scores", torch.tensor(selection.scores, dtype=torch.float64))
        logger.info("n_clusters='auto': silhouette chose %d clusters", selection.n_clusters)
        return selection

    @staticmethod
    def _starting_n_clusters(params: dict[str, Any], selection: KSelection | None, n_rows: int) -> int:
        """The clusters the clustering phase starts with: ``n_clusters`` or the chosen k."""
        return params["n_clusters"] if selection is None else selection.n_clusters

    @staticmethod
    def _kept_selection(params: dict[str, Any], session: FitSession, n_rows: int) -> KSelection | None:
        """With ``n_clusters="auto"``, the choice of k the resumed checkpoint kept; else None."""
        if params["n_clusters"] != "auto":
            return None
        candidates = candidate_range(*params["n_clusters_range"], min(n_rows, SAMPLE_SIZE))
        scores = tuple(session.kept("k_selection_scores", (len(candidates),)).tolist())
        return KSelection.best_of(candidates, scores)

    # ----------------------------------------------------------------- inference
    def _fitted_inputs(self, X) -> torch.Tensor | StreamedRows:
        """Check that the model is fitted and ``X`` matches it; return ``X`` on the model's device."""
        check_is_fitted(self)
        return device_rows(self._check_rows(X, reset=False), self.device_)

    def _soft_assignments(self, X, then: Callable[[torch.Tensor], torch.Tensor] = lambda q: q) -> torch.Tensor:
        """``then(Q)`` of ``X``, computed block by block (``then`` maps (b, k) to (b, ...))."""
        data = self._fitted_inputs(X)
        centers = torch.from_numpy(self.cluster_centers_).to(self.device_)

        def block_assignments(block: torch.Tensor) -> torch.Tensor:
            q = soft_assignment(self.encoder_(block), centers, float(self.alpha))
            if not bool(torch.isfinite(q).all()):
                raise ValueError("the embedding of X is too far from every centroid to compute Q (values too "
                                 "large for float32); rescale X as the training data was scaled")
            return then(q)

        return map_in_batches(block_assignments, data)

    def predict_proba(self, X) -> np.ndarray:
        """Soft assignments Q (eq. 1): row i gives q_ij for each cluster j.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            Rows sum to one.
        """
        return self._soft_assignments(X).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Cluster of each point: ``argmax_j q_ij``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of int32 of shape (n_samples,)
        """
        return self._soft_assignments(X, lambda q: q.argmax(dim=1).to(torch.int32)).cpu().numpy()

    def transform(self, X) -> np.ndarray:
        """Embed ``X`` with the refined encoder, z = f(x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, embedding_dim)
        """
        data = self._fitted_inputs(X)
        return map_in_batches(self.encoder_, data).cpu().numpy()

    def score(self, X, y=None) -> float:
        """Negative DEC objective on ``X``: ``-KL(P || Q)``, with P computed from Q over ``X``.

        The analogue of :meth:`sklearn.cluster.KMeans.score`: higher is better (a lower
        loss), at most 0. Like the objective itself it is also 0 for a Q that assigns
        nothing (uniform rows), so to choose between models with labelled data prefer a
        label-based scorer such as ``"adjusted_rand_score"``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        float
        """
        q = self._soft_assignments(X)
        log_q = q.clamp_min(torch.finfo(q.dtype).tiny).log()
        return -float(kl_divergence(target_distribution(q), log_q))

    # ----------------------------------------------------------------- persistence
    def _saved_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The clustering phase's record, the refined networks and the centroids."""
        tensors = {"cluster_centers": torch.from_numpy(self.cluster_centers_)}
        for part in self._refined_networks:
            tensors |= add_prefix(getattr(self, f"{part}_").state_dict(), f"{part}.")
        metadata = {"n_iter": int(self.n_iter_), "converged": bool(self.converged_), "history": asdict(self.history_)}
        return metadata, tensors

    def _restored_state(self, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                        architecture: dict[str, Any], n_clusters: int) -> dict[str, Any]:
        """The checked record of the clustering phase and centroids; the tensors checked
        (:meth:`DeepClusteringEstimator._restored_state`)."""
        state = {
            "n_iter_": expect_int(config.get("n_iter"), "n_iter", low=0),
            "converged_": expect_bool(config.get("converged"), "converged"),
            "history_": ClusteringHistory.from_json(config.get("history"), "history"),
        }
        network = architectures.config_state_shapes(architecture)
        expected = {"cluster_centers": (n_clusters, architectures.embedding_dim(architecture))}
        for part in self._refined_networks:
            expected |= add_prefix(strip_prefix(network, f"{part}."), f"{part}.")
        check_tensors(tensors, architecture, n_clusters, {torch.float32: expected})
        return state | {"cluster_centers_": tensors["cluster_centers"].numpy()}

    def _restored_networks(self, autoencoder: torch.nn.Module,
                           tensors: dict[str, torch.Tensor]) -> dict[str, torch.nn.Module]:
        """The refined parts of the autoencoder (``encoder_``, and IDEC's ``decoder_``)."""
        networks = {}
        for part in self._refined_networks:
            networks[f"{part}_"] = network = copy.deepcopy(getattr(autoencoder, part))
            network.load_state_dict(strip_prefix(tensors, f"{part}."), strict=True)
        return networks
