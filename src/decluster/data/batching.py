"""Access to the data in mini-batches: the one place that decides which rows a step sees.

One process walks all rows with :class:`BatchCursor`; each of several ranks walks its shard
with :class:`ShardCursor`, in as many batches per pass as one process would take
(:func:`batch_cursor` picks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from decluster.distributed import World
from decluster.io.checks import expect_int, expect_object

INFERENCE_BATCH_SIZE = 4096


@dataclass(frozen=True)
class ChunkLayout:
    """A shuffle that keeps reads mostly sequential, for rows read from disk.

    The rows are cut into chunks of ``chunk_rows`` consecutive rows. A pass visits the chunks
    in a random order, ``window_chunks`` at a time (a window), and the rows of each window in a
    random order. A batch then needs the rows of one window (two where it straddles them), and
    each chunk is read once per pass.

    Attributes
    ----------
    chunk_rows : int
    window_chunks : int
    """

    chunk_rows: int
    window_chunks: int

    def permutation(self, n_rows: int, generator: torch.Generator) -> torch.Tensor:
        """One pass's order of the rows, a permutation of shape (n_rows,).

        Data of one window or less get ``torch.randperm(n_rows)``: the order of a
        :class:`BatchCursor` without a layout, drawn from the same generator.
        """
        device = generator.device
        if n_rows <= self.chunk_rows * self.window_chunks:
            return torch.randperm(n_rows, generator=generator, device=device)
        chunk_order = torch.randperm(math.ceil(n_rows / self.chunk_rows), generator=generator, device=device)
        pieces = []
        for chunks in chunk_order.split(self.window_chunks):
            rows = self.rows_of(chunks, n_rows)
            pieces.append(rows[torch.randperm(len(rows), generator=generator, device=device)])
        return torch.cat(pieces)

    def rows_of(self, chunks: torch.Tensor, n_rows: int) -> torch.Tensor:
        """The rows of the chunks numbered ``chunks`` (in that order; the last chunk of the data
        may be short), of shape (<= len(chunks) * chunk_rows,)."""
        rows = (chunks[:, None] * self.chunk_rows + torch.arange(self.chunk_rows, device=chunks.device)).flatten()
        return rows[rows < n_rows]


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
    layout : ChunkLayout, optional
        Shuffle chunk by chunk in windows (for rows read from disk); by default each pass is
        one ``torch.randperm``.
    """

    def __init__(self, n_samples: int, batch_size: int, generator: torch.Generator,
                 layout: ChunkLayout | None = None) -> None:
        self.n_samples, self.batch_size, self.generator, self.layout = n_samples, batch_size, generator, layout
        self.order: torch.Tensor | None = None
        self.position = n_samples

    @property
    def batches_per_pass(self) -> int:
        """Optimizer steps in one pass over the data."""
        return math.ceil(self.n_samples / self.batch_size)

    @property
    def pass_finished(self) -> bool:
        """Whether the last batch handed out ended a pass over the data."""
        return self.position >= self.n_samples

    def _new_pass(self) -> None:
        """Draw the order of the next pass and start it."""
        if self.layout is None:
            self.order = torch.randperm(self.n_samples, generator=self.generator, device=self.generator.device)
        else:
            self.order = self.layout.permutation(self.n_samples, self.generator)
        self.position = 0

    def next(self) -> torch.Tensor:
        """Indices of the next batch, a tensor of shape (<= batch_size,) and dtype int64."""
        if self.pass_finished:
            self._new_pass()
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
        if (order is None and position < self.n_samples) or (
                order is not None and not _is_permutation(order.cpu(), self.n_samples)):
            raise ValueError("saved batch order is not a permutation of the data's rows")
        self.position = position
        self.order = None if order is None else order.to(self.generator.device)


class WindowCursor(BatchCursor):
    """A :class:`BatchCursor` that follows a :class:`ChunkLayout`'s windowed shuffle, drawn one
    window at a time, so that it holds the order of one window's rows, never of all of them.

    A pass draws the order of the chunks when it starts, and the order of a window's rows when its
    first row is needed, both from ``generator``. Data of one window or less get one
    ``torch.randperm`` a pass, as a :class:`BatchCursor` without a layout. Batches run across
    window boundaries; the last batch of a pass may be smaller.

    Parameters
    ----------
    n_samples, batch_size : int
    generator : torch.Generator
    layout : ChunkLayout
    """

    def __init__(self, n_samples: int, batch_size: int, generator: torch.Generator, layout: ChunkLayout) -> None:
        super().__init__(n_samples, batch_size, generator, layout)
        self.chunk_order: torch.Tensor | None = None
        self.window_order = torch.zeros(0, dtype=torch.int64, device=generator.device)
        self.window = self.in_window = 0

    @property
    def _n_chunks(self) -> int:
        return math.ceil(self.n_samples / self.layout.chunk_rows)

    def _draw(self, size: int) -> torch.Tensor:
        return torch.randperm(size, generator=self.generator, device=self.generator.device)

    def _new_pass(self) -> None:
        self.position, self.window, self.in_window = 0, 0, 0
        if self.n_samples <= self.layout.chunk_rows * self.layout.window_chunks:
            self.chunk_order, self.window_order = None, self._draw(self.n_samples)
        else:
            self.chunk_order, self.window_order = self._draw(self._n_chunks), self.window_order[:0]
            self.window = -1

    def _next_window(self) -> None:
        """Draw the order of the next window's rows."""
        self.window += 1
        first = self.window * self.layout.window_chunks
        rows = self.layout.rows_of(self.chunk_order[first: first + self.layout.window_chunks], self.n_samples)
        self.window_order, self.in_window = rows[self._draw(len(rows))], 0

    def next(self) -> torch.Tensor:
        """Indices of the next batch, of shape (<= batch_size,) and dtype int64."""
        if self.pass_finished:
            self._new_pass()
        wanted, pieces = min(self.batch_size, self.n_samples - self.position), []
        while wanted > 0:
            if self.in_window >= len(self.window_order):
                self._next_window()
            piece = self.window_order[self.in_window: self.in_window + wanted]
            pieces.append(piece)
            self.in_window += len(piece)
            wanted -= len(piece)
        index = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
        self.position += len(index)
        return index

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        tensors = {"window_order": self.window_order}
        if self.chunk_order is not None:
            tensors["chunk_order"] = self.chunk_order
        return tensors, {"position": self.position, "window": self.window, "in_window": self.in_window}

    def restore(self, tensors: dict[str, torch.Tensor], values: dict[str, int]) -> None:
        values = expect_object(values, "cursor", {"position", "window", "in_window"})
        position = expect_int(values["position"], "cursor.position", low=0, high=self.n_samples)
        window = expect_int(values["window"], "cursor.window", low=-1, high=self._n_chunks)
        chunk_order, window_order = tensors.get("chunk_order"), tensors.get("window_order")
        if chunk_order is not None and not _is_permutation(chunk_order, self._n_chunks):
            raise ValueError("saved chunk order is not a permutation of the chunks")
        if window_order is None or window_order.dim() != 1 or window_order.dtype != torch.int64 or (
                len(window_order) and not (0 <= int(window_order.min()) and int(window_order.max()) < self.n_samples
                                           and len(torch.unique(window_order)) == len(window_order))):
            raise ValueError("saved window order is not a set of the data's rows")
        self.in_window = expect_int(values["in_window"], "cursor.in_window", low=0, high=len(window_order))
        device = self.generator.device
        self.position, self.window, self.window_order = position, window, window_order.to(device)
        self.chunk_order = None if chunk_order is None else chunk_order.to(device)


def _is_permutation(order: torch.Tensor, size: int) -> bool:
    return (order.shape == (size,) and order.dtype == torch.int64
            and torch.equal(order.sort().values, torch.arange(size, device=order.device)))


class ShardCursor(BatchCursor):
    """A :class:`BatchCursor` over one rank's shard that splits each pass into a fixed number of
    batches, the same on every rank, so that the ranks step together.

    The shuffled order of a pass is cut into ``n_batches`` contiguous pieces whose sizes differ
    by at most one. The saved position is the number of batches done in the pass, which is the
    same on every rank (the rows done differ with the shards' sizes).

    Parameters
    ----------
    n_samples : int
        Rows in this rank's shard, at least ``n_batches``.
    n_batches : int
        Batches per pass (that of one process on all rows: ``ceil(n_total / batch_size)``).
    generator : torch.Generator
    layout : ChunkLayout, optional
    """

    def __init__(self, n_samples: int, n_batches: int, generator: torch.Generator,
                 layout: ChunkLayout | None = None) -> None:
        super().__init__(n_samples, math.ceil(n_samples / n_batches), generator, layout)
        self.n_batches = n_batches

    @property
    def batches_per_pass(self) -> int:
        return self.n_batches

    def _start(self, batch: int) -> int:
        """The first row (in the pass's order) of batch number ``batch``."""
        return batch * self.n_samples // self.n_batches

    def _batches_done(self) -> int:
        """Batches of the pass handed out: the batch whose first row is at ``position``."""
        return -(-self.position * self.n_batches // self.n_samples)

    def next(self) -> torch.Tensor:
        """Indices (into the shard) of the next batch, of shape (about n_samples / n_batches,)."""
        if self.pass_finished:
            self._new_pass()
        end = self._start(self._batches_done() + 1)
        index = self.order[self.position: end]
        self.position = end
        return index

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        tensors, _ = super().state()
        return tensors, {"batch": self._batches_done()}

    def restore(self, tensors: dict[str, torch.Tensor], values: dict[str, int]) -> None:
        batch = expect_int(expect_object(values, "cursor", {"batch"})["batch"], "cursor.batch",
                           low=0, high=self.n_batches)
        super().restore(tensors, {"position": self._start(batch)})


def batch_cursor(n_rows: int, batch_size: int, generator: torch.Generator, world: World,
                 layout: ChunkLayout | None = None) -> BatchCursor:
    """The cursor of a loop over ``n_rows`` rows (this rank's shard, among several ranks).

    Parameters
    ----------
    n_rows : int
    batch_size : int
        Rows per step over all ranks together.
    generator : torch.Generator
    world : World
    layout : ChunkLayout, optional
        The windowed shuffle of rows read from disk.

    Returns
    -------
    BatchCursor
        In a world of size 1 a :class:`BatchCursor`, or with a layout a :class:`WindowCursor`;
        else a :class:`ShardCursor` taking ``ceil(n_total / batch_size)`` steps per pass (with a
        layout, it holds the windowed order of its whole shard).

    Raises
    ------
    ValueError
        If a rank's shard has fewer rows than there are steps in a pass.
    """
    if world.size == 1:
        return BatchCursor(n_rows, batch_size, generator) if layout is None else \
            WindowCursor(n_rows, batch_size, generator, layout)
    n_total = int(world.sum(torch.tensor(n_rows)))
    n_batches = math.ceil(n_total / batch_size)
    if n_total // world.size < n_batches:
        raise ValueError(f"{world.size} ranks cannot split {n_total} rows into batches of {batch_size}: each rank "
                         "needs at least one row per batch; raise the batch size or use fewer ranks")
    return ShardCursor(n_rows, n_batches, generator, layout)


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
    data : torch.Tensor of shape (n_samples, ...), or StreamedRows
        At least one row.
    batch_size : int

    Returns
    -------
    torch.Tensor of shape (n_samples, ...)
        The outputs, in order.
    """
    result, start = None, 0
    for block in data.split(batch_size):
        output = function(block)
        if result is None:
            result = output.new_empty((len(data), *output.shape[1:]))
        result[start: start + len(output)] = output
        start += len(output)
    return result
