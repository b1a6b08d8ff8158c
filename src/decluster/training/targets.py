"""Where DEC's target P lives between two updates (eq. 3): kept for every row, or recomputed
for each batch from a frozen copy of the network that defined it.

P changes only at a target update: ``p_ij`` is a function of ``q_ij`` under the encoder and
centroids of that update and of the frequencies ``f_j = sum_i q_ij`` over all rows. So P can
be kept, one row of k values for every row of the data (:class:`StoredTarget`, for data in
memory), or recomputed for the rows of each batch from a frozen copy of that encoder and those
centroids and the k frequencies (:class:`FrozenTarget`, for rows streamed from disk: memory
that does not grow with the rows beyond their labels, at the price of one more forward pass of
each batch). On a CPU whose matrix products give each row the same result whatever the batch,
the two give the same P to the bit; the tests check it through the labels.

Both keep the hard labels of the last update, for the stop test and as the fit's labels.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from decluster.data.batching import INFERENCE_BATCH_SIZE
from decluster.data.streamed import Rows
from decluster.nn.student_t import (
    TargetSnapshot,
    cluster_frequencies,
    compute_snapshot,
    label_change_fraction,
    soft_assignment,
    target_distribution,
)
from decluster.training.device import in_precision
from decluster.training.settings import ClusteringSettings

Encode = Callable[[torch.Tensor], torch.Tensor]


def check_saved(tensors: dict[str, torch.Tensor], name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    """Raise ``ValueError`` unless the saved tensor ``name`` has this shape and dtype and is finite."""
    tensor = tensors.get(name)
    if tensor is None or tuple(tensor.shape) != shape or tensor.dtype != dtype:
        raise ValueError(f"saved {name} is missing or not {dtype} of shape {shape}")
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"saved {name} holds NaN or infinite values")


def _check_labels(labels: torch.Tensor, k: int) -> None:
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < k:
        raise ValueError("saved labels out of range")


class StoredTarget:
    """P and the labels of every row, computed over the whole data at each update and kept.

    Parameters
    ----------
    encode : callable
        The encoder being trained (in the fit's precision); put in eval mode by the caller
        around :meth:`start` and :meth:`update`.
    data : torch.Tensor of shape (n, n_features), or StreamedRows
    settings : ClusteringSettings
        ``alpha`` and the ranks (``world``).
    """

    def __init__(self, encode: Encode, data: Rows, settings: ClusteringSettings) -> None:
        self.encode, self.data, self.settings = encode, data, settings
        self.snapshot: TargetSnapshot | None = None

    @property
    def labels(self) -> torch.Tensor:
        """Hard labels of this rank's rows at the last update, shape (n,)."""
        return self.snapshot.labels

    def start(self, centers: torch.Tensor) -> None:
        """Compute the first P, from the initial encoder and ``centers`` of shape (k, d)."""
        self.snapshot = compute_snapshot(self.encode, centers, self.data, self.settings.alpha, self.settings.world)

    def batch(self, index: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """P of the rows ``index`` (clean ``rows`` of shape (b, n_features)), shape (b, k)."""
        return self.snapshot.target[index]

    def update(self, centers: torch.Tensor) -> float:
        """Recompute P with the current encoder and ``centers``; return the fraction of labels changed."""
        previous_labels = self.snapshot.labels
        self.snapshot = None  # the old P goes before the new one is computed: one (n, k) tensor at a time
        self.start(centers)
        return label_change_fraction(previous_labels, self.snapshot.labels, self.settings.world)

    def state(self) -> dict[str, torch.Tensor]:
        return {"target": self.snapshot.target, "labels": self.snapshot.labels}

    def restore(self, tensors: dict[str, torch.Tensor], k: int) -> None:
        if "frequencies" in tensors:
            raise ValueError("the checkpoint was written by a fit of rows streamed from disk; resume it with them")
        check_saved(tensors, "target", (len(self.data), k), torch.float32)
        check_saved(tensors, "labels", (len(self.data),), torch.int64)
        _check_labels(tensors["labels"], k)
        device = self.data.device
        self.snapshot = TargetSnapshot(tensors["target"].to(device), tensors["labels"].to(device))


class FrozenTarget:
    """P recomputed for each batch from a frozen copy of the encoder and centroids of the last
    update and the frequencies ``f_j`` over all rows; only the labels (int32) are kept per row.

    Parameters
    ----------
    encoder : torch.nn.Module
        The encoder being trained; copied (frozen) at each update.
    data : torch.Tensor of shape (n, n_features), or StreamedRows
    settings : ClusteringSettings
    """

    def __init__(self, encoder: nn.Module, data: Rows, settings: ClusteringSettings) -> None:
        self.encoder, self.data, self.settings = encoder, data, settings
        self.frozen = copy.deepcopy(encoder).eval().requires_grad_(False)
        self._frozen_encode = in_precision(self.frozen, settings.precision)
        self.centers: torch.Tensor | None = None
        self.frequencies: torch.Tensor | None = None
        self.labels = torch.zeros(len(data), dtype=torch.int32, device=data.device)

    @torch.no_grad()
    def _freeze(self, centers: torch.Tensor) -> int:
        """Freeze the current encoder and ``centers``; compute f_j and the labels over all rows in
        one pass; return how many of this rank's labels changed."""
        self.frozen.load_state_dict(self.encoder.state_dict())
        self.centers = centers.detach().clone()
        frequencies = torch.zeros(len(centers), device=self.labels.device)
        changed, start = 0, 0
        for block in self.data.split(INFERENCE_BATCH_SIZE):  # the blocks and order of compute_snapshot's sum
            q = soft_assignment(self._frozen_encode(block), self.centers, self.settings.alpha)
            frequencies += cluster_frequencies(q)
            labels = q.argmax(dim=1).to(torch.int32)
            changed += int(torch.count_nonzero(labels != self.labels[start: start + len(block)]))
            self.labels[start: start + len(block)] = labels
            start += len(block)
        self.frequencies = self.settings.world.sum(frequencies)
        return changed

    def start(self, centers: torch.Tensor) -> None:
        self._freeze(centers)

    @torch.no_grad()
    def batch(self, index: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        q = soft_assignment(self._frozen_encode(rows), self.centers, self.settings.alpha)
        return target_distribution(q, self.frequencies)

    def update(self, centers: torch.Tensor) -> float:
        world = self.settings.world
        changed = torch.tensor([self._freeze(centers), len(self.labels)], device=world.device)
        changed, total = world.sum(changed).tolist()
        return changed / total

    def state(self) -> dict[str, torch.Tensor]:
        tensors = {f"frozen.{name}": tensor for name, tensor in self.frozen.state_dict().items()}
        return tensors | {"frozen_centers": self.centers, "frequencies": self.frequencies, "labels": self.labels}

    def restore(self, tensors: dict[str, torch.Tensor], k: int) -> None:
        if "target" in tensors:
            raise ValueError("the checkpoint was written by a fit of rows in memory; resume it with them in memory")
        for name, tensor in self.frozen.state_dict().items():
            check_saved(tensors, f"frozen.{name}", tuple(tensor.shape), tensor.dtype)
        check_saved(tensors, "frozen_centers", (k, self.frozen[-1].out_features), torch.float32)
        check_saved(tensors, "frequencies", (k,), torch.float32)
        check_saved(tensors, "labels", (len(self.data),), torch.int32)
        _check_labels(tensors["labels"], k)
        device = self.labels.device
        self.frozen.load_state_dict({name: tensors[f"frozen.{name}"] for name in self.frozen.state_dict()})
        self.centers, self.frequencies = tensors["frozen_centers"].to(device), tensors["frequencies"].to(device)
        self.labels = tensors["labels"].to(device)
