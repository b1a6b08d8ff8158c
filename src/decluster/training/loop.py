"""The one training loop of every method: mini-batches, optimizer, scheduler and step count.

The loop knows nothing of the model. A method supplies an :class:`Objective` (the loss of a
batch, its bookkeeping after each step, when it is finished, and its own state to save); the
loop's :class:`LoopHooks` (a :class:`~decluster.training.checkpoint.FitSession`) resume it,
check each loss for divergence, write checkpoints and turn signals into a checkpoint and a stop.
Progress is shown by :func:`decluster.training.progress.progress`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

from decluster.data.batching import BatchCursor
from decluster.distributed import World
from decluster.training.checkpoint import LoopState, capture_loop, restore_loop
from decluster.training.progress import progress as show_progress


class Objective(Protocol):
    """What a method gives the training loop.

    Attributes
    ----------
    stage : str
        Name of the loop in checkpoints and errors, e.g. ``"layer 1"`` or ``"clustering"``.
    title : str
        Name shown by the progress display.
    """

    stage: str
    title: str

    def batch_loss(self, index: torch.Tensor) -> torch.Tensor:
        """The loss (shape ()) of the rows ``index`` of shape (b,), with gradients."""

    def after_step(self, loss: torch.Tensor, index: torch.Tensor, cursor: BatchCursor) -> dict[str, str] | None:
        """Bookkeeping after an optimizer step (epochs, target updates); what to show, if anything."""

    def finished(self) -> bool:
        """Whether the loop should stop."""

    def position(self, cursor: BatchCursor) -> str:
        """Where the next step is, for errors and checkpoints, e.g. ``"fine-tuning, epoch 3, batch 5"``."""

    def progress(self) -> tuple[int, int]:
        """Units done and in all (epochs, iterations) for the progress display."""

    def state(self) -> LoopState:
        """The objective's own tensors and values, saved in checkpoints."""

    def restore(self, saved: LoopState) -> None:
        """Take back what :meth:`state` saved (raising ``ValueError`` on anything inconsistent)."""


class LoopHooks(Protocol):
    """Checkpoint and resume, divergence checks and signals, as a training loop calls them."""

    def resume_point(self, stage: str) -> LoopState | None:
        """The loop state saved inside ``stage`` by the checkpoint being resumed, if any."""

    def restoring(self, what: str) -> AbstractContextManager[None]:
        """Turn a failure to restore ``what`` into a checkpoint error."""

    def check_loss(self, loss: torch.Tensor, where: str) -> None:
        """Raise if ``loss`` (the same on every rank) is NaN or infinite."""

    def step(self, stage: str, capture: Callable[[], LoopState], where: str) -> None:
        """After each step: checkpoint if due; on a signal, checkpoint and stop."""


@dataclass(frozen=True)
class Optimization:
    """How parameters are updated: the optimizer, its optional scheduler, the batch walk and the
    ranks over which the gradients are averaged."""

    optimizer: torch.optim.Optimizer
    cursor: BatchCursor
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    world: World = World()

    def capture(self, objective: Objective) -> LoopState:
        """The whole state of a loop: batch walk, optimizer, scheduler and the objective's own."""
        return capture_loop(self.cursor, self.optimizer, objective.state(), self.scheduler)

    def descend(self, loss: torch.Tensor, check: Callable[[torch.Tensor], None]) -> None:
        """One optimizer (and scheduler) step on ``loss``, its gradients averaged over the ranks.

        ``check`` sees the loss averaged over the ranks before the parameters change, and may
        raise to stop the step (every rank sees the same value).
        """
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        check(self.world.average_gradients((p for group in self.optimizer.param_groups for p in group["params"]), loss))
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()


def _resume(objective: Objective, optimization: Optimization, hooks: LoopHooks) -> None:
    """Load the objective's and the optimization's state if the checkpoint was written in this loop."""
    saved = hooks.resume_point(objective.stage)
    if saved is not None:
        with hooks.restoring(f"the {objective.stage} loop"):
            objective.restore(saved)  # first: it gives its parameters their saved shapes (k may have changed)
            restore_loop(saved, optimization.cursor, optimization.optimizer, optimization.scheduler)


def run_loop(objective: Objective, optimization: Optimization, hooks: LoopHooks, verbose: bool = False) -> None:
    """Train until ``objective.finished()``: draw a batch, check its loss, step, then let the
    objective and the hooks act.

    Parameters
    ----------
    objective : Objective
    optimization : Optimization
    hooks : LoopHooks
        Usually the fit's :class:`~decluster.training.checkpoint.FitSession`.
    verbose : bool
        Show progress.

    Raises
    ------
    DivergenceError
        From the hooks, if a loss becomes NaN or infinite.
    FitInterrupted
        From the hooks, after a checkpoint, if a signal arrived.
    """
    _resume(objective, optimization, hooks)
    capture = lambda: optimization.capture(objective)  # noqa: E731
    shown, total = objective.progress()
    with show_progress(objective.title, total, shown, verbose) as bar:
        while not objective.finished():
            index = optimization.cursor.next()
            where = objective.position(optimization.cursor)
            loss = objective.batch_loss(index)
            optimization.descend(loss, lambda mean: hooks.check_loss(mean, where))
            postfix = objective.after_step(loss.detach(), index, optimization.cursor)
            done = objective.progress()[0]
            if done != shown:
                bar.update(done - shown)
                shown = done
            if postfix:
                bar.set_postfix(postfix)
            hooks.step(objective.stage, capture, where)
