"""Rows of ``.npy`` files read in pieces, for data larger than memory.

:class:`NpyRows` describes one ``.npy`` file, a folder of ``.npy`` shards (their rows
concatenated in file-name order) or a contiguous range of either, and reads any range of rows
with plain file reads. Nothing is memory-mapped: pages of a map stay resident (and count in the
process's memory) after they are read, whereas a read copies only the rows asked for. What it
builds on those reads (blocks, fingerprint, checks, scaling) is :class:`~decluster.data.disk_rows.DiskRows`'.
"""

from __future__ import annotations

import math
import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from decluster.data.disk_rows import DiskRows


@dataclass(frozen=True)
class NpyPart:
    """One ``.npy`` file: where its rows start and what they hold.

    Attributes
    ----------
    path : Path
    offset : int
        Byte position of the first row in the file.
    n_rows : int
    row_shape : tuple of int
        Shape of one row (``(n_features,)``, or an image's ``(height, width[, channels])``).
    dtype : numpy.dtype
        A real or integer type, any byte order.
    """

    path: Path
    offset: int
    n_rows: int
    row_shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def row_bytes(self) -> int:
        return math.prod(self.row_shape) * self.dtype.itemsize


def read_npy_part(path: str | os.PathLike) -> NpyPart:
    """Describe the ``.npy`` file at ``path`` from its header.

    Raises
    ------
    ValueError
        If it is not a C-ordered ``.npy`` array of numbers with at least two dimensions, or is
        shorter than its header says.
    """
    path = Path(path)
    with open(path, "rb") as stream:
        try:
            version = np.lib.format.read_magic(stream)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(stream)
        except ValueError as error:
            raise ValueError(f"{path}: not a readable .npy file ({error})") from None
        offset = stream.tell()
    if dtype.kind not in "buif" or dtype.hasobject:
        raise ValueError(f"{path}: holds {dtype}; decluster reads .npy files of numbers (uint8 or float32 rows)")
    if len(shape) < 2:
        raise ValueError(f"{path}: holds an array of shape {shape}; rows need at least two dimensions")
    if fortran_order and math.prod(shape[1:]) > 1:
        raise ValueError(f"{path}: is stored in Fortran order; save it in C order (np.ascontiguousarray)")
    part = NpyPart(path, offset, int(shape[0]), tuple(int(side) for side in shape[1:]), dtype)
    if path.stat().st_size < offset + part.n_rows * part.row_bytes:
        raise ValueError(f"{path}: is shorter than its header's shape {shape} needs (a truncated file?)")
    return part


def _shard_files(folder: Path) -> list[Path]:
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() == ".npy" and path.is_file())
    if not files:
        raise ValueError(f"{folder}: holds no .npy files")
    return files


def memmap_file_position(array: np.memmap) -> tuple[Path, int] | None:
    """The file and byte position of a C-contiguous memory map's first element, or None when
    ``array`` is not a readable view of a file (a map of an anonymous buffer, a strided view)."""
    buffer = getattr(array, "_mmap", None)
    if not isinstance(buffer, mmap.mmap) or array.filename is None or not array.flags.c_contiguous:
        return None
    map_start = np.frombuffer(buffer, dtype=np.uint8, count=0).ctypes.data if len(buffer) else None
    if map_start is None:
        return None
    aligned = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY  # where numpy's map begins in the file
    return Path(array.filename), aligned + array.ctypes.data - map_start


@dataclass(frozen=True)
class NpyRows(DiskRows):
    """Rows ``start`` to ``stop`` of one or more ``.npy`` files, read on demand.

    Pass one to ``fit``, ``predict`` or ``transform`` to train on, or assign, data that do not
    fit in memory; a ``np.memmap`` (e.g. ``np.load(path, mmap_mode="r")``) is streamed the same
    way. Each row is flattened to ``n_features`` values and converted to float32 when read, then
    mapped to ``(x - offset) / factor`` if a scaling is set (see :meth:`scaled`).

    Parameters
    ----------
    parts : tuple of NpyPart
        The files, in order; every one with the same row shape and dtype.
    start, stop : int
        The range of rows, over all parts together.
    offset, factor : ndarray of shape (n_features,), float32, optional
        The scaling applied to float32 rows; None for none.
    """

    parts: tuple[NpyPart, ...]
    start: int
    stop: int
    offset: np.ndarray | None = field(default=None, compare=False)
    factor: np.ndarray | None = field(default=None, compare=False)

    @classmethod
    def open(cls, path: str | os.PathLike) -> NpyRows:
        """The rows of the ``.npy`` file at ``path``, or of every ``.npy`` file in the folder
        ``path`` (concatenated in the order of their names).

        Raises
        ------
        ValueError
            If a file is unreadable, or the shards differ in row shape or dtype.
        """
        path = Path(path)
        parts = tuple(read_npy_part(file) for file in (_shard_files(path) if path.is_dir() else [path]))
        first = parts[0]
        for part in parts[1:]:
            if (part.row_shape, part.dtype) != (first.row_shape, first.dtype):
                raise ValueError(f"{part.path}: rows of shape {part.row_shape} and dtype {part.dtype} differ from "
                                 f"{first.path}'s {first.row_shape} and {first.dtype}; shards must agree")
        return cls(parts, 0, sum(part.n_rows for part in parts))

    @classmethod
    def from_memmap(cls, array: np.memmap) -> NpyRows | None:
        """The rows a C-contiguous ``np.memmap`` of at least two dimensions views, or None when it
        cannot be read from its file (then it is used as an array in memory)."""
        position = memmap_file_position(array) if array.ndim >= 2 and array.dtype.kind in "buif" else None
        if position is None:
            return None
        part = NpyPart(position[0], position[1], array.shape[0], tuple(array.shape[1:]), array.dtype)
        return cls((part,), 0, part.n_rows)

    @property
    def row_shape(self) -> tuple[int, ...]:
        """Shape of each row as stored: ``(n_features,)``, or an image's ``(height, width[, channels])``."""
        return self.parts[0].row_shape

    @property
    def dtype(self) -> np.dtype:
        """The type of the values in the files."""
        return self.parts[0].dtype

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start`` to ``stop`` as stored (not converted), of shape (stop - start, n_features).

        Raises
        ------
        OSError
            If a file cannot be read or ends early.
        """
        out = np.empty((stop - start, self.n_features), dtype=self.dtype)
        view = memoryview(out.reshape(-1).view(np.uint8))
        first, written = self.start + start, 0
        for part, part_start in zip(self.parts, self._part_starts()):
            begin, end = max(first, part_start), min(self.start + stop, part_start + part.n_rows)
            if begin >= end:
                continue
            size = (end - begin) * part.row_bytes
            with open(part.path, "rb", buffering=0) as stream:
                stream.seek(part.offset + (begin - part_start) * part.row_bytes)
                if stream.readinto(view[written: written + size]) != size:
                    raise OSError(f"{part.path}: ended before row {end - part_start} (was it truncated?)")
            written += size
        return out

    def _part_starts(self) -> list[int]:
        return list(np.cumsum([0] + [part.n_rows for part in self.parts[:-1]]))
