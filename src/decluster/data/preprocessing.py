"""Per-feature scaling of the command line's input, and how a model's input file is read.

DEC itself never scales its input: in Python, put a scaler before it in a scikit-learn
``Pipeline``. The command line scales user tables itself (``decluster fit --scale``) and stores
the constants in the saved model, so that ``predict`` and ``plot`` transform their data the same
way. Everything here is pure NumPy: the constants are stored as JSON lists, never pickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from decluster.data.disk_rows import DiskRows
from decluster.io.checks import expect_list, expect_number, expect_object, expect_str

SCALINGS = ("standard", "minmax", "global", "none")
"""Kinds of :class:`FeatureScaling`: zero mean and unit variance, [0, 1], or none."""

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def _frozen(values: Any) -> np.ndarray:
    array = np.array(values, dtype=np.float32)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class FeatureScaling:
    """The affine map ``(X - offset) / factor``, one offset and one factor per feature.

    Parameters
    ----------
    kind : {"standard", "minmax", "global", "none"}
        How the constants were found (see :func:`fit_scaling`).
    offset : ndarray of shape (n_features,), float32
    factor : ndarray of shape (n_features,), float32
        Non-zero.
    """

    kind: str
    offset: np.ndarray
    factor: np.ndarray

    def __post_init__(self) -> None:
        offset, factor = _frozen(self.offset), _frozen(self.factor)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "factor", factor)
        _check_constants(self.kind, offset.tolist(), factor.tolist())

    @property
    def n_features(self) -> int:
        """Number of features the constants are for."""
        return int(self.offset.size)

    def apply(self, X: np.ndarray | DiskRows) -> np.ndarray | DiskRows:
        """``(X - offset) / factor`` as float32 (``X`` itself, untouched, for ``kind="none"``);
        rows on disk are scaled as they are read (:meth:`~decluster.data.disk_rows.DiskRows.scaled`).

        Raises
        ------
        ValueError
            If ``X`` is not 2-D with ``n_features`` columns, or a scaled value overflows float32
            (for rows on disk, found when a fit or prediction checks them).
        """
        if len(X.shape) != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X has shape {X.shape}, but the scaling is for {self.n_features} features")
        if self.kind == "none":
            return X
        if isinstance(X, DiskRows):
            return X.scaled(self.offset, self.factor)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (np.asarray(X, dtype=np.float32) - self.offset) / self.factor
        if not np.isfinite(scaled).all():
            raise ValueError(f"{self.kind} scaling overflows float32 on these data; are they the kind of "
                             "data the model was fitted on?")
        return scaled

    def to_json(self) -> dict[str, Any]:
        """The scaling as a JSON object (float32 values, which JSON keeps exactly)."""
        return {"kind": self.kind, "offset": self.offset.tolist(), "factor": self.factor.tolist()}

    @classmethod
    def from_json(cls, value: Any, where: str, n_features: int) -> FeatureScaling:
        """Check a JSON object written by :meth:`to_json` for ``n_features`` features.

        Raises
        ------
        ValueError
            Naming the field, unless every field is present and valid.
        """
        value = expect_object(value, where, {"kind", "offset", "factor"})
        kind = expect_str(value["kind"], f"{where}.kind")
        offset = expect_list(value["offset"], f"{where}.offset", expect_number, length=n_features)
        factor = expect_list(value["factor"], f"{where}.factor", expect_number, length=n_features)
        _check_constants(kind, offset, factor, where)
        return cls(kind, np.array(offset), np.array(factor))


def _check_constants(kind: str, offset: list[float], factor: list[float], where: str = "scaling") -> None:
    """Raise ``ValueError`` unless the constants define a valid scaling of this ``kind``."""
    if kind not in SCALINGS:
        raise ValueError(f"{where}.kind must be one of {', '.join(SCALINGS)}, got {kind!r:.40}")
    if len(offset) != len(factor):
        raise ValueError(f"{where}: {len(offset)} offsets but {len(factor)} factors")
    for name, values in (("offset", offset), ("factor", factor)):
        for index, number in enumerate(values):
            if not abs(number) <= _FLOAT32_MAX:
                raise ValueError(f"{where}.{name}[{index}] = {number} is not finite in float32")
    for index, number in enumerate(factor):
        if abs(number) < _FLOAT32_TINY:
            raise ValueError(f"{where}.factor[{index}] = {number} is zero (or too small to divide by)")
    if kind == "none" and (any(offset) or any(number != 1 for number in factor)):
        raise ValueError(f"{where}: kind none needs offsets 0 and factors 1")
    if kind == "global" and (any(offset) or len(set(factor)) > 1):
        raise ValueError(f"{where}: kind global needs offsets 0 and one factor for every feature")


MIXED_UNITS_RATIO = 100.0
"""``"auto"`` standardizes when the widest column range is this many times the median range."""


def choose_scaling(X: np.ndarray | DiskRows) -> str:
    """``"standard"`` for columns in mixed units, ``"global"`` for columns on one scale.

    Columns are taken to be in mixed units when the largest range (max - min) exceeds
    :data:`MIXED_UNITS_RATIO` times the median range of the non-constant columns: proline in
    the thousands beside hue near 1 (wine: about 370) is standardized. Columns of one unit
    (pixels of one intensity scale, as digits or MNIST: ratio 1) keep their relative scales and
    are only divided, all by one factor, by the largest absolute value, so that raw pixels 0 to
    255 and pixels already in [0, 1] give the same result; standardizing them instead inflates
    rarely lit border pixels.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), or DiskRows

    Returns
    -------
    {"standard", "global"}
    """
    low, high = _column_range(X)
    ranges = high - low
    ranges = ranges[ranges > 0]
    if ranges.size and ranges.max() > MIXED_UNITS_RATIO * np.median(ranges):
        return "standard"
    return "global"


def fit_scaling(X: np.ndarray | DiskRows, kind: str) -> FeatureScaling:
    """The constants of a ``kind`` scaling of the columns of ``X``.

    ``"standard"``: offset = column mean, factor = column standard deviation (population, as
    scikit-learn's ``StandardScaler``). ``"minmax"``: offset = column minimum, factor =
    maximum - minimum (as ``MinMaxScaler``). ``"global"``: offset 0 and, for every column, the
    largest absolute value in ``X`` (1 if that is 0), so values lie in [-1, 1] with the columns'
    relative scales kept. ``"none"``: offset 0, factor 1. A constant column
    (spread zero, or below rounding error of its offset) gets factor 1, so it maps to 0.
    Statistics are computed in float64 and stored as float32.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), or DiskRows
        Finite values (rows on disk are read block by block).
    kind : {"standard", "minmax", "global", "none"}

    Returns
    -------
    FeatureScaling

    Raises
    ------
    ValueError
        If ``kind`` is unknown or ``X`` is not a non-empty 2-D array.
    """
    if kind not in SCALINGS:
        raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {kind!r}")
    if len(X.shape) != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {X.shape}")
    n_features = X.shape[1]
    if kind == "none":
        return FeatureScaling(kind, np.zeros(n_features), np.ones(n_features))
    if kind == "global":
        low, high = _column_range(X)
        largest = float(max(np.max(np.abs(low)), np.max(np.abs(high)))) or 1.0
        return FeatureScaling(kind, np.zeros(n_features), np.full(n_features, largest))
    if kind == "standard":
        offset, spread = _mean_and_deviation(X)
    else:
        offset, high = _column_range(X)
        spread = high - offset
    offset32 = offset.astype(np.float32)
    spread[spread <= 10 * np.finfo(np.float32).eps * np.abs(offset)] = 1.0
    return FeatureScaling(kind, offset32, spread.astype(np.float32))


def _column_range(X: np.ndarray | DiskRows) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum of each column, in float64 (rows on disk read block by block)."""
    if not isinstance(X, DiskRows):
        return X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    low, high = np.full(X.n_features, np.inf), np.full(X.n_features, -np.inf)
    for block in X.blocks():
        low, high = np.minimum(low, block.min(axis=0)), np.maximum(high, block.max(axis=0))
    return low, high


def _mean_and_deviation(X: np.ndarray | DiskRows) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation of each column, in float64 (rows on disk in two
    passes of blocks: the sum, then the squared deviations from the mean)."""
    if not isinstance(X, DiskRows):
        mean = X.mean(axis=0, dtype=np.float64)
        return mean, np.sqrt(np.mean(np.square(X - mean, dtype=np.float64), axis=0))
    mean = sum(block.sum(axis=0, dtype=np.float64) for block in X.blocks()) / X.n_rows
    squares = sum(np.square(block - mean, dtype=np.float64).sum(axis=0) for block in X.blocks())
    return mean, np.sqrt(squares / X.n_rows)


@dataclass(frozen=True)
class InputSpec:
    """How the command line read and transformed the data a model was fitted on.

    Parameters
    ----------
    scaling : FeatureScaling
        Applied to the features before the model sees them.
    label_column : str or int or None
        The label column of a user's file (a header name or a 0-based index), or None.
    header : {"auto", True, False}
        The header choice the file was read with.
    """

    scaling: FeatureScaling
    label_column: str | int | None = None
    header: str | bool = "auto"

    def to_json(self) -> dict[str, Any]:
        """The specification as a JSON object."""
        return {"scaling": self.scaling.to_json(), "label_column": self.label_column, "header": self.header}

    @classmethod
    def from_json(cls, value: Any, where: str, n_features: int) -> InputSpec:
        """Check a JSON object written by :meth:`to_json` for a model of ``n_features`` features.

        Raises
        ------
        ValueError
            Naming the field, unless every field is present and valid.
        """
        value = expect_object(value, where, {"scaling", "label_column", "header"})
        scaling = FeatureScaling.from_json(value["scaling"], f"{where}.scaling", n_features)
        label_column = value["label_column"]
        if not (label_column is None or type(label_column) is int or
                (isinstance(label_column, str) and 0 < len(label_column) <= 1000)):
            raise ValueError(f"{where}.label_column must be null, an integer or a non-empty string, "
                             f"got {label_column!r:.40}")
        header = value["header"]
        if header != "auto" and not isinstance(header, bool):
            raise ValueError(f'{where}.header must be "auto", true or false, got {header!r:.40}')
        return cls(scaling, label_column, header)
