"""The error of every reader of data: named data sets and users' files alike."""

from __future__ import annotations


class DatasetError(ValueError):
    """A data set or feature file is missing, unreadable or malformed; the message names it."""


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line (runs of white space, newlines included, become one space)."""
    return " ".join(str(error).split())
