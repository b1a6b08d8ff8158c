"""The one way of reading a data file that the command line and Python share.

:func:`read_input` reads any file decluster takes (see :data:`~decluster.data.files.FORMATS`),
or a folder of ``.npy`` shards or ``.parquet`` files, and keeps on disk what may not fit in
memory: ``.npy`` files and shards as :class:`~decluster.data.npy_rows.NpyRows`, Parquet data of
more than :data:`STREAM_BYTES` as float32 as :class:`~decluster.data.parquet_rows.ParquetRows`.
Given a model that ``decluster fit`` wrote (``like=``), it reads the file as the model's data
were read, label column and header included, and scales it with the model's saved scaling:
exactly what ``decluster predict`` and ``decluster plot`` do. :func:`fit_input_spec` is what
``decluster fit`` records of its input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from decluster.data.arrow_tables import label_name
from decluster.data.columnar import open_parquet, read_labels
from decluster.data.disk_rows import DiskRows
from decluster.data.errors import DatasetError
from decluster.data.files import file_format, file_image_shape, folder_format, read_features
from decluster.data.npy_rows import NpyRows
from decluster.data.parquet_rows import ParquetRows
from decluster.data.preprocessing import InputSpec, choose_scaling, fit_scaling

STREAM_BYTES = 1 << 30
"""Parquet data larger than this as float32 (1 GiB) are streamed from disk rather than loaded."""


@dataclass(frozen=True)
class InputData:
    """Features and labels read from a file, and what is known of them.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), or DiskRows
        The features: float32 in memory, or rows on disk (``NpyRows``, ``ParquetRows``) that
        estimators read as they need them.
    y : ndarray of shape (n_samples,), dtype int64, or None
        The labels of the label column (or of an ``.npz`` file's ``"y"``).
    feature_names : list of str or None
        The features' column names, for files that have them.
    image_shape : tuple of int or None
        ``(height, width[, channels])`` of files of images.
    source : str
        The file or folder read.
    label_column : str or int or None
        The label column the file was read with.
    header : {"auto", True, False}
        The header choice the file was read with (text tables).
    """

    X: np.ndarray | DiskRows
    y: np.ndarray | None
    feature_names: list[str] | None
    image_shape: tuple[int, ...] | None
    source: str
    label_column: str | int | None = None
    header: str | bool = "auto"


def read_input(path: str | os.PathLike, *, label_column: str | int | None = None, header: str | bool | None = None,
               delimiter: str | None = None, like=None) -> InputData:
    """Read a data file, or a folder of ``.npy`` shards or ``.parquet`` files, as ``decluster`` does.

    Files are read as :func:`~decluster.data.files.load_features` reads them, except that
    what may not fit in memory stays on disk: a ``.npy`` file or folder of shards (without a
    label column) as :class:`~decluster.data.npy_rows.NpyRows`, and a Parquet file or folder
    of more than :data:`STREAM_BYTES` as float32 as
    :class:`~decluster.data.parquet_rows.ParquetRows` (its labels are read into memory).

    Parameters
    ----------
    path : str or os.PathLike
    label_column : str or int, optional
        The column holding labels: a name or a 0-based index (negative counts from the end).
        With ``like``, by default the model's label column if the file has it.
    header : {"auto", True, False}, optional
        Text tables: whether the first row is a header; by default ``"auto"``, or with ``like``
        the choice the model's data were read with.
    delimiter : str, optional
        Text tables: the column separator; detected by default.
    like : estimator, optional
        A model that ``decluster fit`` wrote (loaded with its class's ``load``): the file is
        read as its training file was, and its saved scaling is applied to the features. A
        model without an ``input_spec_`` (saved from Python) gets the features as they are.

    Returns
    -------
    InputData

    Raises
    ------
    DatasetError
        If the file cannot be read, naming it (and the line or row, and the column).
    ValueError
        If, with ``like``, the features are not as many as the model's.
    """
    path = Path(path)
    spec = getattr(like, "input_spec_", None)
    if spec is None:
        data = _read(path, label_column, "auto" if header is None else header, delimiter)
    else:
        data = _read_like(path, spec, like.n_features_in_, label_column,
                          spec.header if header is None else header, delimiter)
    return data if like is None else replace(data, X=transform_like(data.X, like))


def _read(path: Path, label_column: str | int | None, header: str | bool, delimiter: str | None) -> InputData:
    """The file or folder ``path`` read, kept on disk where :func:`read_input` says."""
    kind = folder_format(path) if path.is_dir() else file_format(path)
    if kind == "npy" and path.is_dir():
        return InputData(_shards(path, label_column), None, None, file_image_shape(path), str(path), None, header)
    if kind == "parquet":
        source = open_parquet(path)
        if 4 * source.n_rows * len(source.schema.names) > STREAM_BYTES:
            rows = ParquetRows.open(path, label_column=label_column)
            label = label_name(source.where, source.schema.names, label_column)
            y = None if label is None else read_labels(source, label)
            return InputData(rows, y, list(rows.columns), None, str(path), label_column, header)
    features = read_features(path, label_column, header, delimiter)
    X = features.X
    rows = NpyRows.from_memmap(X) if isinstance(X, np.memmap) else None  # a .npy file: read in blocks
    return InputData(X if rows is None else rows, features.y, features.names, file_image_shape(path), str(path),
                     label_column, header)


def _shards(folder: Path, label_column: str | int | None) -> NpyRows:
    """The rows of every ``.npy`` file in ``folder``, in the order of their names."""
    if label_column is not None:
        raise DatasetError(f"{folder}: is a folder of .npy shards, which have no label column")
    try:
        return NpyRows.open(folder)
    except (OSError, ValueError) as error:
        raise DatasetError(str(error)) from None


def _read_like(path: Path, spec: InputSpec, n_features: int, label_column: str | int | None,
               header: str | bool, delimiter: str | None) -> InputData:
    """``path`` read with the model's label column, if it has that column.

    The file is read with the saved label column first; if that fails or leaves other than
    ``n_features`` columns, it is read again without one. When neither read gives
    ``n_features`` columns, the first read that worked is returned (the model then names the
    count), or else the first error is raised.
    """
    if label_column is not None or spec.label_column is None:
        return _read(path, label_column, header, delimiter)
    results: list[InputData | DatasetError] = []
    for column in (spec.label_column, None):
        try:
            data = _read(path, column, header, delimiter)
        except DatasetError as error:
            results.append(error)
            continue
        if data.X.shape[1] == n_features:
            return data
        results.append(data)
    readable = [result for result in results if isinstance(result, InputData)]
    if readable:
        return readable[0]
    raise results[0]


def transform_like(X: np.ndarray | DiskRows, like) -> np.ndarray | DiskRows:
    """``X`` as the model ``like`` saw its training data: scaled with its saved scaling
    (``input_spec_.scaling``), or as it is for a model without one.

    Raises
    ------
    ValueError
        If ``X`` has not as many features as the scaling.
    """
    spec = getattr(like, "input_spec_", None)
    if spec is None:
        return X
    if X.shape[1] != spec.scaling.n_features:
        raise ValueError(f"X has {X.shape[1]} features, but {type(like).__name__} is expecting "
                         f"{spec.scaling.n_features} features as input")
    return spec.scaling.apply(X)


def fit_input_spec(data: InputData, scale: str = "auto") -> InputSpec:
    """What ``decluster fit`` records of its input: a ``scale`` scaling fitted on ``data.X``, and
    the label column and header choice the file was read with.

    Parameters
    ----------
    data : InputData
    scale : {"auto", "standard", "minmax", "global", "none"}, default="auto"
        ``"auto"``: ``"standard"`` if the columns are in mixed units, else ``"global"``
        (:func:`~decluster.data.preprocessing.choose_scaling`).

    Returns
    -------
    InputSpec
        Its ``scaling.apply`` gives the features the model is fitted on.
    """
    kind = choose_scaling(data.X) if scale == "auto" else scale
    return InputSpec(fit_scaling(data.X, kind), data.label_column, data.header)
