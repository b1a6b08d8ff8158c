"""Streamed rows on the training device: what the training loops index when the data stay on disk.

:class:`StreamedRows` answers the few questions the loops ask of a data tensor (its length,
its device, the rows of a batch, consecutive blocks) by reading rows on disk
(:class:`~decluster.data.disk_rows.DiskRows`: ``.npy`` or Parquet files).
The rows of a batch are served from a cache of whole chunks, which the windowed shuffle of
:class:`~decluster.data.batching.ChunkLayout` keeps small: every batch of a window draws from the
same few chunks, each read once per pass, in one sequential read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import torch

from decluster.data.batching import INFERENCE_BATCH_SIZE, ChunkLayout
from decluster.data.disk_rows import DiskRows

CHUNK_BYTES = 1 << 20
"""About how many bytes one chunk of the windowed shuffle holds (1 MiB)."""

WINDOW_CHUNKS = 32
"""Chunks per window of the windowed shuffle (a window is about 32 MiB of rows)."""


def chunk_layout(rows: DiskRows) -> ChunkLayout:
    """The windowed shuffle's layout for these rows: chunks of about :data:`CHUNK_BYTES`,
    :data:`WINDOW_CHUNKS` chunks a window (Parquet: chunks of whole row groups, see
    :meth:`~decluster.data.disk_rows.DiskRows.shuffle_chunks`)."""
    return ChunkLayout(*rows.shuffle_chunks(CHUNK_BYTES, WINDOW_CHUNKS))


class StreamedRows:
    """Rows on disk presented to the training code as a float32 tensor would be.

    Supports ``len``, ``shape``, ``device``, indexing by a slice (a contiguous range, e.g. a
    rank's shard) or by a 1-D tensor of row indices (a batch, read through the chunk cache) and
    ``split(size)`` (consecutive blocks, read directly).

    Parameters
    ----------
    rows : DiskRows
    device : torch.device
        Where the float32 tensors it returns live.
    """

    def __init__(self, rows: DiskRows, device: torch.device) -> None:
        self.rows, self.device = rows, torch.device(device)
        self.layout = chunk_layout(rows)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return self.rows.n_rows

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.shape

    def _tensor(self, block: np.ndarray) -> torch.Tensor:
        """Float32 (scaled) rows on the device from rows as read."""
        return torch.from_numpy(np.ascontiguousarray(self.rows.to_float(block))).to(self.device)

    def __getitem__(self, index: slice | torch.Tensor) -> StreamedRows | torch.Tensor:
        if isinstance(index, slice):
            return StreamedRows(self.rows[index], self.device)
        return self._tensor(self._gather(index.detach().cpu().numpy()))

    def _gather(self, index: np.ndarray) -> np.ndarray:
        """The rows ``index`` (any order) as stored, through the chunk cache."""
        chunk_rows = self.layout.chunk_rows
        out = np.empty((len(index), self.rows.n_features), dtype=self.rows.dtype)
        chunks = index // chunk_rows
        for chunk in np.unique(chunks):
            where = chunks == chunk
            out[where] = self._chunk(int(chunk))[index[where] - chunk * chunk_rows]
        return out

    def _chunk(self, chunk: int) -> np.ndarray:
        """Chunk number ``chunk``, read once and kept while it is among the last
        ``2 * window_chunks`` chunks used (a batch can straddle two windows)."""
        if chunk in self._cache:
            self._cache.move_to_end(chunk)
            return self._cache[chunk]
        start = chunk * self.layout.chunk_rows
        self._cache[chunk] = self.rows.read(start, min(start + self.layout.chunk_rows, len(self)))
        if len(self._cache) > 2 * self.layout.window_chunks:
            self._cache.popitem(last=False)
        return self._cache[chunk]

    def split(self, size: int) -> Iterator[torch.Tensor]:
        """Consecutive blocks of ``size`` rows (the last may be shorter), as float32 tensors."""
        for start in range(0, len(self), size):
            yield self._tensor(self.rows.read(start, min(start + size, len(self))))


Rows = torch.Tensor | StreamedRows
"""The data a training loop walks: a tensor in memory, or rows streamed from disk."""


def device_rows(X: np.ndarray | DiskRows, device: torch.device) -> Rows:
    """Checked rows where training reads them: a float32 tensor on ``device`` for an array in
    memory, :class:`StreamedRows` for rows on disk."""
    if isinstance(X, DiskRows):
        return StreamedRows(X, device)
    return torch.from_numpy(X).to(device)


@torch.no_grad()
def embed_rows(encoder, data: Rows, rows: np.ndarray) -> torch.Tensor:
    """z = f(x) of the rows numbered ``rows`` (sorted, distinct), in one pass over ``data``'s blocks.

    Parameters
    ----------
    encoder : callable
        Maps (b, n_features) to (b, d).
    data : torch.Tensor of shape (n, n_features), or StreamedRows
    rows : ndarray of int of shape (m,)
        Indices into ``data``, increasing.

    Returns
    -------
    torch.Tensor of shape (m, d)
    """
    pieces, start = [], 0
    for block in data.split(INFERENCE_BATCH_SIZE):
        inside = rows[(rows >= start) & (rows < start + len(block))] - start
        if inside.size:
            pieces.append(encoder(block[torch.from_numpy(inside).to(block.device)]))
        start += len(block)
    return torch.cat(pieces) if pieces else torch.empty(0)


def layout_of(data: torch.Tensor | StreamedRows) -> ChunkLayout | None:
    """The windowed shuffle for streamed rows; None (one ``randperm`` a pass) for a tensor."""
    return data.layout if isinstance(data, StreamedRows) else None


def is_streamed(data: torch.Tensor | StreamedRows) -> bool:
    """Whether ``data`` are read from disk as they are needed."""
    return isinstance(data, StreamedRows)
