"""A user's own files of features and labels.

:func:`load_features` reads a ``.npy``, ``.npz``, ``.csv`` or ``.tsv`` (also compressed:
``.gz``, ``.bz2``, ``.zst``), ``.parquet`` (a file, or a folder of them read as one table) or
Feather (``.feather``, ``.arrow``) file into memory; :func:`load_labels` reads one column of
labels. Every problem with a file raises :class:`~decluster.data.errors.DatasetError`, a
:class:`ValueError` whose one-line message names the file (and for tables the line or row, and
the column). :func:`decluster.data.inputs.read_input` reads the same files for the command line
and keeps large ones on disk.
"""

from __future__ import annotations

import math
import operator
import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from decluster.data.arrow_tables import Features
from decluster.data.columnar import FEATHER_SUFFIXES, open_feather, open_parquet, read_arrow_table
from decluster.data.csv_reader import read_text_table
from decluster.data.errors import DatasetError, one_line
from decluster.data.text_tables import (
    COMPRESSIONS,
    DELIMITERS,
    HEADER_CHOICES,
    INDEX_COLUMN,
    TABLE_SUFFIXES,
    check_delimiter,
    check_header,
    feature_layout,
    read_label_column,
    table_suffix,
)
from decluster.data.values import (
    CONTINUOUS_MIN_DISTINCT,
    bad_value,
    encode_labels,
    first_non_finite,
    labels_look_continuous,
)

__all__ = ["CONTINUOUS_MIN_DISTINCT", "DELIMITERS", "DatasetError", "FORMATS", "HEADER_CHOICES", "INDEX_COLUMN",
           "file_format", "file_image_shape", "folder_format", "labels_look_continuous", "load_features",
           "load_labels", "read_features"]

FORMATS: dict[str, str] = {
    "npy": ".npy", "npz": ".npz", "text": ".csv, .tsv (also .gz, .bz2, .zst)", "parquet": ".parquet",
    "feather": ".feather, .arrow",
}
"""The formats of feature files, and the extensions of each."""


def file_format(path: Path) -> str:
    """The format of a feature file (a key of :data:`FORMATS`), from its extension.

    Raises
    ------
    DatasetError
        If the extension is none of those of :data:`FORMATS`.
    """
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz", ".parquet"):
        return suffix[1:]
    if suffix in FEATHER_SUFFIXES:
        return "feather"
    if table_suffix(path) in TABLE_SUFFIXES and (suffix in COMPRESSIONS or suffix in TABLE_SUFFIXES):
        return "text"
    raise DatasetError(f"{path}: unsupported file type {path.suffix!r}; use {', '.join(FORMATS.values())}")


def load_features(path: str | os.PathLike, *, label_column: str | int | None = None,
                  header: str | bool = "auto",
                  delimiter: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a user's feature matrix from a file, or a folder of Parquet files.

    ``.npy``: a 2-D numeric array, memory-mapped copy-on-write (returned as the memmap itself
    unless a label column is split off, which copies the features into memory; writing to it
    never changes the file).
    ``.npz``: the array ``"X"`` (or the only array), labels from an optional array ``"y"``.
    Either may also hold images, an array of shape ``(n, height, width)`` or
    ``(n, height, width, channels)``: each image becomes one row, flattened row-major with the
    channels last (:func:`file_image_shape` gives the shape).
    ``.csv`` / ``.tsv``, also compressed (``.csv.gz``, ``.csv.bz2``, ``.csv.zst``): a table of
    numbers, with an optional header row, parsed by pyarrow; blank lines are skipped.
    ``.parquet`` (or a folder of ``.parquet`` files with the same columns, read in the order of
    their names as one table) and Feather (``.feather``, ``.arrow``: Arrow IPC files): numeric
    columns (booleans, integers, floats), without nulls; the label column may be of any type
    and an index pandas saved is left out. Tables are returned as float32, and every value must
    be finite in float32 (no NaN, no infinity, no magnitude above 3.4e38).

    With ``header="auto"``, the first non-blank row of a text table is a header when it holds
    the name given as ``label_column``, or none of its feature cells is a number, or its cells
    are exactly ``0,1,...,n-1`` with n >= 2 (what pandas writes for unnamed columns) and the
    next row is not; otherwise it is data.

    Labels are kept as they are: integers (that fit int64) as int64, exactly; any others
    (e.g. strings, fractions) as int64 codes 0..k-1 of their sorted distinct values, so that
    two distinct labels never share a code. A missing label raises, as :func:`load_labels`
    describes (blank, NaN, null, or ``NA``-like among numbers); so does a ``label_column`` name
    that names more than one column (other columns may share names).

    Parameters
    ----------
    path : str or os.PathLike
        The file; its extension selects the format. A folder is read as Parquet files.
    label_column : str or int, optional
        Column holding the labels, split off from the features: a 0-based index (negative
        counts from the end), or a column name (text files with a header, Parquet, Feather).
    header : {"auto", True, False}, default="auto"
        Text files: whether the first non-blank row is a header; ``"auto"`` decides as above.
    delimiter : str, optional
        Text files: the one-character column separator. By default the first of the
        extension's own (``","`` for ``.csv``, tab for ``.tsv``) and ``;``, tab, ``|``, ``,``
        that splits the first lines into an equal number (at least two) of columns,
        preferring one that leaves only numbers below the first line.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), dtype int64, or None
        The labels, if a label column or a ``"y"`` array was found.

    Raises
    ------
    DatasetError
        Naming the file (and for tables the line or row, and the column) on any problem.
    ValueError
        If ``header`` or ``delimiter`` is not an accepted value.
    """
    features = read_features(Path(path), label_column, header, delimiter)
    return features.X, features.y


def read_features(path: Path, label_column: str | int | None = None, header: str | bool = "auto",
                  delimiter: str | None = None) -> Features:
    """What :func:`load_features` reads, with the features' column names (None for arrays).

    Returns
    -------
    Features
    """
    header, delimiter = check_header(header), check_delimiter(delimiter)
    if path.is_dir():
        kind = folder_format(path)
        if kind != "parquet":
            raise DatasetError(f"{path}: is a folder of .npy shards, which stay on disk: read it with "
                               "decluster.data.inputs.read_input")
    else:
        kind = file_format(path)
        _check_regular_file(path)
    if kind == "npy":
        features = Features(*_read_npy(path, label_column), None)
    elif kind == "npz":
        features = Features(*_read_npz(path, label_column), None)
    elif kind == "text":
        features = read_text_table(feature_layout(path, label_column, header, delimiter))
    else:
        source = open_parquet(path) if kind == "parquet" else open_feather(path)
        if source.n_rows is not None:
            _check_fits_in_memory(path, 4 * source.n_rows * len(source.schema), "its features take up to {} as "
                                  "float32", "read it with decluster.data.inputs.read_input, which streams Parquet")
        features = read_arrow_table(source, label_column)
    if features.X.shape[0] == 0 or features.X.shape[1] == 0:
        raise DatasetError(f"{path}: no data (shape {features.X.shape})")
    return features


def folder_format(folder: Path) -> str:
    """``"npy"`` or ``"parquet"``: the kind of files a folder of shards holds.

    Raises
    ------
    DatasetError
        If it holds neither ``.npy`` nor ``.parquet`` files, or both, or cannot be listed.
    """
    try:
        suffixes = {file.suffix.lower() for file in folder.iterdir() if file.is_file()}
    except OSError as error:
        raise DatasetError(f"{folder}: cannot read ({one_line(error)})") from None
    kinds = [kind for kind in ("npy", "parquet") if f".{kind}" in suffixes]
    if len(kinds) != 1:
        found = "both .npy and .parquet files" if kinds else "no .npy or .parquet files"
        raise DatasetError(f"{folder}: is a folder holding {found}; give a file, or a folder of .npy shards or "
                           ".parquet files")
    return kinds[0]


def _check_regular_file(path: Path) -> None:
    """Raise unless ``path`` is an existing regular file, saying what it is otherwise."""
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder, not a file")
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if not path.is_file():
        raise DatasetError(f"{path}: not a regular file (a pipe or a device?)")


def _read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of a file."""
    try:
        with open(path, "rb") as stream:
            return stream.read(size)
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({one_line(error)})") from None


def _check_features(path: Path, X: np.ndarray) -> np.ndarray:
    """``X`` as rows (images flattened) if it is a numeric array of finite float32 values, 2-D or
    images of 3 or 4 dimensions; else raise naming the first bad value."""
    if X.ndim not in (2, 3, 4) or X.dtype.kind not in "biuf":
        raise DatasetError(f"{path}: expected a 2-D numeric array (or images of shape (n, height, width"
                           f"[, channels])), found a {X.ndim}-D {X.dtype} array")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], math.prod(X.shape[1:]))
    bad = first_non_finite(X)
    if bad is not None:
        row, column = bad
        raise DatasetError(f"{path}: row {row}, column {column} (counted from 0): "
                           f"{bad_value(float(X[row, column]))}")
    return X


def _split_column(path: Path, X: np.ndarray,
                  label_column: str | int) -> tuple[np.ndarray, np.ndarray]:
    """Split the column ``label_column`` (an index) off ``X`` as encoded labels."""
    if isinstance(label_column, str):
        raise DatasetError(f"{path}: has no column names; give label_column as an integer index")
    index = operator.index(label_column)
    if not -X.shape[1] <= index < X.shape[1]:
        raise DatasetError(f"{path}: label_column {index} out of range for {X.shape[1]} columns")
    labels = encode_labels(np.asarray(X[:, index]), f"{path}: column {index}")
    return np.delete(X, index, axis=1), labels


def _load_error(path: Path, error: BaseException, what: str) -> DatasetError:
    """The error for a failed ``np.load``: an operating system error, or a malformed file."""
    if isinstance(error, OSError) and error.errno is not None:
        return DatasetError(f"{path}: cannot read ({one_line(error)})")
    return DatasetError(f"{path}: not a readable {what} ({one_line(error)})")


def _read_npy(path: Path, label_column: str | int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """A copy-on-write memory-mapped 2-D array; splitting a label column off copies it into memory."""
    if _read_head(path, 6) != b"\x93NUMPY":
        raise DatasetError(f"{path}: not a .npy file (no NumPy header)")
    try:
        X = np.load(path, mmap_mode="c", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise _load_error(path, error, ".npy array") from None
    _refuse_label_column_of_images(path, X, label_column)
    X = _check_features(path, X)
    if label_column is None:
        return X, None
    _check_fits_in_memory(path, X.nbytes, "splitting off a label column copies {} into memory",
                          "save the labels apart, as a .npy file given to evaluate, and the features alone, "
                          "which are read from disk as needed")
    return _split_column(path, X, label_column)


def _check_fits_in_memory(path: Path, n_bytes: int, needs: str, advice: str) -> None:
    """Raise before allocating ``n_bytes`` for ``path`` when they exceed the free memory; ``needs``
    says what takes them (``{}`` stands for the bytes), ``advice`` what to do instead."""
    from decluster.training.memory import format_bytes, host_memory_available

    available = host_memory_available()
    if available is not None and n_bytes > available:
        raise DatasetError(f"{path}: {needs.format(format_bytes(n_bytes))}, more than the "
                           f"{format_bytes(available)} free; {advice}")


def _refuse_label_column_of_images(path: Path, X: np.ndarray, label_column: str | int | None) -> None:
    if X.ndim > 2 and label_column is not None:
        raise DatasetError(f"{path}: holds images of shape {X.shape[1:]}, which have no label column; "
                           "give the labels as 'y' in an .npz or as a file of their own")


def file_image_shape(path: str | os.PathLike) -> tuple[int, ...] | None:
    """The image shape of a ``.npy`` or ``.npz`` file of images, read from the array's header only.

    Parameters
    ----------
    path : str or os.PathLike
        A file that :func:`load_features` reads, or a folder of ``.npy`` shards.

    Returns
    -------
    tuple of int or None
        ``(height, width)`` for an array of shape ``(n, height, width)``, ``(height, width,
        channels)`` for ``(n, height, width, channels)``; None for 2-D arrays, tables and files
        whose header cannot be read.
    """
    path = Path(path)
    try:
        if path.is_dir():  # a folder of .npy shards: the first one's images
            path = min((file for file in path.iterdir() if file.suffix.lower() == ".npy"), default=path)
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as stream:
                shape = _npy_header_shape(stream)
        elif path.suffix.lower() == ".npz":
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                member = "X.npy" if "X.npy" in names else names[0]
                with archive.open(member) as stream:
                    shape = _npy_header_shape(stream)
        else:
            return None
    except (OSError, ValueError, IndexError, zipfile.BadZipFile):
        return None
    return tuple(shape[1:]) if len(shape) in (3, 4) else None


def _npy_header_shape(stream) -> tuple[int, ...]:
    """The array shape in the header of an open ``.npy`` stream."""
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read_header(stream)[0]


def _npz_array_bytes(path: Path) -> int:
    """Bytes the arrays of an archive take once loaded, from their headers (a compressed archive
    may unpack to far more than its size on disk)."""
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                with archive.open(member) as stream:
                    version = np.lib.format.read_magic(stream)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(stream)
                total += math.prod(shape) * dtype.itemsize
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise _load_error(path, error, ".npz archive") from None
    return total


def _read_npz(path: Path, label_column: str | int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The array "X" (or the only one) and the optional labels "y" of an archive."""
    if _read_head(path, 4) not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DatasetError(f"{path}: not a .npz file (not a zip archive)")
    _check_fits_in_memory(path, _npz_array_bytes(path), "its arrays take {} once unpacked",
                          "save X as a .npy file, which is read from disk as needed")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise _load_error(path, error, ".npz archive") from None
    if "X" not in arrays and len(arrays) != 1:
        raise DatasetError(f"{path}: no array named 'X' among {', '.join(arrays) or 'none'}")
    X = arrays["X"] if "X" in arrays else next(iter(arrays.values()))
    _refuse_label_column_of_images(path, X, label_column)
    X = _check_features(path, X)
    y = arrays.get("y") if "X" in arrays else None
    if label_column is not None:
        if y is not None:
            raise DatasetError(f"{path}: holds labels 'y' already; do not give label_column")
        return _split_column(path, X, label_column)
    if y is None:
        return X, None
    if y.shape != (X.shape[0],):
        raise DatasetError(f"{path}: 'y' has shape {y.shape}, expected ({X.shape[0]},)")
    return X, encode_labels(y, f"{path}: 'y'")


def load_labels(path: str | os.PathLike, *, column: str | int | None = None,
                preferred: Sequence[str] = (), header: str | bool = "auto",
                delimiter: str | None = None, align_by_index: bool = False) -> np.ndarray:
    """Load one column of labels from a 1-D ``.npy`` file or a ``.csv``/``.tsv`` table.

    Every row of a table needs a label: a blank label cell, or a blank line between rows
    (which would shift every label below it), raises. So does a missing label: a cell that
    ``float()`` reads as NaN (``nan``, ``NaN``, ``-nan``...), and, in a column whose other
    labels are all numbers, ``NA``, ``N/A``, ``NULL`` or ``None`` (any case; among text labels
    these are classes like any other). Leading and trailing blank lines are ignored.

    With ``header="auto"``, the first non-blank row is a header when it holds ``column`` (a
    name) or one of the names in ``preferred``, or any of its cells is not a number, or its
    cells are exactly ``0,1,...,n-1`` with n >= 2 and the next row is not. So a single column
    of text labels is taken to start with a header unless ``header=False``.

    With ``align_by_index``, a table whose header has a column named ``"index"`` (as in the
    ``labels.csv`` that ``decluster fit`` and ``predict`` write) gives
    its labels in the order of that column rather than of the rows: its cells must be the
    integers 0..n-1 for n rows, each once, in any order.

    Parameters
    ----------
    path : str or os.PathLike
    column : str or int, optional
        A header name or a 0-based index (text files). By default, the first of the header
        names in ``preferred`` that the file has, else its only column.
    preferred : sequence of str
        Column names to look for when ``column`` is not given.
    header : {"auto", True, False}, default="auto"
        Text files: whether the first non-blank row is a header; ``"auto"`` decides as above.
    delimiter : str, optional
        Text files: the column separator; by default detected as :func:`load_features` does.
    align_by_index : bool, default=False
        Text files with a header: put the labels in the order of the column named ``"index"``,
        if there is one (see above). Ignored for ``.npy`` files and tables without that column.

    Returns
    -------
    ndarray of shape (n_samples,), dtype int64
        Integer labels (that fit int64) exactly as they are, other labels as codes of their
        sorted distinct values; distinct labels always get distinct values.

    Raises
    ------
    DatasetError
        Naming the file (and for tables the line and column) on any problem, including a
        column name (``column``, the one of ``preferred`` chosen, or ``"index"``) that names
        more than one column, and an index column that is not a permutation of 0..n-1.
    ValueError
        If ``header`` or ``delimiter`` is not an accepted value.
    """
    path = Path(path)
    header, delimiter = check_header(header), check_delimiter(delimiter)
    _check_regular_file(path)
    if path.suffix.lower() == ".npy":
        return encode_labels(_read_npy_vector(path), str(path))
    if table_suffix(path) not in TABLE_SUFFIXES:
        raise DatasetError(f"{path}: unsupported label file type {path.suffix!r}; use .npy, .csv or .tsv")
    return read_label_column(path, column, preferred, header, delimiter, align_by_index)


def _read_npy_vector(path: Path) -> np.ndarray:
    if _read_head(path, 6) != b"\x93NUMPY":  # np.load would take a zip archive for an .npz
        raise DatasetError(f"{path}: not a .npy file (no NumPy header)")
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise _load_error(path, error, ".npy array") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.size == 0:
        raise DatasetError(f"{path}: expected a non-empty 1-D array of labels, found shape {values.shape}")
    return values
