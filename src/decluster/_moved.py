"""Warnings for modules that moved: their old import paths keep working for one release."""

from __future__ import annotations

import sys
import warnings


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points the warning at the code whose import ran the old module.

    This package's frames between the old module and the caller are counted and skipped; those
    of the import machinery (``<frozen importlib...>``) are skipped uncounted, as
    :func:`warnings.warn` itself skips them.
    """
    frame, level = sys._getframe(2), 2
    package = __file__.rsplit("_moved.py", 1)[0]
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith("<frozen importlib") or name.startswith(package)):
            break
        level += 0 if name.startswith("<frozen importlib") else 1
        frame = frame.f_back
    return level


def warn_moved(old: str, new: str) -> None:
    """Warn, as a :class:`DeprecationWarning`, that module ``old`` is now ``new``."""
    warnings.warn(f"{old} has moved to {new}; import from {new} (the old path will be removed in the "
                  "next release)", DeprecationWarning, stacklevel=_caller_stacklevel())
