"""Checks and encodings of the values read from users' files, whatever the format.

Features must be finite in float32 (:func:`first_non_finite` finds the first that is not,
:func:`bad_value` says why). Labels become int64: integers exactly, anything else as codes of
its sorted distinct values (:func:`encode_labels`, :func:`encode_text_labels`), so that two
distinct labels never share a value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from decluster.data.errors import DatasetError

FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
INTEGER = re.compile(r"[+-]?[0-9]+")
"""An integer as text."""
_CHUNK_ELEMENTS = 1 << 20  # values checked at a time for finiteness

CONTINUOUS_MIN_DISTINCT = 20
"""The fewest distinct labels that :func:`labels_look_continuous` can call continuous."""


def first_non_finite(X: np.ndarray) -> tuple[int, int] | None:
    """Row and column of the first value of a 2-D ``X`` that is not finite in float32, or None."""
    if X.dtype.kind != "f" or X.size == 0:
        return None
    step = max(1, _CHUNK_ELEMENTS // X.shape[1])
    for start in range(0, X.shape[0], step):
        bad = ~(np.abs(X[start:start + step]) <= FLOAT32_MAX)
        if bad.any():
            row, column = np.unravel_index(np.argmax(bad), bad.shape)
            return start + int(row), int(column)
    return None


def bad_value(value: float) -> str:
    """Why a value cannot be a float32 feature."""
    if math.isnan(value):
        return "NaN is not a number; fill in or drop missing values"
    if math.isinf(value):
        return f"{value} is infinite"
    return f"{value:.6g} is too large for float32 (at most {FLOAT32_MAX:.4g} in magnitude)"


def is_nan_text(cell: str | bytes) -> bool:
    """Whether ``cell`` is a NaN as :func:`float` reads it (``nan``, ``-NaN``, ``+nan``...)."""
    try:
        return math.isnan(float(cell))
    except (ValueError, TypeError):
        return False


def codes(items: Sequence) -> np.ndarray:
    """Codes 0..k-1 of the sorted distinct values of ``items`` (compared exactly, as Python objects)."""
    order = {value: code for code, value in enumerate(sorted(set(items)))}
    return np.fromiter((order[item] for item in items), dtype=np.int64, count=len(items))


def encode_text_labels(cells: Sequence[str]) -> np.ndarray:
    """Text labels: all integers fitting int64 as those integers, else codes of the distinct values."""
    if all(INTEGER.fullmatch(cell) for cell in cells):
        numbers = [int(cell) for cell in cells]
        if all(_INT64_MIN <= number <= _INT64_MAX for number in numbers):
            return np.array(numbers, dtype=np.int64)
        return codes(numbers)
    return codes(cells)


def encode_labels(values: np.ndarray, source: str) -> np.ndarray:
    """Labels of a 1-D array as int64, integers exactly, never merging two distinct labels.

    Integers that fit int64 and floats holding only integers below 2**63 in magnitude are kept
    as int64; other numbers, strings and bytes become codes of their sorted distinct values.
    """
    kind = values.dtype.kind
    if kind in "biu":
        if kind == "u" and values.size and int(values.max()) > _INT64_MAX:
            return np.unique(values, return_inverse=True)[1].astype(np.int64).ravel()
        return values.astype(np.int64)
    if kind == "f":
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DatasetError(f"{source}: label {bad[0]} (counted from 0) is {values[bad[0]]}; "
                               "labels must be finite")
        if np.all(values == np.trunc(values)) and np.all(np.abs(values) < 2.0**63):
            return values.astype(np.int64)
        return np.unique(values, return_inverse=True)[1].astype(np.int64).ravel()
    if kind in "US":
        cells = values.tolist()
        bad = next((row for row, cell in enumerate(cells) if is_nan_text(cell)), None)
        if bad is not None:
            raise DatasetError(f"{source}: label {bad} (counted from 0) is {cells[bad]!r}, a missing label; "
                               "labels must not be NaN")
        return encode_text_labels(cells) if kind == "U" else codes(cells)
    raise DatasetError(f"{source}: labels of type {values.dtype} are not supported; "
                       "use integers or strings")


def labels_look_continuous(y: np.ndarray) -> bool:
    """Whether labels look like a continuous quantity or row identifiers rather than classes.

    The rule: at least :data:`CONTINUOUS_MIN_DISTINCT` (20) distinct values, and more distinct
    values than half the number of labels (nearly one class per row). So 10 classes over 20
    rows, or 20 over 40, are classes; 200 distinct values over 200 rows, or 21 over 40, look
    continuous. Fewer than 20 distinct values never do, however few the rows.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The labels, of any type that can be compared for equality.

    Returns
    -------
    bool
    """
    values = np.asarray(y).ravel()
    try:
        distinct = np.unique(values).size
    except TypeError:  # an object array of values that cannot be sorted together
        distinct = len(set(values.tolist()))
    return bool(distinct >= CONTINUOUS_MIN_DISTINCT and 2 * distinct > values.size)
