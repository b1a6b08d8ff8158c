"""DEC's clustering phase (section 3.1): the encoder and the centroids refined by KL(P || Q), with
P recomputed over the whole data every ``update_interval`` steps, as an objective of
:func:`decluster.training.loop.run_loop`.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from decluster.data.batching import BatchCursor, batch_cursor, map_in_batches
from decluster.data.streamed import Rows, is_streamed, layout_of
from decluster.io.checks import (
    expect_bool,
    expect_int,
    expect_list,
    expect_number,
    expect_object,
)
from decluster.nn.student_t import log_soft_assignment, soft_assignment
from decluster.objectives import idec_loss, kl_divergence, mean_squared_error
from decluster.training.checkpoint import FitSession, LoopState
from decluster.training.device import in_precision
from decluster.training.loop import Optimization, run_loop
from decluster.training.merging import (
    edge_counts,
    graph_neighbors,
    merge_plan,
    merged_centers,
)
from decluster.training.settings import ClusteringSettings
from decluster.training.targets import FrozenTarget, StoredTarget, check_saved

logger = logging.getLogger(__name__)


@dataclass
class ClusteringHistory:
    """What happened at each target update after the first.

    Attributes
    ----------
    iterations : list of int
        Mini-batch iterations done when the update was computed.
    losses : list of float
        Mean KL(P || Q) over the mini-batches since the previous update.
    label_changes : list of float
        Fraction of points whose cluster changed since the previous update (1.0 at an update
        that merged clusters).
    n_clusters : list of int
        Clusters after the update (they change only where clusters are merged; empty in a model
        saved before k could change).
    """

    iterations: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    label_changes: list[float] = field(default_factory=list)
    n_clusters: list[int] = field(default_factory=list)

    @classmethod
    def from_json(cls, value, where: str) -> ClusteringHistory:
        """The history stored as JSON by ``dataclasses.asdict``, checked field by field
        (``n_clusters`` may be absent or empty, as in files written before k could change)."""
        optional = {"n_clusters"} & set(expect_object(value, where))
        value = expect_object(value, where, {"iterations", "losses", "label_changes"} | optional)
        iterations = expect_list(value["iterations"], f"{where}.iterations", lambda v, w: expect_int(v, w, low=0))
        n = len(iterations)
        sizes = expect_list(value.get("n_clusters", []), f"{where}.n_clusters", lambda v, w: expect_int(v, w, low=1))
        if len(sizes) not in (0, n):  # empty: written before k could change (and saved again since)
            raise ValueError(f"{where}.n_clusters must have 0 or {n} entries, has {len(sizes)}")
        return cls(iterations, expect_list(value["losses"], f"{where}.losses", expect_number, n),
                   expect_list(value["label_changes"], f"{where}.label_changes", expect_number, n), sizes)

    def record(self, iteration: int, loss: float, label_change: float, n_clusters: int) -> None:
        """Append the values of one update."""
        self.iterations.append(iteration)
        self.losses.append(loss)
        self.label_changes.append(label_change)
        self.n_clusters.append(n_clusters)


@dataclass
class RefinementResult:
    """Outcome of :func:`refine_clusters`.

    Attributes
    ----------
    centers : torch.Tensor of shape (k, d)
        Refined centroids.
    labels : torch.Tensor of shape (n,)
        ``argmax_j q_ij`` under the final encoder and centroids.
    n_iter : int
        Mini-batch iterations run.
    converged : bool
        Whether the label-change criterion stopped the run before ``max_iter``.
    history : ClusteringHistory
    initial_sizes : torch.Tensor of shape (k,) or None
        Points per cluster under the initial encoder and centroids (all ranks together); None
        after resuming a checkpoint that did not keep them.
    """

    centers: torch.Tensor
    labels: torch.Tensor
    n_iter: int
    converged: bool
    history: ClusteringHistory
    initial_sizes: torch.Tensor | None


def _clustering_optimizer(parameters: list[torch.Tensor], settings: ClusteringSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=settings.lr)
    return torch.optim.SGD(parameters, lr=settings.lr, momentum=settings.momentum)


class ClusteringObjective:
    """DEC's (or IDEC's) clustering phase as an :class:`~decluster.training.loop.Objective`.

    The loss of a batch is KL(P || Q) (eq. 2) against the target P of its rows; with a decoder
    (IDEC) it is the reconstruction error plus ``settings.gamma`` KL(P || Q). Every
    ``settings.update_interval`` steps P is recomputed over the whole data (eq. 3) and the
    fraction of changed labels tested against ``settings.tol``. P is kept for every row of data
    in memory (:class:`~decluster.training.targets.StoredTarget`) and recomputed batch by batch
    from the frozen network of the last update for rows streamed from disk
    (:class:`~decluster.training.targets.FrozenTarget`).

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps (b, n_features) to (b, d); trained in place.
    centers : torch.nn.Parameter of shape (k, d)
        Trained in place.
    data : torch.Tensor of shape (n, n_features), or StreamedRows
    settings : ClusteringSettings
    decoder : torch.nn.Module, optional
        Maps (b, d) to (b, n_features); trained in place (IDEC).
    generator : torch.Generator, optional
        Source of the augmentation's draws and of the rows the merges look at (needed with
        ``settings.augmentation`` or ``settings.merging``).
    optimizer : torch.optim.Optimizer, optional
        The optimizer of ``centers``, whose state for them is dropped when merges change k
        (needed with ``settings.merging``).
    """

    stage = "clustering"

    def __init__(self, encoder: nn.Module, centers: nn.Parameter, data: Rows,
                 settings: ClusteringSettings, decoder: nn.Module | None = None,
                 generator: torch.Generator | None = None, optimizer: torch.optim.Optimizer | None = None) -> None:
        self.encoder, self.centers, self.data, self.settings = encoder, centers, data, settings
        self.generator, self.optimizer = generator, optimizer
        self.starting_k = len(centers)
        self.title = "DEC clustering" if decoder is None else "IDEC clustering"
        self._encode = in_precision(encoder, settings.precision)
        self._decode = None if decoder is None else in_precision(decoder, settings.precision)
        self.target = FrozenTarget(encoder, data, settings) if is_streamed(data) else \
            StoredTarget(self._encode, data, settings)
        self._target_ready = False
        self.initial_sizes: torch.Tensor | None = None
        self.loss_total = torch.zeros((), device=data.device)
        self.n_iter = self.steps_since_update = 0
        self.converged = False
        self.history = ClusteringHistory()
        encoder.train()

    @property
    def labels(self) -> torch.Tensor:
        """Hard labels of this rank's rows at the last target update, shape (n,)."""
        return self._ready_target().labels

    def _ready_target(self) -> StoredTarget | FrozenTarget:
        """The target, its first P computed when first needed from the initial centroids (a
        resumed loop restores its own instead), with the initial cluster sizes."""
        if not self._target_ready:
            self.encoder.eval()
            self.target.start(self.centers.detach())
            self.encoder.train()
            counts = sum(torch.bincount(block, minlength=len(self.centers))  # by blocks: no int64 copy of all labels
                         for block in self.target.labels.split(1 << 20))
            self.initial_sizes = self.settings.world.sum(counts)
            self._target_ready = True
        return self.target

    def batch_loss(self, index: torch.Tensor) -> torch.Tensor:
        clean = batch = self.data[index]
        if self.settings.augmentation is not None:  # Q of the augmented images, P of the clean ones
            batch = self.settings.augmentation(batch, self.generator)
        z = self._encode(batch)
        target = self._ready_target().batch(index, clean)
        kl = kl_divergence(target, log_soft_assignment(z, self.centers, self.settings.alpha))
        if self._decode is None:
            return kl
        return idec_loss(kl, mean_squared_error(self._decode(z), batch), self.settings.gamma)

    def after_step(self, loss: torch.Tensor, index: torch.Tensor, cursor: BatchCursor) -> dict[str, str] | None:
        self.loss_total += loss
        self.n_iter += 1
        self.steps_since_update += 1
        if self.steps_since_update < self.settings.update_interval and self.n_iter < self.settings.max_iter:
            return None
        self._update_target()
        return {"loss": f"{self.history.losses[-1]:.4g}", "changed": f"{self.history.label_changes[-1]:.3%}"}

    def _update_target(self) -> None:
        """Recompute P over the whole data, record the update and test the label-change stop."""
        world = self.settings.world
        loss = float(world.sum(self.loss_total)) / world.size / self.steps_since_update
        target = self._ready_target()
        self.encoder.eval()
        change = target.update(self.centers.detach())
        merged = self.settings.merging is not None and self._merge()
        change = 1.0 if merged else change
        self.history.record(self.n_iter, loss, change, len(self.centers))
        self.converged = change < self.settings.tol
        self.loss_total, self.steps_since_update = torch.zeros_like(self.loss_total), 0
        self.encoder.train()
        logger.info("iteration %d: KL %.5g, %.3f%% of labels changed", self.n_iter, loss, 100 * change)

    @torch.no_grad()
    def _merge(self) -> bool:
        """Merge the clusters the current embedding connects (:func:`~decluster.training.merging.merge_plan`
        on a seeded sample of the rows); on a merge, restart the centroids' optimizer state and P
        with the new k. Return whether k changed."""
        settings, n_rows = self.settings.merging, len(self.data)
        seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator))
        sample = np.arange(n_rows) if n_rows <= settings.sample_size else \
            np.sort(np.random.default_rng(seed).choice(n_rows, settings.sample_size, replace=False))
        rows = torch.from_numpy(sample).to(self.target.labels.device)
        embedding = map_in_batches(self.encoder, self.data[rows]).float().cpu().numpy()
        labels, k = self.target.labels[rows].cpu().numpy(), len(self.centers)
        neighbors = graph_neighbors(len(sample), self.starting_k, settings.n_neighbors)  # one graph for the run
        settings = dataclasses.replace(settings, n_neighbors=neighbors)
        counts = edge_counts(embedding, labels, k, settings.n_neighbors)
        plan = merge_plan(counts, np.bincount(labels, minlength=k), settings)
        if int(plan.max()) + 1 == k:
            return False
        centers = merged_centers(self.centers.detach().cpu().numpy(), embedding, labels, plan)
        self._replace_centers(torch.from_numpy(centers).to(self.centers.device))
        self.target.start(self.centers.detach())
        logger.info("iteration %d: %d clusters merged into %d", self.n_iter, k, len(centers))
        return True

    def _replace_centers(self, centers: torch.Tensor) -> None:
        """Train ``centers`` of shape (k', d) from now on in place of the current centroids: a new
        parameter in the optimizer's place of the old one, its optimizer state started afresh."""
        old, self.centers = self.centers, nn.Parameter(centers)
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["params"] = [self.centers if parameter is old else parameter for parameter in group["params"]]
            self.optimizer.state.pop(old, None)

    def finished(self) -> bool:
        return self.converged or self.n_iter >= self.settings.max_iter

    def position(self, cursor: BatchCursor) -> str:
        return f"clustering, iteration {self.n_iter + 1}"

    def progress(self) -> tuple[int, int]:
        return self.n_iter, self.settings.max_iter

    def state(self) -> LoopState:
        tensors = {"centers": self.centers.detach(), "loss_total": self.loss_total, **self._ready_target().state()}
        if self.initial_sizes is not None:
            tensors["initial_sizes"] = self.initial_sizes
        values = {"n_iter": self.n_iter, "steps_since_update": self.steps_since_update,
                  "converged": self.converged, "history": asdict(self.history)}
        return LoopState(tensors, values)

    def restore(self, saved: LoopState) -> None:
        tensors, values, k = saved.tensors, saved.values, len(self.centers)
        initial_k = k
        if self.settings.merging is not None and "centers" in tensors and tensors["centers"].ndim == 2:
            k = min(k, len(tensors["centers"]))  # merges may have made fewer clusters, never more
        check_saved(tensors, "centers", (k, self.centers.shape[1]), torch.float32)
        check_saved(tensors, "loss_total", (), torch.float32)
        if "initial_sizes" in tensors:
            check_saved(tensors, "initial_sizes", (initial_k,), torch.int64)
        self.target.restore(tensors, k)
        self._target_ready = True
        tensors = {name: tensors[name].to(self.data.device) for name in ("centers", "loss_total", "initial_sizes")
                   if name in tensors}
        self.initial_sizes = tensors.get("initial_sizes")
        self.loss_total = tensors["loss_total"]
        self.n_iter = expect_int(values.get("n_iter"), "n_iter", low=0)
        self.steps_since_update = expect_int(values.get("steps_since_update"), "steps_since_update", low=0)
        self.converged = expect_bool(values.get("converged"), "converged")
        self.history = ClusteringHistory.from_json(values.get("history"), "history")
        if len(tensors["centers"]) == len(self.centers):
            with torch.no_grad():
                self.centers.copy_(tensors["centers"])
        else:
            self._replace_centers(tensors["centers"].clone())


def refine_clusters(
    encoder: nn.Module,
    initial_centers: torch.Tensor,
    data: Rows,
    settings: ClusteringSettings,
    generator: torch.Generator,
    verbose: bool = False,
    session: FitSession | None = None,
    decoder: nn.Module | None = None,
) -> RefinementResult:
    """Jointly refine the encoder and the centroids by minimising KL(P || Q) (section 3.1).

    With a ``decoder`` (IDEC), the decoder is trained too and the loss is its reconstruction
    error plus ``settings.gamma`` KL(P || Q) (IDEC, Guo et al. 2017, eq. 1).

    P is recomputed over the whole data every ``settings.update_interval`` iterations. The run
    stops when fewer than ``settings.tol`` of the points change cluster between two updates,
    or after ``settings.max_iter`` iterations (with a :class:`ConvergenceWarning`).

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps (b, n_features) to (b, d); trained in place (pass a copy).
    initial_centers : torch.Tensor of shape (k, d)
    data : torch.Tensor of shape (n, n_features), or StreamedRows
        On the same device as the encoder.
    settings : ClusteringSettings
    generator : torch.Generator
        Shuffles the mini-batches (and draws the augmentation, if any).
    verbose : bool
        Show progress.
    session : FitSession, optional
        Checkpoints (stage ``"clustering"``), resumes and checks for divergence.
    decoder : torch.nn.Module, optional
        Maps (b, d) to (b, n_features); trained in place with the encoder (IDEC).

    Returns
    -------
    RefinementResult

    Raises
    ------
    DivergenceError
        If the loss becomes NaN or infinite.
    """
    session = session or FitSession(("clustering",), {}, world=settings.world)
    centers = nn.Parameter(initial_centers.detach().clone())
    trained = [*encoder.parameters(), centers, *([] if decoder is None else decoder.parameters())]
    optimization = Optimization(_clustering_optimizer(trained, settings),
                                batch_cursor(len(data), settings.batch_size, generator, settings.world,
                                             layout_of(data)),
                                world=settings.world)
    objective = ClusteringObjective(encoder, centers, data, settings, decoder, generator, optimization.optimizer)
    run_loop(objective, optimization, session, verbose)
    session.save("clustering", optimization.capture(objective), "the end of the clustering phase")
    if not objective.converged:
        method = "DEC" if decoder is None else "IDEC"
        warnings.warn(
            f"{method} clustering stopped at max_iter={settings.max_iter} with labels still changing "
            f"(more than tol={settings.tol:g} of them at the last update); raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    labels, centers = objective.labels, objective.centers  # merges may have replaced the centroids
    if settings.precision != "float32":  # final labels in float32, as predict computes them
        encoder.eval()
        labels = map_in_batches(lambda block: soft_assignment(encoder(block), centers.detach(), settings.alpha)
                                .argmax(dim=1).to(labels.dtype), data)
    return RefinementResult(centers.detach(), labels, objective.n_iter, objective.converged, objective.history,
                            objective.initial_sizes)
