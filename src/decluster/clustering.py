"""DEC's clustering phase: soft assignment Q, target distribution P and KL(P || Q) refinement.

Equation numbers refer to Xie, Girshick & Farhadi, "Unsupervised Deep Embedding for
Clustering Analysis", ICML 2016.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.nn import functional as F

from ._batching import BatchCursor, map_in_batches
from ._device import in_precision
from ._progress import progress as show_progress
from .checkpoint import FitSession, LoopState, capture_loop, restore_loop
from .config import ClusteringSettings
from .objectives import idec_loss, mean_squared_error
from .io.checks import expect_bool, expect_int, expect_list, expect_number, expect_object

logger = logging.getLogger(__name__)


def squared_distances(z: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between embedded points and centroids.

    Parameters
    ----------
    z : torch.Tensor of shape (n, d)
    centers : torch.Tensor of shape (k, d)

    Returns
    -------
    torch.Tensor of shape (n, k)
        ``|z_i - u_j|^2``, computed as ``|z|^2 - 2 z.u + |u|^2`` (memory O(n k)).
    """
    cross = z @ centers.T
    norms = z.pow(2).sum(dim=1, keepdim=True) + centers.pow(2).sum(dim=1)
    return (norms - 2.0 * cross).clamp_min(0.0)


def log_soft_assignment(z: torch.Tensor, centers: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Logarithm of DEC's soft assignment Q (eq. 1), computed stably in log space.

    ``q_ij = (1 + |z_i - u_j|^2 / alpha)^(-(alpha + 1) / 2)``, normalised over j.

    Parameters
    ----------
    z : torch.Tensor of shape (n, d)
        Embedded points.
    centers : torch.Tensor of shape (k, d)
        Cluster centroids.
    alpha : float
        Degrees of freedom of the Student's t kernel.

    Returns
    -------
    torch.Tensor of shape (n, k)
        ``log q_ij``; each row's exponentials sum to one.
    """
    kernel = -0.5 * (alpha + 1.0) * torch.log1p(squared_distances(z, centers) / alpha)
    return kernel - torch.logsumexp(kernel, dim=1, keepdim=True)


def soft_assignment(z: torch.Tensor, centers: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """DEC's soft assignment Q (eq. 1): Student's t similarity of each point to each centroid.

    Parameters
    ----------
    z : torch.Tensor of shape (n, d)
    centers : torch.Tensor of shape (k, d)
    alpha : float

    Returns
    -------
    torch.Tensor of shape (n, k)
        Rows sum to one.
    """
    return log_soft_assignment(z, centers, alpha).exp()


def cluster_frequencies(q: torch.Tensor) -> torch.Tensor:
    """Soft cluster frequencies ``f_j = sum_i q_ij`` (eq. 3).

    Parameters
    ----------
    q : torch.Tensor of shape (n, k)

    Returns
    -------
    torch.Tensor of shape (k,)
        Summed over the rows given; a sharded run adds the shards' sums.
    """
    return q.sum(dim=0)


def target_distribution(q: torch.Tensor, frequencies: torch.Tensor | None = None) -> torch.Tensor:
    """DEC's auxiliary target distribution P (eq. 3).

    ``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')``.

    Parameters
    ----------
    q : torch.Tensor of shape (n, k)
        Soft assignments.
    frequencies : torch.Tensor of shape (k,), optional
        ``f_j`` over the whole data set. Defaults to ``cluster_frequencies(q)``, which is
        right when ``q`` holds every point.

    Returns
    -------
    torch.Tensor of shape (n, k)
        Rows sum to one.
    """
    if frequencies is None:
        frequencies = cluster_frequencies(q)
    weight = q.pow(2) / frequencies
    return weight / weight.sum(dim=1, keepdim=True)


def kl_divergence(p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """DEC's objective KL(P || Q) (eq. 2), averaged over the rows.

    Parameters
    ----------
    p : torch.Tensor of shape (n, k)
        Target distribution (treated as a constant).
    log_q : torch.Tensor of shape (n, k)
        Logarithm of the soft assignment.

    Returns
    -------
    torch.Tensor of shape ()
        ``(1/n) sum_i sum_j p_ij log(p_ij / q_ij)``; zero entries of P contribute zero.
    """
    return F.kl_div(log_q, p, reduction="batchmean")


@dataclass(frozen=True)
class TargetSnapshot:
    """The whole-data quantities computed at one target update.

    Attributes
    ----------
    target : torch.Tensor of shape (n, k)
        Target distribution P.
    labels : torch.Tensor of shape (n,)
        Hard assignments ``argmax_j q_ij``.
    """

    target: torch.Tensor
    labels: torch.Tensor


def soft_assignments(encoder: Callable[[torch.Tensor], torch.Tensor], centers: torch.Tensor, data: torch.Tensor,
                     alpha: float) -> torch.Tensor:
    """Q for every row of ``data``, computed in batches without gradients.

    Parameters
    ----------
    encoder : callable
        Maps (b, n_features) to (b, d), e.g. a network in eval mode.
    centers : torch.Tensor of shape (k, d)
    data : torch.Tensor of shape (n, n_features)
    alpha : float

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    return map_in_batches(lambda block: soft_assignment(encoder(block), centers, alpha), data)


def compute_snapshot(
    encoder: Callable[[torch.Tensor], torch.Tensor], centers: torch.Tensor, data: torch.Tensor, alpha: float
) -> TargetSnapshot:
    """Compute Q over the whole data in batches (no gradients), then P and the hard labels."""
    q = soft_assignments(encoder, centers, data, alpha)
    return TargetSnapshot(target=target_distribution(q, cluster_frequencies(q)), labels=q.argmax(dim=1))


def label_change_fraction(previous: torch.Tensor, current: torch.Tensor) -> float:
    """Fraction of points whose hard assignment differs between two updates."""
    changed = torch.count_nonzero(previous != current)
    return float(changed) / current.numel()


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
        Fraction of points whose cluster changed since the previous update.
    """

    iterations: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    label_changes: list[float] = field(default_factory=list)

    @classmethod
    def from_json(cls, value, where: str) -> ClusteringHistory:
        """The history stored as JSON by ``dataclasses.asdict``, checked field by field."""
        value = expect_object(value, where, {"iterations", "losses", "label_changes"})
        iterations = expect_list(value["iterations"], f"{where}.iterations", lambda v, w: expect_int(v, w, low=0))
        n = len(iterations)
        return cls(iterations, expect_list(value["losses"], f"{where}.losses", expect_number, n),
                   expect_list(value["label_changes"], f"{where}.label_changes", expect_number, n))

    def record(self, iteration: int, loss: float, label_change: float) -> None:
        """Append the values of one update."""
        self.iterations.append(iteration)
        self.losses.append(loss)
        self.label_changes.append(label_change)


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
    """

    centers: torch.Tensor
    labels: torch.Tensor
    n_iter: int
    converged: bool
    history: ClusteringHistory


@dataclass
class _RefinementProgress:
    """Where the clustering loop is: iterations, the current target and the loss since the last update."""

    snapshot: TargetSnapshot
    loss_total: torch.Tensor
    n_iter: int = 0
    steps_since_update: int = 0
    converged: bool = False
    history: ClusteringHistory = field(default_factory=ClusteringHistory)

    def finished(self, max_iter: int) -> bool:
        return self.converged or self.n_iter >= max_iter

    def state(self, centers: torch.Tensor) -> LoopState:
        tensors = {"centers": centers.detach(), "target": self.snapshot.target, "labels": self.snapshot.labels,
                   "loss_total": self.loss_total}
        values = {"n_iter": self.n_iter, "steps_since_update": self.steps_since_update,
                  "converged": self.converged, "history": asdict(self.history)}
        return LoopState(tensors, values)

    @classmethod
    def restore(cls, saved: LoopState, centers: torch.Tensor, n_samples: int) -> _RefinementProgress:
        """The progress saved by :meth:`state`, checked against the centroids and the data."""
        tensors, values = saved.tensors, saved.values
        _check_saved(tensors, "centers", tuple(centers.shape), torch.float32)
        _check_saved(tensors, "target", (n_samples, len(centers)), torch.float32)
        _check_saved(tensors, "labels", (n_samples,), torch.int64)
        _check_saved(tensors, "loss_total", (), torch.float32)
        if n_samples and not 0 <= int(tensors["labels"].min()) <= int(tensors["labels"].max()) < len(centers):
            raise ValueError("saved labels out of range")
        tensors = {name: tensor.to(centers.device) for name, tensor in tensors.items()}
        return cls(TargetSnapshot(tensors["target"], tensors["labels"]), tensors["loss_total"],
                   expect_int(values.get("n_iter"), "n_iter", low=0),
                   expect_int(values.get("steps_since_update"), "steps_since_update", low=0),
                   expect_bool(values.get("converged"), "converged"),
                   ClusteringHistory.from_json(values.get("history"), "history"))


def _check_saved(tensors: dict[str, torch.Tensor], name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    """Raise ``ValueError`` unless the saved tensor ``name`` has this shape and dtype and is finite."""
    tensor = tensors.get(name)
    if tensor is None or tuple(tensor.shape) != shape or tensor.dtype != dtype:
        raise ValueError(f"saved {name} is missing or not {dtype} of shape {shape}")
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"saved {name} holds NaN or infinite values")


def _clustering_loss(encode: Callable[[torch.Tensor], torch.Tensor], decode: Callable[[torch.Tensor], torch.Tensor] | None,
                     centers: torch.Tensor, batch: torch.Tensor, target: torch.Tensor,
                     settings: ClusteringSettings) -> torch.Tensor:
    """The loss of a batch of shape (b, n_features) with its target (b, k).

    DEC: KL(P || Q) (eq. 2). IDEC (``decode`` given): reconstruction + gamma KL(P || Q).
    """
    z = encode(batch)
    kl = kl_divergence(target, log_soft_assignment(z, centers, settings.alpha))
    if decode is None:
        return kl
    return idec_loss(kl, mean_squared_error(decode(z), batch), settings.gamma)


def _descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer, check: Callable[[torch.Tensor], None]) -> torch.Tensor:
    """One optimizer step on ``loss`` (after ``check`` has seen it); the loss, detached."""
    check(loss)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _clustering_optimizer(parameters: list[torch.Tensor], settings: ClusteringSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=settings.lr)
    return torch.optim.SGD(parameters, lr=settings.lr, momentum=settings.momentum)


def _update_target(progress: _RefinementProgress, encoder: nn.Module, centers: torch.Tensor,
                   data: torch.Tensor, settings: ClusteringSettings) -> None:
    """Recompute P over the whole data, record the update and test the label-change stop."""
    loss = float(progress.loss_total) / progress.steps_since_update
    previous, progress.snapshot = progress.snapshot, _snapshot(encoder, centers, data, settings)
    change = label_change_fraction(previous.labels, progress.snapshot.labels)
    progress.history.record(progress.n_iter, loss, change)
    progress.converged = change < settings.tol
    progress.loss_total, progress.steps_since_update = torch.zeros_like(progress.loss_total), 0
    encoder.train()
    logger.info("iteration %d: KL %.5g, %.3f%% of labels changed", progress.n_iter, loss, 100 * change)


def refine_clusters(
    encoder: nn.Module,
    initial_centers: torch.Tensor,
    data: torch.Tensor,
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
    data : torch.Tensor of shape (n, n_features)
        On the same device as the encoder.
    settings : ClusteringSettings
    generator : torch.Generator
        Shuffles the mini-batches.
    verbose : bool
        Show a progress bar.
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
    session = session or FitSession(("clustering",), {})
    centers = nn.Parameter(initial_centers.detach().clone())
    trained = [*encoder.parameters(), centers, *([] if decoder is None else decoder.parameters())]
    optimizer = _clustering_optimizer(trained, settings)
    cursor = BatchCursor(len(data), settings.batch_size, generator)
    progress = _starting_progress(session, cursor, optimizer, encoder, centers, data, settings)
    capture = lambda: capture_loop(cursor, optimizer, progress.state(centers))  # noqa: E731
    encode = in_precision(encoder, settings.precision)
    decode = None if decoder is None else in_precision(decoder, settings.precision)
    encoder.train()
    name = "DEC clustering" if decoder is None else "IDEC clustering"
    with show_progress(name, settings.max_iter, progress.n_iter, verbose) as bar:
        while not progress.finished(settings.max_iter):
            where = f"clustering, iteration {progress.n_iter + 1}"
            index = cursor.next()
            loss = _clustering_loss(encode, decode, centers, data[index], progress.snapshot.target[index], settings)
            progress.loss_total += _descend(loss, optimizer, lambda value: session.check_loss(value, where))
            progress.n_iter += 1
            progress.steps_since_update += 1
            bar.update()
            if progress.steps_since_update == settings.update_interval or progress.n_iter == settings.max_iter:
                _update_target(progress, encoder, centers, data, settings)
                bar.set_postfix(loss=f"{progress.history.losses[-1]:.4g}", changed=f"{progress.history.label_changes[-1]:.3%}")
            session.step("clustering", capture, where)
    session.save("clustering", capture(), "the end of the clustering phase")
    if not progress.converged:
        warnings.warn(
            f"DEC clustering stopped at max_iter={settings.max_iter} with labels still changing "
            f"(more than tol={settings.tol:g} of them at the last update); raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    labels = progress.snapshot.labels
    if settings.precision != "float32":  # final labels in float32, as predict computes them
        labels = soft_assignments(encoder.eval(), centers.detach(), data, settings.alpha).argmax(dim=1)
    return RefinementResult(centers.detach(), labels, progress.n_iter, progress.converged, progress.history)


def _starting_progress(session: FitSession, cursor: BatchCursor, optimizer: torch.optim.Optimizer,
                       encoder: nn.Module, centers: nn.Parameter, data: torch.Tensor,
                       settings: ClusteringSettings) -> _RefinementProgress:
    """A fresh start (P from the initial centroids), or the loop state of the resumed checkpoint."""
    saved = session.resume_point("clustering")
    if saved is None:
        return _RefinementProgress(_snapshot(encoder, centers, data, settings), torch.zeros((), device=data.device))
    with session.restoring("the clustering phase"):
        restore_loop(saved, cursor, optimizer)
        progress = _RefinementProgress.restore(saved, centers.detach(), len(data))
        with torch.no_grad():
            centers.copy_(saved.tensors["centers"])
    return progress


def _snapshot(encoder: nn.Module, centers: torch.Tensor, data: torch.Tensor,
              settings: ClusteringSettings) -> TargetSnapshot:
    encoder.eval()
    return compute_snapshot(in_precision(encoder, settings.precision), centers.detach(), data, settings.alpha)
