"""Access to the data in mini-batches: the one place that decides which rows a step sees.

A multi-process version replaces these functions with ones that walk a shard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

INFERENCE_BATCH_SIZE = 4096


def shuffled_batches(
    n_samples: int, batch_size: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Yield index tensors covering ``range(n_samples)`` once, in a random order.

    Parameters
    ----------
    n_samples : int
        Number of rows in the data.
    batch_size : int
        Rows per batch; the last batch may be smaller.
    generator : torch.Generator
        Source of randomness; its device decides where the indices live.

    Yields
    ------
    torch.Tensor of shape (<= batch_size,), dtype int64
    """
    order = torch.randperm(n_samples, generator=generator, device=generator.device)
    yield from order.split(batch_size)


def endless_batches(
    n_samples: int, batch_size: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Yield index batches forever, reshuffling after every pass over the data."""
    while True:
        yield from shuffled_batches(n_samples, batch_size, generator)


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
