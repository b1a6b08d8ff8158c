"""DEC's clustering head: Student's t soft assignment Q to centroids and the target distribution P.

Equation numbers refer to Xie, Girshick & Farhadi, "Unsupervised Deep Embedding for
Clustering Analysis", ICML 2016.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from decluster.data.batching import INFERENCE_BATCH_SIZE, map_in_batches
from decluster.data.streamed import Rows
from decluster.distributed import World

ONE_PROCESS = World()


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


def soft_assignments(encoder: Callable[[torch.Tensor], torch.Tensor], centers: torch.Tensor, data: Rows,
                     alpha: float) -> torch.Tensor:
    """Q for every row of ``data``, computed in batches without gradients.

    Parameters
    ----------
    encoder : callable
        Maps (b, n_features) to (b, d), e.g. a network in eval mode.
    centers : torch.Tensor of shape (k, d)
    data : torch.Tensor of shape (n, n_features), or StreamedRows
    alpha : float

    Returns
    -------
    torch.Tensor of shape (n, k)
    """
    return map_in_batches(lambda block: soft_assignment(encoder(block), centers, alpha), data)


def compute_snapshot(
    encoder: Callable[[torch.Tensor], torch.Tensor], centers: torch.Tensor, data: Rows, alpha: float,
    world: World = ONE_PROCESS,
) -> TargetSnapshot:
    """Q over the rows of ``data`` in batches (no gradients), then P (eq. 3) and the hard labels.

    Parameters
    ----------
    encoder : callable
        Maps (b, n_features) to (b, d).
    centers : torch.Tensor of shape (k, d)
    data : torch.Tensor of shape (n, n_features), or StreamedRows
        Every row, or this rank's shard of them.
    alpha : float
    world : World, optional
        The ranks whose shards make up the data: ``f_j`` is summed over them, so that each
        rank's rows get exactly the P of a single process holding all rows.

    Returns
    -------
    TargetSnapshot
        P and labels of the rows of ``data``.
    """
    q = soft_assignments(encoder, centers, data, alpha)
    frequencies = torch.zeros(q.shape[1], dtype=q.dtype, device=q.device)
    for block in q.split(INFERENCE_BATCH_SIZE):  # f_j block by block, as a pass over streamed rows sums it
        frequencies += cluster_frequencies(block)
    frequencies = world.sum(frequencies)
    labels = q.argmax(dim=1)
    for block in q.split(INFERENCE_BATCH_SIZE):  # P overwrites Q block by block: one (n, k) tensor at a time
        block.copy_(target_distribution(block, frequencies))
    return TargetSnapshot(target=q, labels=labels)


def label_change_fraction(previous: torch.Tensor, current: torch.Tensor, world: World = ONE_PROCESS) -> float:
    """Fraction of points whose hard assignment differs between two updates.

    Parameters
    ----------
    previous, current : torch.Tensor of shape (n,)
        Labels of the same rows (this rank's shard, in a run of several ranks).
    world : World, optional
        The ranks whose counts are added: the fraction is over the rows of all shards.

    Returns
    -------
    float
    """
    changed = torch.count_nonzero(previous != current)
    changed, total = world.sum(torch.stack([changed, torch.full_like(changed, current.numel())])).tolist()
    return changed / total
