"""Progress display: a bar where standard error is a terminal, one log line per phase elsewhere.

A bar written to a log file, a CI log or a job scheduler's output would fill it with thousands of
carriage-return updates; there a phase reports once, when it ends, on the ``decluster.progress``
logger at INFO level (the command line shows it unless ``--quiet``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

logger = logging.getLogger("decluster.progress")


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(desc: str, total: int, initial: int = 0, verbose: bool = False) -> Iterator[tqdm]:
    """A progress bar of ``total`` steps (``initial`` done already), shown only if ``verbose``.

    Parameters
    ----------
    desc : str
        Name of the phase, e.g. ``"layer 1"`` or ``"DEC clustering"``.
    total, initial : int
        Steps in all, and steps already done (when resuming).
    verbose : bool
        Show progress: a bar on a terminal, else one log line when the phase ends.
    """
    on_terminal = verbose and _stderr_is_terminal()
    start = time.perf_counter()
    with tqdm(total=total, initial=initial, desc=desc, disable=not on_terminal) as bar:
        yield bar
    if verbose and not on_terminal:
        logger.info("%s: done in %.1f s", desc, time.perf_counter() - start)
