"""User text (file and column names) made safe to draw with matplotlib."""

from __future__ import annotations


def plain_label(text: str, limit: int = 40) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut), drawn literally.

    Whitespace runs (newlines included) become one space, and ``$`` is escaped so that
    matplotlib draws it instead of reading mathematics between two of them.

    Parameters
    ----------
    text : str
    limit : int, default=40

    Returns
    -------
    str
    """
    line = " ".join(str(text).split())
    if len(line) > limit:
        line = line[: max(1, limit - 1)] + "…"
    return line.replace("$", r"\$")
