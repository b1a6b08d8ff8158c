"""Access to the data in mini-batches: the one place that decides which rows a step sees.

A multi-process version replaces these functions with ones that walk a shard.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from decluster.io.checks import expect_int, expect_object

INFERENCE_BATCH_SIZE = 4096


class BatchCursor:
    """A resumable walk over the rows in shuffled mini-batches, reshuffling after every pass.

    A new random order is drawn from ``generator`` when the first batch of a pass is asked
    for. The position in the current pass and its order are the whole state, so a walk can be
    saved and continued exactly (see :meth:`state` and :meth:`restore`).

    Parameters
    ----------
    n_samples : int
        Number of rows in the data.
    batch_size : int
        Rows per batch; the last batch of a pass may be smaller.
    generator : torch.Generator
        Source of randomness; its device decides where the indices live.
    """

    def __init__(self, n_samples: int, batch_size: int, generator: torch.Generator) -> None:
        self.n_samples, self.batch_size, self.generator = n_samples, batch_size, generator
        self.order: torch.Tensor | None = None
        self.position = n_samples

    @property
    def pass_finished(self) -> bool:
        """Whether the last batch handed out ended a pass over the data."""
        return self.position >= self.n_samples

    def next(self) -> torch.Tensor:
        """Indices of the next batch, a tensor of shape (<= batch_size,) and dtype int64."""
        if self.pass_finished:
            self.order = torch.randperm(self.n_samples, generator=self.generator, device=self.generator.device)
            self.position = 0
        index = self.order[self.position: self.position + self.batch_size]
        self.position += len(index)
        return index

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """The tensors and JSON values that :meth:`restore` needs."""
        tensors = {} if self.order is None else {"order": self.order}
        return tensors, {"position": self.position}

    def restore(self, tensors: dict[str, torch.Tensor], values: dict[str, int]) -> None:
        """Continue the walk saved by :meth:`state`."""
        position = expect_int(expect_object(values, "cursor", {"position"})["position"], "cursor.position",
                              low=0, high=self.n_samples)
        order = tensors.get("order")
        if (order is None and position < self.n_samples) or (order is not None and (
                order.shape != (self.n_samples,) or order.dtype != torch.int64
                or not torch.equal(order.sort().values, torch.arange(self.n_samples)))):
            raise ValueError("saved batch order is not a permutation of the data's rows")
        self.position = position
        self.order = None if order is None else order.to(self.generator.device)


@torch.no_grad()
def map_in_batches(
    function: Callable[[torch.Tensor], torch.Tensor],
    data: torch.Tensor,
    batch_size: int = INFERENCE_BATCH_SIZE,
) -> torch.Tensor:
    """Apply ``function`` to consecutive row blocks of ``data`` without gradients.

    The outputs are written into one preallocated tensor, so the peak memory is that of the
    result plus one block.

    Parameters
    ----------
    function : callable
        Maps a tensor of shape (b, ...) to a tensor of shape (b, ...).
    data : torch.Tensor of shape (n_samples, ...)
    batch_size : int

    Returns
    -------
    torch.Tensor of shape (n_samples, ...)
        The outputs, in order.
    """
    blocks = data.split(batch_size)
    first = function(blocks[0])
    result = first.new_empty((len(data), *first.shape[1:]))
    result[: len(first)] = first
    start = len(first)
    for block in blocks[1:]:
        result[start: start + len(block)] = function(block)
        start += len(block)
    return result
