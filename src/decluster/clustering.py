"""DEC's clustering phase: soft assignment Q, target distribution P and KL(P || Q) refinement.

Equation numbers refer to Xie, Girshick & Farhadi, "Unsupervised Deep Embedding for
Clustering Analysis", ICML 2016.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from ._batching import endless_batches, map_in_batches
from .config import ClusteringSettings

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


def soft_assignments(encoder: nn.Module, centers: torch.Tensor, data: torch.Tensor, alpha: float) -> torch.Tensor:
    """Q for every row of ``data``, computed in batches without gradients.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps (b, n_features) to (b, d).
    centers : torch.Tensor of shape (k, d)
    data : torch.Tensor of shape (n, n_features)
    alpha : float

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    return map_in_batches(lambda block: soft_assignment(encoder(block), centers, alpha), data)


def compute_snapshot(
    encoder: nn.Module, centers: torch.Tensor, data: torch.Tensor, alpha: float
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


def _descend(
    encoder: nn.Module,
    centers: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    target: torch.Tensor,
    batches,
    n_steps: int,
    alpha: float,
) -> float:
    """Run ``n_steps`` SGD steps on KL(P || Q) with a fixed target; return the mean loss."""
    total = torch.zeros((), device=data.device)
    for _ in range(n_steps):
        index = next(batches)
        loss = kl_divergence(target[index], log_soft_assignment(encoder(data[index]), centers, alpha))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    return float(total) / n_steps


def refine_clusters(
    encoder: nn.Module,
    initial_centers: torch.Tensor,
    data: torch.Tensor,
    settings: ClusteringSettings,
    generator: torch.Generator,
    verbose: bool = False,
) -> RefinementResult:
    """Jointly refine the encoder and the centroids by minimising KL(P || Q) (section 3.1).

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

    Returns
    -------
    RefinementResult
    """
    centers = nn.Parameter(initial_centers.detach().clone())
    optimizer = torch.optim.SGD([*encoder.parameters(), centers], lr=settings.lr, momentum=settings.momentum)
    batches = endless_batches(len(data), settings.batch_size, generator)
    history, n_iter, converged = ClusteringHistory(), 0, False
    snapshot = _snapshot(encoder, centers, data, settings.alpha)
    with tqdm(total=settings.max_iter, desc="DEC clustering", disable=not verbose) as progress:
        while n_iter < settings.max_iter and not converged:
            n_steps = min(settings.update_interval, settings.max_iter - n_iter)
            encoder.train()
            loss = _descend(encoder, centers, optimizer, data, snapshot.target, batches, n_steps, settings.alpha)
            n_iter += n_steps
            previous, snapshot = snapshot, _snapshot(encoder, centers, data, settings.alpha)
            change = label_change_fraction(previous.labels, snapshot.labels)
            history.record(n_iter, loss, change)
            converged = change < settings.tol
            progress.update(n_steps)
            progress.set_postfix(loss=f"{loss:.4g}", changed=f"{change:.3%}")
            logger.info("iteration %d: KL %.5g, %.3f%% of labels changed", n_iter, loss, 100 * change)
    if not converged:
        warnings.warn(
            f"DEC clustering stopped at max_iter={settings.max_iter} with labels still changing "
            f"(more than tol={settings.tol:g} of them at the last update); raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return RefinementResult(centers.detach(), snapshot.labels, n_iter, converged, history)


def _snapshot(encoder: nn.Module, centers: torch.Tensor, data: torch.Tensor, alpha: float) -> TargetSnapshot:
    encoder.eval()
    return compute_snapshot(encoder, centers.detach(), data, alpha)
