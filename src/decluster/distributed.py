"""Several processes (ranks) under ``torchrun``: which one this is, its rows, and sums over all.

DEC shards well because its only whole-data quantities are sums over the rows: the cluster
frequencies ``f_j = sum_i q_ij`` of the target distribution (eq. 3) and the count of labels
that changed between two target updates. Each rank computes its shard's sums and
``torch.distributed.all_reduce`` adds them, so every rank sees the single-process values.

Everything else a rank needs from the others goes through the same engine: the gradients are
averaged after each backward pass (:meth:`World.average_gradients`), the whole embedding is
gathered for k-means (:meth:`World.gather_rows`), rank 0's results are broadcast
(:meth:`World.broadcast`, :meth:`World.broadcast_object`) and the ranks agree once per step on
whether any of them diverged, was signalled or is due to checkpoint (:meth:`World.any`).

One process without a ``torch.distributed`` process group is a world of size 1, in which a sum
over the ranks is the tensor itself: the single-process code path is unchanged.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


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
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    """Where the tensors of collectives live: the CPU for gloo, this rank's GPU for nccl."""

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
        total = tensor.to(self.device, copy=True)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total.to(tensor.device)

    def any(self, flags: Sequence[bool]) -> list[bool]:
        """For each flag, whether it is set on any rank (one collective for all of them)."""
        if self.size == 1:
            return list(flags)
        agreed = torch.tensor([float(flag) for flag in flags], device=self.device)
        dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
        return [bool(value) for value in agreed.tolist()]

    def average_gradients(self, parameters: Iterable[torch.Tensor], loss: torch.Tensor) -> torch.Tensor:
        """Replace each parameter's gradient by its mean over the ranks, and average the step's
        ``loss`` with them, in one all-reduce.

        A parameter without a gradient counts as a zero gradient (every rank passes the same
        parameters, so the flattened buffers line up). A loss that is NaN or infinite on any
        rank makes the mean so on every rank, which is how they agree on divergence.

        Parameters
        ----------
        parameters : iterable of torch.Tensor
        loss : torch.Tensor of shape ()
            This rank's loss (detached by this function).

        Returns
        -------
        torch.Tensor of shape ()
            The mean loss over the ranks; ``loss`` itself in a world of size 1.
        """
        if self.size == 1:
            return loss
        parameters = list(parameters)
        for parameter in parameters:
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
        flat = torch.cat([loss.detach().reshape(1).float(), *(p.grad.reshape(-1) for p in parameters)])
        flat = flat.to(self.device)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat = (flat / self.size).to(parameters[0].grad.device)
        for parameter, mean in zip(parameters, flat[1:].split([p.numel() for p in parameters])):
            parameter.grad.copy_(mean.view_as(parameter))
        return flat[0]

    def gather_rows(self, shard: torch.Tensor, n_rows: int) -> torch.Tensor:
        """The shards of every rank concatenated in rank order, on every rank.

        Parameters
        ----------
        shard : torch.Tensor of shape (len(self.shard(n_rows)), ...)
        n_rows : int
            Rows of all shards together.

        Returns
        -------
        torch.Tensor of shape (n_rows, ...)
            On ``shard``'s device; ``shard`` itself in a world of size 1.
        """
        if self.size == 1:
            return shard
        longest = -(-n_rows // self.size)
        padded = shard.new_zeros((longest, *shard.shape[1:]), device=self.device)
        padded[: len(shard)] = shard.to(self.device)
        pieces = [torch.empty_like(padded) for _ in range(self.size)]
        dist.all_gather(pieces, padded)
        rows = [World(rank, self.size).shard(n_rows) for rank in range(self.size)]
        return torch.cat([piece[: r.stop - r.start] for piece, r in zip(pieces, rows)]).to(shard.device)

    def broadcast(self, tensor: torch.Tensor) -> torch.Tensor:
        """Rank 0's ``tensor`` on every rank (each passes one of the same shape and dtype)."""
        if self.size == 1:
            return tensor
        shared = tensor.to(self.device, copy=True)
        dist.broadcast(shared, src=0)
        return shared.to(tensor.device)

    def broadcast_object(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object) on every rank."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def gather_objects(self, value: Any) -> list[Any] | None:
        """Every rank's ``value``, in rank order, on rank 0 (None on the others)."""
        if self.size == 1:
            return [value]
        gathered = [None] * self.size if self.is_main else None
        dist.gather_object(value, gathered, dst=0)
        return gathered

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.size > 1:
            dist.barrier()


def current_world() -> World:
    """The world of the initialised default process group, or a world of size 1 without one."""
    if dist.is_available() and dist.is_initialized():
        device = torch.device("cpu")
        if dist.get_backend() == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())
        return World(rank=dist.get_rank(), size=dist.get_world_size(), device=device)
    return World()


def launched_rank() -> int:
    """This process's rank as ``torchrun`` set it in the environment (0 outside ``torchrun``)."""
    return int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0


_created_groups: list[dist.ProcessGroup] = []
"""The default process group, while it is one that :func:`join_launched_world` created."""


def _own_group_alive() -> bool:
    """Whether the default process group is the one that :func:`join_launched_world` created."""
    return bool(_created_groups) and dist.is_initialized() and dist.group.WORLD is _created_groups[0]


def join_launched_world(device: torch.device) -> World:
    """The world of this process: under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the
    default process group is initialised first if the caller has not done it, with nccl for a
    CUDA ``device`` and gloo otherwise.

    Parameters
    ----------
    device : torch.device
        The training device of this rank.

    Returns
    -------
    World
    """
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if launched and dist.is_available() and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        _import_group_holders()
        dist.init_process_group(backend)
        _created_groups.append(dist.group.WORLD)
        atexit.register(_leave_world)
        logger.info("joined %d ranks as rank %d (%s)", dist.get_world_size(), dist.get_rank(), backend)
    return current_world()


def _import_group_holders() -> None:
    """Import, before the process group exists, the modules that torch imports with the first
    optimizer (``torch._dynamo``, which imports ``torch.distributed.nn.functional``).

    That module's functions take ``group=group.WORLD`` as a default argument, evaluated when it is
    imported: imported while a default process group exists, they keep a reference to it that
    outlives ``destroy_process_group``, and gloo's threads run on into the interpreter's shutdown,
    which now and then aborts a rank ("terminate called without an active exception") after its
    work is done. Imported first, they hold None, and destroying the group stops its threads.
    """
    importlib.import_module("torch._dynamo")


def leave_launched_world() -> None:
    """End a launched run on every rank at once: wait until all ranks get here, then destroy the
    default process group that decluster created when ``fit`` ran under ``torchrun`` (a group the
    caller created is the caller's to end).

    Call it on every rank after the last collective and after rank 0 has written its results
    (the command line does, after each successful command). Without the wait, a rank that has
    nothing left to write tears down its connections while the others still hold theirs; without
    the destruction, gloo's threads are left to the interpreter's shutdown, which sometimes
    aborts the process ("terminate called without an active exception"). Does nothing in a run
    of one process or after the group is gone.
    """
    if _own_group_alive():
        dist.barrier()
        _leave_world()


def _leave_world() -> None:
    """Destroy the default process group that :func:`join_launched_world` created, if it is still
    there, before the interpreter exits: the fallback of a script that ends without
    :func:`leave_launched_world`, and of a rank that stops on an error (no wait: the other ranks
    may never get there)."""
    if _own_group_alive():
        dist.destroy_process_group()
    _created_groups.clear()
