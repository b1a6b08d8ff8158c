"""Checks of user-supplied parameters, shared by the estimators."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

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
