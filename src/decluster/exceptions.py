"""Exceptions raised by decluster besides the standard ``ValueError`` and ``TypeError``."""

from __future__ import annotations

import signal
from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint folder is missing, unreadable, or belongs to other data or parameters."""


class ClusterSizeWarning(UserWarning):
    """A cluster ended empty, or far smaller than it was at initialisation."""


class RefinementWarning(UserWarning):
    """``method="auto"`` did not keep a refinement that moved away from the clustering it started from."""


class DivergenceError(RuntimeError):
    """Training produced a NaN or infinite loss or parameter.

    Attributes
    ----------
    where : str
        The phase and step at which it was noticed, e.g. ``"fine-tuning, epoch 3, batch 17"``.
    checkpoint_dir : pathlib.Path or None
        Folder holding the last good checkpoint, if the fit was checkpointed.
    """

    def __init__(self, quantity: str, where: str, checkpoint_dir: Path | None = None) -> None:
        self.where, self.checkpoint_dir = where, checkpoint_dir
        kept = f"; the last good checkpoint is kept in {checkpoint_dir}" if checkpoint_dir else ""
        super().__init__(
            f"training diverged: {quantity} became NaN or infinite in {where}{kept}. "
            "Lower the learning rate of that phase or rescale the features to order one."
        )


class FitInterrupted(KeyboardInterrupt):
    """``fit`` stopped on SIGINT or SIGTERM after writing a checkpoint.

    A subclass of ``KeyboardInterrupt``, so code that handles Ctrl-C handles it too.

    Attributes
    ----------
    checkpoint_dir : pathlib.Path
        Folder holding the checkpoint; pass it to ``fit(..., checkpoint_dir=..., resume=True)``.
    signal_number : int
        The signal that stopped the fit.
    """

    def __init__(self, checkpoint_dir: Path, signal_number: int) -> None:
        self.checkpoint_dir, self.signal_number = checkpoint_dir, signal_number
        super().__init__(
            f"fit interrupted by {signal.Signals(signal_number).name}; checkpoint saved in {checkpoint_dir}"
        )
