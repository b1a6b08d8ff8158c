"""Parquet and Feather files read into float32 rows, with bounded memory.

A Parquet file, or a folder of them with the same columns, is an :class:`ArrowSource`; it is
decoded row group by row group and, within a row group, a few columns at a time
(:func:`decode_row_group`), straight into the result: the memory beside the result stays
near :data:`COLUMN_BLOCK_BYTES`. Feather (Arrow IPC) files are read record batch by record
batch. Errors name the file, the row in it and the column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from decluster.data.arrow_tables import (
    Features,
    RowSlabs,
    cell_name,
    check_finite,
    encode_arrow_labels,
    feature_names,
    label_name,
    numeric_block,
    shown,
)
from decluster.data.errors import DatasetError, one_line

FEATHER_SUFFIXES: tuple[str, ...] = (".feather", ".arrow")
"""Extensions of Feather (Arrow IPC) files."""

COLUMN_BLOCK_BYTES = 1 << 22
"""About how many bytes of a row group are decoded at a time (4 MiB: a few columns of it)."""


@dataclass(frozen=True)
class ArrowSource:
    """Files of one columnar format read as one table: Parquet files, or one Feather file.

    Attributes
    ----------
    files : tuple of Path
    schema : pyarrow.Schema
        The schema every file shares.
    file_rows : tuple of int, or None
        Rows of each file; None where the file does not say it before it is read (Feather).
    """

    files: tuple[Path, ...]
    schema: pa.Schema
    file_rows: tuple[int, ...] | None

    @property
    def n_rows(self) -> int | None:
        """Rows of all files together, or None if unknown."""
        return None if self.file_rows is None else sum(self.file_rows)

    @property
    def where(self) -> Path:
        """What errors about the whole table name: the file, or the folder of several."""
        return self.files[0] if len(self.files) == 1 else self.files[0].parent

    def cell(self, row: int, column: str) -> str:
        """Names the cell of ``column`` in row ``row`` of all files together, by file and row in it."""
        path = self.files[0]
        for path, rows in zip(self.files, self.file_rows or ()):
            if row < rows:
                break
            row -= rows
        return cell_name(path, 0)(row, column)


def open_feather(path: Path) -> ArrowSource:
    """The Feather (version 2, Arrow IPC file) ``path`` as an :class:`ArrowSource`."""
    try:
        return ArrowSource((path,), pa.ipc.open_file(pa.OSFile(str(path))).schema, None)
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(f"{path}: not a readable Feather file, version 2 ({one_line(error)}); Feather "
                           "version 1 files must be saved again (pyarrow.feather.write_feather)") from None


def parquet_files(path: Path) -> list[Path]:
    """``path``, or the ``.parquet`` files of the folder ``path`` in the order of their names."""
    if not path.is_dir():
        return [path]
    files = sorted(file for file in path.iterdir() if file.suffix.lower() == ".parquet" and file.is_file())
    if not files:
        raise DatasetError(f"{path}: holds no .parquet files")
    return files


def open_parquet(path: Path) -> ArrowSource:
    """A Parquet file, or a folder of Parquet files with the same columns, as an :class:`ArrowSource`.

    Raises
    ------
    DatasetError
        If a file's footer cannot be read, or a file's columns differ from the first file's.
    """
    files, schema, rows = parquet_files(path), None, []
    for file in files:
        try:
            metadata = pq.read_metadata(file)
        except (pa.ArrowException, OSError) as error:
            raise DatasetError(f"{file}: not a readable Parquet file ({one_line(error)})") from None
        found = metadata.schema.to_arrow_schema()
        if schema is None:
            schema = found
        elif not found.equals(schema, check_metadata=False):
            raise DatasetError(f"{file}: {schema_difference(schema, found)} than {files[0].name}; the Parquet "
                               "files of a folder are one table and need the same columns")
        rows.append(metadata.num_rows)
    return ArrowSource(tuple(files), schema, tuple(rows))


def schema_difference(first: pa.Schema, other: pa.Schema) -> str:
    """What ``other`` has that differs from ``first``: other columns, or a column of another type."""
    if first.names != other.names:
        return f"other columns ({shown(other.names)} rather than {shown(first.names)})"
    changed = next(name for name in first.names if first.field(name).type != other.field(name).type)
    return f"column {changed!r} of type {other.field(changed).type} rather than {first.field(changed).type}"


def decode_row_group(file: pq.ParquetFile, path: Path, index: int, first_row: int, names: list[str],
                     out: np.ndarray) -> None:
    """Decode the columns ``names`` of row group ``index`` of ``file`` (which starts at row
    ``first_row`` of ``path``) into ``out``, of shape (its rows, len(names)), a few columns at a time.

    Raises
    ------
    DatasetError
        If the row group cannot be read or holds a null, naming the file, row and column.
    """
    step = max(1, COLUMN_BLOCK_BYTES // max(1, out.shape[0] * out.itemsize))
    for begin in range(0, len(names), step):
        try:
            table = file.read_row_group(index, columns=names[begin: begin + step])
        except (pa.ArrowException, OSError) as error:
            raise DatasetError(f"{path}: cannot read row group {index} ({one_line(error)})") from None
        done = 0
        for batch in table.to_batches():
            block = numeric_block(batch, cell_name(path, first_row + done), out.dtype)
            out[done: done + batch.num_rows, begin: begin + step] = block
            done += batch.num_rows


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(f"{path}: not a readable Parquet file ({one_line(error)})") from None


def _read_parquet(source: ArrowSource, names: list[str], label: str | None) -> tuple[np.ndarray, list[pa.Array]]:
    """The features of every row group of every file, decoded into one float32 array, and the
    label column's chunks."""
    X, labels, start = np.empty((source.n_rows, len(names)), dtype=np.float32), [], 0
    for path in source.files:
        file, first_row = _parquet_file(path), 0
        for index in range(file.metadata.num_row_groups):
            rows = X[start: start + file.metadata.row_group(index).num_rows]
            decode_row_group(file, path, index, first_row, names, rows)
            check_finite(rows, cell_name(path, first_row), names)
            if label is not None:
                labels.extend(file.read_row_group(index, columns=[label]).column(0).chunks)
            start, first_row = start + len(rows), first_row + len(rows)
    return X, labels


def _feather_batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """The record batches of ``columns`` of a Feather file, one at a time."""
    try:
        reader = pa.ipc.open_file(pa.OSFile(str(path)))
        for index in range(reader.num_record_batches):
            yield reader.get_batch(index).select(columns)
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(f"{path}: cannot read ({one_line(error)})") from None


def _read_feather(source: ArrowSource, names: list[str], label: str | None) -> tuple[np.ndarray, list[pa.Array]]:
    """The features of every record batch, gathered into one float32 array, and the label column's chunks."""
    path, slabs, labels = source.files[0], RowSlabs(len(names)), []
    for batch in _feather_batches(path, names + ([label] if label is not None else [])):
        cell = cell_name(path, slabs.n_rows)
        block = numeric_block(batch.select(names), cell)
        check_finite(block, cell, names)
        slabs.append(block)
        if label is not None:
            labels.append(batch.column(label))
    return slabs.finish(), labels


def read_arrow_table(source: ArrowSource, label_column: str | int | None) -> Features:
    """Features (float32) and labels of every file of ``source``.

    Raises
    ------
    DatasetError
        On a non-numeric feature column, a null, a value not finite in float32 (naming file, row
        and column), or a missing label.
    """
    label = label_name(source.where, source.schema.names, label_column)
    names = feature_names(source.where, source.schema, label)
    read = _read_feather if source.file_rows is None else _read_parquet
    X, labels = read(source, names, label)
    return Features(X, None if label is None else _encode_column(source, label, labels), names)


def _encode_column(source: ArrowSource, label: str, chunks: list[pa.Array]) -> np.ndarray:
    """The labels of the column ``label`` (its ``chunks``, in order), encoded."""
    def missing(row: int, cell: str) -> DatasetError:
        what = "blank label" if cell == "" else f"a missing label ({cell}); give every row a label or drop the row"
        return DatasetError(f"{source.cell(row, label)}: {what}")

    values = pa.chunked_array(chunks, type=source.schema.field(label).type)
    return encode_arrow_labels(values, missing, f"{source.where}: column {label!r}")


def read_labels(source: ArrowSource, label: str) -> np.ndarray:
    """The encoded labels of the column ``label`` of every Parquet file (for rows streamed from disk).

    Returns
    -------
    ndarray of shape (n_rows,), dtype int64
    """
    chunks = [chunk for path in source.files for chunk in _parquet_file(path).read(columns=[label]).column(0).chunks]
    return _encode_column(source, label, chunks)
