"""Rows of Parquet files read row group by row group, for data larger than memory.

:class:`ParquetRows` describes one Parquet file, or a folder of them with the same columns
(their rows concatenated in file-name order), or a contiguous range of either. A Parquet file
is read in row groups: each read decodes the groups that hold the rows asked for, and the last
two decoded groups are kept, so that whole-data passes (in order) and the chunks of the
windowed shuffle, which match the row groups (:meth:`ParquetRows.shuffle_chunks`), decode every
group once per pass. Row groups of a few tens of MiB suit this best (pyarrow writes groups of up
to a million rows by default; ``row_group_size`` sets it).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from decluster.data.arrow_tables import feature_names, label_name
from decluster.data.columnar import decode_row_group, open_parquet
from decluster.data.disk_rows import DiskRows
from decluster.data.errors import DatasetError, one_line

CACHED_GROUPS = 2
"""Decoded row groups a :class:`ParquetRows` keeps (a chunk or block may straddle two)."""


@dataclass(frozen=True)
class RowGroup:
    """One row group of a Parquet file.

    Attributes
    ----------
    path : Path
    index : int
        Its number in the file.
    first_row : int
        The row of the file it starts at.
    n_rows : int
    """

    path: Path
    index: int
    first_row: int
    n_rows: int


class _GroupCache:
    """The open Parquet file and the last :data:`CACHED_GROUPS` row groups decoded."""

    def __init__(self) -> None:
        self.file: tuple[Path, pq.ParquetFile] | None = None
        self.groups: OrderedDict[tuple[Path, int], np.ndarray] = OrderedDict()

    def parquet_file(self, path: Path) -> pq.ParquetFile:
        """The file at ``path``, opened once while it is the one read."""
        if self.file is None or self.file[0] != path:
            try:
                self.file = (path, pq.ParquetFile(path))
            except (pa.ArrowException, OSError) as error:
                raise DatasetError(f"{path}: not a readable Parquet file ({one_line(error)})") from None
        return self.file[1]


@dataclass(frozen=True)
class ParquetRows(DiskRows):
    """Rows ``start`` to ``stop`` of the row groups of one or more Parquet files, read on demand.

    Pass one to ``fit``, ``predict`` or ``transform`` as an ``NpyRows`` is passed: the
    feature columns of each row are converted to float32 when read, then mapped to
    ``(x - offset) / factor`` if a scaling is set (see :meth:`scaled`).

    Parameters
    ----------
    groups : tuple of RowGroup
        The row groups, in order.
    columns : tuple of str
        The feature columns read, in order.
    value_type : numpy.dtype
        The type the columns are read as (the smallest that holds every column's values).
    start, stop : int
        The range of rows, over all row groups together.
    offset, factor : ndarray of shape (n_features,), float32, optional
        The scaling applied to float32 rows; None for none.
    """

    groups: tuple[RowGroup, ...]
    columns: tuple[str, ...]
    value_type: np.dtype
    start: int
    stop: int
    offset: np.ndarray | None = field(default=None, compare=False)
    factor: np.ndarray | None = field(default=None, compare=False)
    cache: _GroupCache = field(default_factory=_GroupCache, compare=False, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike, *, label_column: str | int | None = None) -> ParquetRows:
        """The rows of the Parquet file ``path``, or of every ``.parquet`` file in the folder ``path``
        (concatenated in the order of their names; their columns must agree).

        Every column is a feature but ``label_column`` (a name, or a 0-based index that may count
        from the end) and an index pandas saved; features must be numeric (booleans, integers,
        floats).

        Raises
        ------
        DatasetError
            If a file is unreadable, the files' columns differ, or a feature column is not numeric.
        """
        source = open_parquet(Path(path))
        names = feature_names(source.where, source.schema, label_name(source.where, source.schema.names,
                                                                       label_column))
        types = [source.schema.field(name).type for name in names]
        value_type = np.result_type(*(np.uint8 if pa.types.is_boolean(type_) else type_.to_pandas_dtype()
                                      for type_ in types))
        groups = tuple(_row_groups(source.files))
        return cls(groups, tuple(names), np.dtype(value_type), 0, sum(group.n_rows for group in groups))

    @property
    def row_shape(self) -> tuple[int, ...]:
        """``(n_features,)``: one value per feature column."""
        return (len(self.columns),)

    @property
    def dtype(self) -> np.dtype:
        """The type the columns are read as."""
        return self.value_type

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start`` to ``stop`` as stored (not converted), of shape (stop - start, n_features).

        Raises
        ------
        DatasetError
            If a file cannot be read or holds a null, naming the file, row and column.
        """
        out = np.empty((stop - start, self.n_features), dtype=self.dtype)
        first, last = self.start + start, self.start + stop
        starts = self._group_starts()
        group = max(0, int(np.searchsorted(starts, first, side="right")) - 1)
        while group < len(self.groups) and starts[group] < last:
            begin, end = max(first, starts[group]), min(last, starts[group] + self.groups[group].n_rows)
            if begin < end:
                out[begin - first: end - first] = self._decoded(self.groups[group])[begin - starts[group]:
                                                                                     end - starts[group]]
            group += 1
        return out

    def _group_starts(self) -> np.ndarray:
        return np.cumsum([0] + [group.n_rows for group in self.groups[:-1]])

    def _decoded(self, group: RowGroup) -> np.ndarray:
        """The rows of ``group`` as an array of shape (group.n_rows, n_features), from the cache if there."""
        key, cached = (group.path, group.index), self.cache.groups
        if key in cached:
            cached.move_to_end(key)
            return cached[key]
        rows = np.empty((group.n_rows, self.n_features), dtype=self.dtype)
        decode_row_group(self.cache.parquet_file(group.path), group.path, group.index, group.first_row,
                         list(self.columns), rows)
        cached[key] = rows
        while len(cached) > CACHED_GROUPS:
            cached.popitem(last=False)
        return rows

    def shuffle_chunks(self, chunk_bytes: int, window_chunks: int) -> tuple[int, int]:
        """Chunks of whole row groups (of the most common size): as many groups as fit in
        ``chunk_bytes``, at least one; windows of about ``window_chunks * chunk_bytes``, at least
        one chunk, so that a chunk read decodes its groups and nothing else."""
        sizes = [group.n_rows for group in self.groups]
        typical = max(set(sizes), key=sizes.count)
        chunk_rows = typical * max(1, chunk_bytes // (typical * self.row_bytes))
        window = window_chunks * chunk_bytes // (chunk_rows * self.row_bytes)
        return chunk_rows, max(1, min(window_chunks, window))


def _row_groups(files: tuple[Path, ...]) -> list[RowGroup]:
    """Every row group of ``files``, in order."""
    groups = []
    for path in files:
        metadata, first = pq.read_metadata(path), 0
        for index in range(metadata.num_row_groups):
            n_rows = metadata.row_group(index).num_rows
            if n_rows:
                groups.append(RowGroup(path, index, first, n_rows))
            first += n_rows
    return groups
