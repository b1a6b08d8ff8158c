"""Checks of values read from JSON: every field a loader uses passes one of these first.

Each raises ``ValueError`` naming the field (``where``); loaders add the file's name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return {str: "string", list: "list", dict: "object"}.get(type(value), type(value).__name__)


def expect_int(value: Any, where: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int (not a bool) in ``[low, high]``."""
    if _kind(value) != "int":
        raise ValueError(f"{where} must be an integer, got {value!r:.40}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{where} = {value} is out of range [{low}, {high}]")
    return value


def expect_number(value: Any, where: str, low: float | None = None) -> float:
    """``value`` as a finite float (ints accepted), at least ``low``."""
    if _kind(value) not in ("int", "number") or not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r:.40}")
    if low is not None and value < low:
        raise ValueError(f"{where} = {value} is below {low}")
    return float(value)


def expect_bool(value: Any, where: str) -> bool:
    """``value`` as a bool."""
    if not isinstance(value, bool):
        raise ValueError(f"{where} must be true or false, got {value!r:.40}")
    return value


def expect_str(value: Any, where: str) -> str:
    """``value`` as a str."""
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, got {value!r:.40}")
    return value


def expect_object(value: Any, where: str, keys: set[str] | None = None) -> dict[str, Any]:
    """``value`` as a dict with string keys (exactly ``keys``, if given)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object, got {_kind(value)}")
    if keys is not None and set(value) != keys:
        raise ValueError(f"{where} must have the fields {sorted(keys)}, has {sorted(map(str, value))}")
    return value


def expect_list(value: Any, where: str, item: Callable[[Any, str], T], length: int | None = None) -> list[T]:
    """``value`` as a list whose entries pass ``item`` (and of ``length`` entries, if given)."""
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise ValueError(f"{where} must have {length} entries, has {len(value)}")
    return [item(entry, f"{where}[{index}]") for index, entry in enumerate(value)]


def conform(value: Any, template: Any, where: str) -> None:
    """Raise unless ``value`` has the structure of ``template``.

    Objects need the same fields, lists the same length, and every leaf the same kind
    (an integer is accepted where the template has a float; a tuple in the template
    stands for a list); numbers must be finite.
    """
    kind, expected = _kind(value), _kind(template)
    if isinstance(template, dict):
        for key, entry in expect_object(value, where, set(template)).items():
            conform(entry, template[key], f"{where}.{key}")
    elif isinstance(template, (list, tuple)):
        for index, entry in enumerate(expect_list(value, where, lambda v, w: v, length=len(template))):
            conform(entry, template[index], f"{where}[{index}]")
    elif expected == "number":
        expect_number(value, where)
    elif kind != expected:
        raise ValueError(f"{where} must be {expected}, got {kind}")
    elif kind == "int":
        expect_int(value, where)
