"""What rows kept on disk have in common, whatever their file format.

:class:`DiskRows` is the base of :class:`~decluster.data.npy_rows.NpyRows` (``.npy`` files) and
:class:`~decluster.data.parquet_rows.ParquetRows` (Parquet files). The estimators, the scaling
of the command line and :class:`~decluster.data.streamed.StreamedRows` ask only what it
declares: the shape, contiguous ranges of rows as stored (:meth:`DiskRows.read`), and what it
builds on them: float32 blocks in order, a fingerprint, the check for non-finite values, a
scaling applied as rows are read and the chunks of the windowed shuffle.

Every whole-data computation walks the rows in blocks of about :data:`BLOCK_BYTES` as float32,
so the memory it needs does not grow with the number of rows.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import replace
from typing import TypeVar

import numpy as np

BLOCK_BYTES = 1 << 23
"""About how many bytes of float32 rows a whole-data pass handles at once (8 MiB; a block of
uint8 rows is a quarter of that on disk)."""

_Rows = TypeVar("_Rows", bound="DiskRows")


class DiskRows(ABC):
    """Rows ``start`` to ``stop`` of files on disk, read on demand.

    A subclass is a frozen dataclass with the fields ``start`` and ``stop`` (the range of rows
    over all its files) and ``offset`` and ``factor`` (the scaling, None for none), and defines
    :attr:`row_shape`, :attr:`dtype` and :meth:`read`. Pass one to ``fit``, ``predict`` or
    ``transform`` to train on, or assign, data that do not fit in memory. Each row is flattened
    to ``n_features`` values and converted to float32 when read, then mapped to
    ``(x - offset) / factor`` if a scaling is set (see :meth:`scaled`).
    """

    start: int
    stop: int
    offset: np.ndarray | None
    factor: np.ndarray | None

    @property
    @abstractmethod
    def row_shape(self) -> tuple[int, ...]:
        """Shape of each row as stored: ``(n_features,)``, or an image's ``(height, width[, channels])``."""

    @property
    @abstractmethod
    def dtype(self) -> np.dtype:
        """The type of the values as :meth:`read` returns them (before the conversion to float32)."""

    @abstractmethod
    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start`` to ``stop`` as stored (not converted), of shape (stop - start, n_features).

        Raises
        ------
        OSError
            If a file cannot be read or ends early.
        """

    # ------------------------------------------------------------------ shape
    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self.stop - self.start

    @property
    def n_features(self) -> int:
        """Values per row: the product of ``row_shape``."""
        return math.prod(self.row_shape)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_features)``: the rows as a 2-D array."""
        return self.n_rows, self.n_features

    @property
    def row_bytes(self) -> int:
        """Bytes of one row as :meth:`read` returns it."""
        return self.n_features * self.dtype.itemsize

    def __len__(self) -> int:
        return self.n_rows

    # ------------------------------------------------------------------ views
    def scaled(self: _Rows, offset, factor) -> _Rows:
        """These rows read as ``(x - offset) / factor`` in float32 (per feature, or one number for all).

        Raises
        ------
        ValueError
            If a factor is zero, or the constants are not finite.
        """
        offset, factor = (np.broadcast_to(np.asarray(value, dtype=np.float32), (self.n_features,)).copy()
                          for value in (offset, factor))
        if not (np.isfinite(offset).all() and np.isfinite(factor).all() and factor.all()):
            raise ValueError("a scaling needs finite offsets and finite, non-zero factors")
        return replace(self, offset=offset, factor=factor)

    def to_float(self, raw: np.ndarray) -> np.ndarray:
        """Rows as read (shape (b, n_features)) as float32, scaled if a scaling is set."""
        rows = raw.astype(np.float32, copy=False)
        if self.offset is None:
            return rows
        return (rows - self.offset) / self.factor

    def __getitem__(self: _Rows, index: slice) -> _Rows:
        """A contiguous range of these rows (a rank's shard)."""
        start, stop, step = index.indices(self.n_rows)
        if step != 1:
            raise IndexError(f"{type(self).__name__} take contiguous slices only")
        return self.rows(start, max(start, stop))

    def rows(self: _Rows, start: int, stop: int) -> _Rows:
        """The rows ``start`` to ``stop`` of these rows (``0 <= start <= stop <= n_rows``)."""
        if not 0 <= start <= stop <= self.n_rows:
            raise IndexError(f"rows {start} to {stop} of {self.n_rows}")
        return replace(self, start=self.start + start, stop=self.start + stop)

    # ------------------------------------------------------------------ passes
    def block_rows(self) -> int:
        """Rows per block of a whole-data pass: about :data:`BLOCK_BYTES` of them as float32."""
        return max(1, BLOCK_BYTES // (4 * self.n_features))

    def blocks(self, block_rows: int | None = None) -> Iterator[np.ndarray]:
        """The rows in order, as float32 blocks of shape (<= block_rows, n_features), scaled."""
        block_rows = block_rows or self.block_rows()
        for begin in range(0, self.n_rows, block_rows):
            yield self.to_float(self.read(begin, min(begin + block_rows, self.n_rows)))

    def fingerprint(self) -> str:
        """SHA-256 of the rows as float32 values in order: that of the same rows held in memory
        as a C-contiguous float32 array."""
        digest = hashlib.sha256()
        for block in self.blocks():
            digest.update(block.data)
        return digest.hexdigest()

    def first_non_finite(self) -> int | None:
        """Index of the first row holding NaN or an infinity (as float32, scaled), or None."""
        if self.dtype.kind != "f" and self.offset is None:
            return None
        begin = 0
        for block in self.blocks():
            bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
            if bad.size:
                return begin + int(bad[0])
            begin += len(block)
        return None

    def shuffle_chunks(self, chunk_bytes: int, window_chunks: int) -> tuple[int, int]:
        """Rows per chunk and chunks per window of the windowed shuffle, for chunks of about
        ``chunk_bytes`` and windows of ``window_chunks`` such chunks (see
        :class:`~decluster.data.batching.ChunkLayout`).

        Each chunk is read whole, once per pass; formats that are cheapest to read in pieces of
        their own size (Parquet's row groups) choose chunks to match them.
        """
        return max(1, chunk_bytes // self.row_bytes), window_chunks
