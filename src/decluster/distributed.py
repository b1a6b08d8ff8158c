"""Several processes (ranks) under ``torchrun``: which one this is, its rows, and sums over all.

DEC shards well because its only whole-data quantities are sums over the rows: the cluster
frequencies ``f_j = sum_i q_ij`` of the target distribution (eq. 3) and the count of labels
that changed between two target updates. Each rank computes its shard's sums and
``torch.distributed.all_reduce`` adds them, so every rank sees the single-process values.

One process without a ``torch.distributed`` process group is a world of size 1, in which a sum
over the ranks is the tensor itself: the single-process code path is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run.

    Attributes
    ----------
    rank : int
        This process's rank, 0 to ``size - 1``.
    size : int
        Number of ranks.
    """

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes models, labels and checkpoints."""
        return self.rank == 0

    def shard(self, n_rows: int) -> slice:
        """This rank's rows ``[rank n // size, (rank + 1) n // size)``.

        The shards are contiguous, cover every row once and differ in size by at most one.

        Parameters
        ----------
        n_rows : int

        Returns
        -------
        slice
        """
        return slice(self.rank * n_rows // self.size, (self.rank + 1) * n_rows // self.size)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of ``tensor`` over the ranks (every rank passes one of the same shape).

        Parameters
        ----------
        tensor : torch.Tensor
            On a device the process group's backend serves (CPU for gloo, CUDA for nccl).

        Returns
        -------
        torch.Tensor
            A new tensor on every rank; ``tensor`` itself in a world of size 1.
        """
        if self.size == 1:
            return tensor
        total = tensor.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total


def current_world() -> World:
    """The world of the initialised default process group, or a world of size 1 without one."""
    if dist.is_available() and dist.is_initialized():
        return World(rank=dist.get_rank(), size=dist.get_world_size())
    return World()
