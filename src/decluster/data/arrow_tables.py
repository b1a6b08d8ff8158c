"""What the readers of tables through pyarrow share: float32 rows gathered with bounded memory,
Arrow columns checked and converted, and labels encoded.

:class:`RowSlabs` gathers blocks of float32 rows into one array without holding two copies of
them; :func:`numeric_block` converts Arrow columns (numeric, no nulls) to one array;
:func:`encode_arrow_labels` encodes a label column: integers exactly, anything else as codes of
its sorted values. The readers are :mod:`decluster.data.csv_reader` (text tables) and
:mod:`decluster.data.columnar` (Parquet and Feather).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from decluster.data.errors import DatasetError
from decluster.data.text_tables import MISSING_MARKERS, is_number, refuse_ambiguous_name
from decluster.data.values import bad_value, encode_labels, encode_text_labels, first_non_finite

SLAB_BYTES = 1 << 26
"""Bytes of float32 rows per slab while a table of unknown length is read (64 MiB)."""

_NAN_TEXT = r"^[+-]?(?i:nan)$"


@dataclass(frozen=True)
class Features:
    """What a reader of a user's table returns.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64, or None
    names : list of str or None
        The features' column names, if the file has them.
    """

    X: np.ndarray
    y: np.ndarray | None
    names: list[str] | None


class RowSlabs:
    """Float32 rows appended block by block into slabs of about :data:`SLAB_BYTES`, joined at the
    end: the slabs are freed one by one as the result is filled, so that the peak stays near the
    result's size. With ``n_rows`` known, the one slab is the result."""

    def __init__(self, n_features: int, n_rows: int | None = None) -> None:
        self.n_features, self.n_rows, self.filled = n_features, 0, 0
        self.slab_rows = n_rows if n_rows is not None else max(1, SLAB_BYTES // (4 * n_features))
        self.slabs: list[np.ndarray] = []

    def append(self, block: np.ndarray) -> None:
        """Copy the rows of ``block`` (shape (b, n_features)) after those already appended."""
        done = 0
        while done < len(block):
            if not self.slabs or self.filled == self.slab_rows:
                self.slabs.append(np.empty((self.slab_rows, self.n_features), dtype=np.float32))
                self.filled = 0
            take = min(len(block) - done, self.slab_rows - self.filled)
            self.slabs[-1][self.filled: self.filled + take] = block[done: done + take]
            self.filled, done = self.filled + take, done + take
        self.n_rows += len(block)

    def finish(self) -> np.ndarray:
        """The rows appended, as one C-contiguous float32 array of shape (n_rows, n_features)."""
        if len(self.slabs) <= 1:
            slab = self.slabs.pop() if self.slabs else np.empty((0, self.n_features), dtype=np.float32)
            slab.resize((self.n_rows, self.n_features), refcheck=False)  # shrinks in place
            return slab
        X, start = np.empty((self.n_rows, self.n_features), dtype=np.float32), 0
        while self.slabs:
            rows = self.slabs.pop(0)
            rows = rows if self.slabs else rows[: self.filled]
            X[start: start + len(rows)] = rows
            start += len(rows)
            del rows  # the slab goes before the next one is copied
        return X


# ----------------------------------------------------------------------------- labels
def first_true(mask: pa.ChunkedArray | pa.Array) -> int:
    """Index of the first true value of a boolean array, or -1."""
    return pc.index(mask, True).as_py()


def _text_label_problem(cells: pa.ChunkedArray) -> int | None:
    """Index of the first blank or missing label among (trimmed) text labels, or None: blank,
    NaN, or ``NA``, ``N/A``, ``NULL``, ``None`` (any case) among labels otherwise all numbers."""
    for mask in (pc.equal(cells, ""), pc.match_substring_regex(cells, _NAN_TEXT)):
        if (index := first_true(mask)) >= 0:
            return index
    marked = pc.is_in(pc.utf8_lower(cells), value_set=pa.array(sorted(MISSING_MARKERS)))
    count = pc.sum(marked).as_py() or 0
    if count == 0 or count == len(cells):
        return None
    others = pc.unique(pc.filter(cells, pc.invert(marked))).to_pylist()
    return first_true(marked) if all(is_number(cell) for cell in others) else None


def encode_arrow_labels(values: pa.ChunkedArray, problem: Callable[[int, str], DatasetError], source: str, *,
                        trim: bool = False) -> np.ndarray:
    """Labels of an Arrow column as int64, as :func:`~decluster.data.values.encode_labels` does for arrays.

    Integers (and booleans) are kept exactly; text labels (white space trimmed if ``trim``) are
    integers if all of them are, else codes of their sorted distinct values. A null, a blank
    text, a NaN or a missing-value marker among numbers raises ``problem(row, cell)``.

    Parameters
    ----------
    values : pyarrow.ChunkedArray of length n_samples
    problem : callable
        The error for a missing label at ``row`` (counted from 0) holding ``cell``.
    source : str
        Names the column in other errors.
    trim : bool, default=False

    Returns
    -------
    ndarray of shape (n_samples,), dtype int64
    """
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if values.null_count:
        raise problem(first_true(pc.is_null(values)), "null")
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        cells = pc.utf8_trim_whitespace(values) if trim else values
        bad = _text_label_problem(cells)
        if bad is not None:
            raise problem(bad, cells[bad].as_py())
        distinct = pc.unique(cells)
        positions = pc.index_in(cells, value_set=distinct).to_numpy()
        return encode_text_labels(distinct.to_pylist())[positions]
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_boolean(values.type):
        return encode_labels(values.to_numpy(), source)
    raise DatasetError(f"{source}: labels of type {values.type} are not supported; use integers or strings")


# ----------------------------------------------------------------------------- columns
def _is_numeric(type_: pa.DataType) -> bool:
    return pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_boolean(type_)


def shown(names: Sequence[str], most: int = 10) -> str:
    """The first ``most`` names, joined; "..." if there are more."""
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


def label_name(path: Path, names: list[str], label_column: str | int | None) -> str | None:
    """The name of the label column given by name or by 0-based index (negative from the end), or None."""
    if label_column is None:
        return None
    if isinstance(label_column, str):
        if label_column not in names:
            raise DatasetError(f"{path}: no column named {label_column!r} (columns {shown(names)})")
        refuse_ambiguous_name(path, names, label_column)
        return label_column
    if not -len(names) <= label_column < len(names):
        raise DatasetError(f"{path}: label_column {label_column} out of range for {len(names)} columns")
    return names[label_column]


def feature_names(path: Path, schema: pa.Schema, label: str | None) -> list[str]:
    """The columns of ``schema`` that hold features: all but the label and pandas' saved index,
    each of which must be numeric (booleans, integers, floats) and named once."""
    metadata = schema.pandas_metadata or {}
    index = {name for name in metadata.get("index_columns", []) if isinstance(name, str)}
    names = [name for name in schema.names if name != label and name not in index]
    for name in names:
        if schema.names.count(name) > 1:
            raise DatasetError(f"{path}: the column name {name!r} occurs {schema.names.count(name)} times; "
                               "rename the columns")
        type_ = schema.field(name).type
        if not _is_numeric(type_):
            raise DatasetError(f"{path}: column {name!r} holds {type_}, not numbers; decluster reads numeric "
                               "columns (booleans, integers, floats): drop it, or give it as the label column")
    if not names:
        raise DatasetError(f"{path}: no feature columns besides the labels")
    return names


def numeric_block(batch: pa.RecordBatch, where: Callable[[int, str], str], dtype=np.float32) -> np.ndarray:
    """The columns of ``batch`` (numeric, no nulls) as an array of ``dtype`` and shape (num_rows,
    num_columns); ``where(row, column)`` names a cell of the batch in the error for a null."""
    target, columns = pa.from_numpy_dtype(np.dtype(dtype)), []
    for name, column in zip(batch.schema.names, batch.columns):
        if column.null_count:
            row = first_true(pc.is_null(column))
            raise DatasetError(f"{where(row, name)}: a missing value (null); fill in or drop missing values")
        columns.append(column if column.type == target else column.cast(target))
    return np.asarray(pa.RecordBatch.from_arrays(columns, names=batch.schema.names).to_tensor(row_major=True))


def cell_name(path: Path, first_row: int) -> Callable[[int, str], str]:
    """Names a cell of a batch that starts at row ``first_row`` of the file ``path``."""
    return lambda row, column: f"{path}: row {first_row + row} (counted from 0), column {column!r}"


def check_finite(block: np.ndarray, where: Callable[[int, str], str], names: Sequence[str]) -> None:
    """Raise, naming the cell, at the first value of ``block`` that is not finite in float32."""
    bad = first_non_finite(block)
    if bad is not None:
        raise DatasetError(f"{where(bad[0], names[bad[1]])}: {bad_value(float(block[bad]))}")
