"""Checks of user-supplied parameters: functions, and the constraint objects with which each
estimator declares its parameters (``_parameter_checks``, in the manner of scikit-learn's
``_parameter_constraints``), checked once by :func:`check_parameters`."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils.validation import check_scalar


def check_positive_int(value, name: str, min_val: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``min_val``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (booleans included).
    ValueError
        If ``value`` is below ``min_val``.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(check_scalar(value, name, numbers.Integral, min_val=min_val))


def check_real(value, name: str, min_val: float | None = None, max_val: float | None = None,
               include_boundaries: str = "both") -> float:
    """Return ``value`` as a float, or raise if it is not a real number in the given range.

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If ``value`` is outside the range, or not finite.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(check_scalar(value, name, numbers.Real, min_val=min_val, max_val=max_val,
                               include_boundaries=include_boundaries))
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_choice(value, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_widths(values, name: str) -> tuple[int, ...]:
    """Return a sequence of layer widths as a tuple of positive ints, or raise."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of positive integers, got {values!r}")
    return tuple(check_positive_int(width, f"{name}[{index}]") for index, width in enumerate(values))


# ----------------------------------------------------------------- declarative constraints
@dataclass(frozen=True)
class Integer:
    """An integer (not a bool) of at least ``low``."""

    low: int = 1

    def __call__(self, value, name: str) -> int:
        return check_positive_int(value, name, min_val=self.low)


@dataclass(frozen=True)
class Real:
    """A finite real number in [``low``, ``high``]; ``closed`` names which ends belong
    (sklearn's ``include_boundaries``: "both", "left", "right" or "neither")."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __call__(self, value, name: str) -> float:
        return check_real(value, name, min_val=self.low, max_val=self.high, include_boundaries=self.closed)


@dataclass(frozen=True)
class Choice:
    """One of a few strings."""

    options: tuple[str, ...]

    def __call__(self, value, name: str) -> str:
        return check_choice(value, name, self.options)


@dataclass(frozen=True)
class Widths:
    """A sequence of positive layer widths, returned as a tuple."""

    def __call__(self, value, name: str) -> tuple[int, ...]:
        return check_widths(value, name)


@dataclass(frozen=True)
class OrNone:
    """``None``, or a value that ``inner`` accepts."""

    inner: Callable[[Any, str], Any]

    def __call__(self, value, name: str):
        return None if value is None else self.inner(value, name)


@dataclass(frozen=True)
class Bool:
    """``True`` or ``False`` (NumPy booleans too)."""

    def __call__(self, value, name: str) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r:.40}")
        return bool(value)


@dataclass(frozen=True)
class ImageShape:
    """``(height, width)`` or ``(height, width, channels)``: two or three positive integers."""

    def __call__(self, value, name: str) -> tuple[int, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) not in (2, 3):
            raise ValueError(f"{name} must be (height, width) or (height, width, channels), got {value!r:.60}")
        return tuple(check_positive_int(side, f"{name}[{index}]") for index, side in enumerate(value))


@dataclass(frozen=True)
class ChoiceOrCenters:
    """One of a few strings, or initial centroids: a finite 2-D array of shape (k, d), returned
    as a float32 ndarray (a copy: the caller's array is never changed)."""

    options: tuple[str, ...]

    def __call__(self, value, name: str):
        if isinstance(value, str):
            return check_choice(value, name, self.options)
        try:
            centers = np.array(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be one of {', '.join(map(repr, self.options))} or an array of "
                            f"initial centroids of shape (n_clusters, embedding_dim), got {value!r:.60}") from None
        if centers.ndim != 2 or min(centers.shape) < 1:
            raise ValueError(f"{name}: initial centroids must have shape (n_clusters, embedding_dim), "
                             f"got shape {centers.shape}")
        if not np.isfinite(centers).all():
            raise ValueError(f"{name}: initial centroids must be finite")
        return centers


@dataclass(frozen=True)
class AutoOr:
    """The string ``"auto"``, or a value that ``inner`` accepts."""

    inner: Callable[[Any, str], Any]

    def __call__(self, value, name: str):
        if isinstance(value, str):
            if value != "auto":
                raise ValueError(f"{name} must be 'auto' or a number, got {value!r:.40}")
            return value
        return self.inner(value, name)


@dataclass(frozen=True)
class IntegerRange:
    """Two integers ``(low, high)`` with ``minimum <= low <= high``, returned as a tuple."""

    minimum: int = 1

    def __call__(self, value, name: str) -> tuple[int, int]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
            raise ValueError(f"{name} must be two integers (low, high), got {value!r:.60}")
        low = check_positive_int(value[0], f"{name}[0]", min_val=self.minimum)
        high = check_positive_int(value[1], f"{name}[1]", min_val=low)
        return low, high


@dataclass(frozen=True)
class InstanceOf:
    """``None`` or an instance of one of ``kinds`` (a TypeError names the type given)."""

    kinds: tuple[type, ...]

    def __call__(self, value, name: str):
        if value is not None and not isinstance(value, self.kinds):
            expected = " or ".join(kind.__name__ for kind in self.kinds)
            raise TypeError(f"{name} must be a decluster {expected}, got {type(value).__name__}")
        return value


@dataclass(frozen=True)
class Resolved:
    """A value checked where it is used (``device`` by ``resolve_device``, ``random_state`` by
    ``check_random_state``); ``note`` says where."""

    note: str

    def __call__(self, value, name: str):
        return value


def check_parameters(values: dict[str, Any], checks: dict[str, Callable[[Any, str], Any]]) -> dict[str, Any]:
    """Check each parameter against its constraint; return the checked values by name.

    Raises
    ------
    TypeError, ValueError
        From the first constraint that fails, naming the parameter.
    """
    missing = values.keys() - checks.keys()
    if missing:
        raise TypeError(f"no constraint declared for {', '.join(sorted(missing))}")
    return {name: checks[name](value, name) for name, value in values.items()}
