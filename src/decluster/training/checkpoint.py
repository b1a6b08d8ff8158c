"""Checkpoints of a running fit: when to write them, what they hold, and how a fit resumes.

A checkpoint folder has the layout of a saved model (``config.json`` naming one safetensors
file, see :mod:`decluster.io.model_folder`), so it is written atomically and never unpickled. It
holds the tracked networks, the state of the random generator, the stage reached and, when
written inside a training loop, that loop's state: optimizer and scheduler, position in the
shuffled epoch, running loss and (in the clustering phase) the current target P. Training is
deterministic given that state, so a resumed fit ends exactly where an uninterrupted one would.

With several ranks, rank 0 writes the checkpoint. What differs between ranks (the random
generator, the batch walk of the shard, the shard's P and labels, running losses) is gathered and
stored under ``rank<r>.``; what they share (networks, optimizer, centroids) is stored once. The ranks
agree at every step on divergence, on a signal received by any of them and on a checkpoint being
due (by rank 0's clock), so they checkpoint at the same step. A checkpoint resumes only on the same
number of ranks, each reading the folder (which must therefore be on a file system they share).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from decluster.data.batching import BatchCursor
from decluster.distributed import World
from decluster.exceptions import CheckpointError, DivergenceError, FitInterrupted
from decluster.io.checks import conform, expect_int, expect_list, expect_number, expect_object, expect_str
from decluster.io.files import signal_handlers
from decluster.io.folders import created_folder, folder_is_new, folder_lock
from decluster.io.model_folder import (
    CONFIG_FILE,
    add_prefix,
    folder_kind,
    read_model,
    strip_prefix,
    write_model,
)

logger = logging.getLogger(__name__)

CHECKPOINT_KIND = "DEC-checkpoint"
GENERATOR_KEY = "generator_state"


@dataclass
class LoopState:
    """The state of one training loop: tensors and JSON values."""

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def optimizer_state(optimizer: torch.optim.Optimizer) -> LoopState:
    """An optimizer's ``state_dict`` split into tensors and JSON values (no pickle needed)."""
    saved = optimizer.state_dict()
    state = LoopState(values={"param_groups": saved["param_groups"], "entries": []})
    for param_id, entry in saved["state"].items():
        names = []
        for name, value in entry.items():
            if not torch.is_tensor(value):
                raise TypeError(f"optimizer state {name!r} is not a tensor")
            state.tensors[f"{param_id}.{name}"] = value
            names.append(name)
        state.values["entries"].append([int(param_id), names])
    return state


def _optimizer_entry(value: Any, where: str) -> tuple[int, list[str]]:
    param_id, names = expect_list(value, where, lambda v, w: v, length=2)
    return expect_int(param_id, f"{where}[0]", low=0), expect_list(names, f"{where}[1]", expect_str)


def restore_optimizer(optimizer: torch.optim.Optimizer, state: LoopState) -> None:
    """Load what :func:`optimizer_state` saved into ``optimizer``, after checking all of it.

    Raises
    ------
    ValueError
        If the parameter groups differ in structure from the optimizer's, or a state tensor
        is missing, not finite or not of its parameter's shape.
    """
    template = optimizer.state_dict()["param_groups"]
    values = expect_object(state.values, "optimizer", {"param_groups", "entries"})
    conform(values["param_groups"], template, "optimizer.param_groups")
    for index, (saved, live) in enumerate(zip(values["param_groups"], template)):
        _check_param_group(saved, live, f"optimizer.param_groups[{index}]")
    parameters = [parameter for group in optimizer.param_groups for parameter in group["params"]]
    entries = {}
    for param_id, names in expect_list(values["entries"], "optimizer.entries", _optimizer_entry):
        if param_id >= len(parameters):
            raise ValueError(f"optimizer.entries: no parameter {param_id}")
        entries[param_id] = {name: _optimizer_tensor(state.tensors, f"{param_id}.{name}",
                                                     parameters[param_id].shape) for name in names}
    optimizer.load_state_dict({"state": entries, "param_groups": values["param_groups"]})


def _check_param_group(saved: dict[str, Any], live: dict[str, Any], where: str) -> None:
    """The saved group must be the live one but for its scheduled rate, within [0, initial_lr].

    Every other setting (parameters, betas, eps, momentum...) follows from the estimator's
    parameters, which the checkpoint's header already matched.
    """
    for key, value in live.items():
        if key != "lr" and json.loads(json.dumps(saved[key])) != json.loads(json.dumps(value)):
            raise ValueError(f"{where}.{key} differs from the optimizer's")
    if not 0 <= saved["lr"] <= live.get("initial_lr", live["lr"]):
        raise ValueError(f"{where}.lr = {saved['lr']} is outside [0, the initial rate]")


def _optimizer_tensor(tensors: dict[str, torch.Tensor], name: str, shape: torch.Size) -> torch.Tensor:
    """The optimizer state tensor ``name``: a finite scalar (a step count) or of ``shape``."""
    tensor = tensors.get(name)
    if tensor is None or not tensor.is_floating_point() or tensor.shape not in (shape, torch.Size([])):
        raise ValueError(f"optimizer state {name} is missing or of the wrong type or shape")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"optimizer state {name} holds NaN or infinite values")
    return tensor


def capture_loop(cursor: BatchCursor, optimizer: torch.optim.Optimizer, own: LoopState,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None) -> LoopState:
    """A loop's whole state: its batch walk, optimizer, scheduler and ``own`` tensors and values."""
    cursor_tensors, cursor_values = cursor.state()
    optimizer_saved = optimizer_state(optimizer)
    tensors = {**add_prefix(cursor_tensors, "cursor."), **add_prefix(optimizer_saved.tensors, "optimizer."),
               **own.tensors}
    values = {**own.values, "cursor": cursor_values, "optimizer": optimizer_saved.values}
    if scheduler is not None:
        values["scheduler"] = scheduler.state_dict()
    return LoopState(tensors, values)


def restore_loop(state: LoopState, cursor: BatchCursor, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None) -> None:
    """Load the parts of ``state`` written by :func:`capture_loop` (the loop restores its own)."""
    values = expect_object(state.values, "loop")
    cursor.restore(strip_prefix(state.tensors, "cursor."), values.get("cursor"))
    restore_optimizer(optimizer, LoopState(strip_prefix(state.tensors, "optimizer."), values.get("optimizer")))
    if scheduler is not None:
        live = scheduler.state_dict()
        conform(values.get("scheduler"), live, "scheduler")
        _check_scheduler(values["scheduler"], live)
        scheduler.load_state_dict(values["scheduler"])


def _check_scheduler(saved: dict[str, Any], live: dict[str, Any]) -> None:
    """The saved scheduler must be the live one but for its step counts and last rates (each in
    [0, its base rate]): the base rates follow from the estimator's parameters, which the
    checkpoint's header already matched."""
    for key, value in live.items():
        if key in ("last_epoch", "_step_count"):
            expect_int(saved[key], f"scheduler.{key}", low=0)
        elif key == "_last_lr":
            for index, (rate, base) in enumerate(zip(saved[key], live["base_lrs"])):
                if not 0 <= expect_number(rate, f"scheduler._last_lr[{index}]") <= base:
                    raise ValueError(f"scheduler._last_lr[{index}] = {rate} is outside [0, the base rate]")
        elif json.loads(json.dumps(saved[key])) != json.loads(json.dumps(value)):
            raise ValueError(f"scheduler.{key} differs from the scheduler's")


def _differences(current: dict[str, Any], saved: dict[str, Any], param_defaults: dict[str, Any]) -> list[str]:
    """Names of the header entries (and parameters) that differ, seeds aside; a parameter that the
    saved header lacks (written before the parameter existed) counts as its default."""
    names = []
    for key in sorted(current.keys() | saved.keys()):
        mine, theirs = current.get(key), saved.get(key)
        if key == "params" and isinstance(mine, dict) and isinstance(theirs, dict):
            theirs = {**{name: param_defaults[name] for name in mine.keys() & param_defaults.keys()}, **theirs}
            names += [f"parameter {name}" for name in sorted(mine.keys() | theirs.keys())
                      if mine.get(name) != theirs.get(name)]
        elif key != "seeds" and mine != theirs:
            names.append(key)
    return names


def _finite(tensors: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point())


def check_checkpoint_folder(directory: str | os.PathLike) -> None:
    """Refuse a checkpoint folder that is a file or holds anything but a decluster checkpoint.

    Raises
    ------
    CheckpointError
        Naming the folder.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory}: exists and is not a folder")
    if folder_is_new(directory):
        return
    if folder_kind(directory) != CHECKPOINT_KIND:
        raise CheckpointError(f"{directory}: holds files that are not a decluster checkpoint; "
                              "choose a new or empty checkpoint folder")
    logger.warning("starting afresh: the checkpoint in %s will be replaced", directory)


class FitSession:
    """Checkpointing, resuming and divergence checks for one call of ``fit``.

    Without a folder it only checks losses for divergence. With one, training loops call
    :meth:`step` after every optimizer step; a checkpoint is written when ``interval`` seconds
    have passed since the last one, and at once when SIGINT or SIGTERM arrived (then
    :class:`~decluster.exceptions.FitInterrupted` is raised).

    Parameters
    ----------
    stages : sequence of str
        The fit's stages in order, e.g. ``("layer 1", ..., "fine-tuning", "kmeans", "clustering")``.
    header : dict
        JSON description of the run (parameters, data fingerprint, seeds) stored in each
        checkpoint; a checkpoint resumes only a fit with the same header, seeds aside.
    directory : path-like, optional
        Checkpoint folder; ``None`` disables checkpoints.
    interval : float
        Seconds between checkpoints inside a training loop.
    world : World, optional
        The ranks of the fit; rank 0 writes, every rank resumes its own part.
    param_defaults : dict, optional
        JSON value of each parameter that a checkpoint written by an older version may lack, as
        such a checkpoint implies it (the parameter's default, which keeps the older behaviour).
    """

    def __init__(self, stages: Sequence[str], header: dict[str, Any], directory=None,
                 interval: float = 120.0, world: World = World(),
                 param_defaults: dict[str, Any] | None = None) -> None:
        self.stages, self.header, self.world = tuple(stages), header, world
        self.param_defaults = dict(param_defaults or {})
        self.directory = None if directory is None else Path(directory)
        self.interval = interval
        self.losses: dict[str, list[float]] = {}
        self._modules: dict[str, nn.Module] = {}
        self._kept: dict[str, torch.Tensor] = {}
        self._generator: torch.Generator | None = None
        self._resumed: tuple[dict[str, Any], dict[str, torch.Tensor]] | None = None
        self._interrupted: int | None = None
        self._last_save = time.monotonic()

    # ----------------------------------------------------------------- resuming
    def resume(self) -> None:
        """Load the folder's checkpoint; :attr:`header` takes its seeds.

        Raises
        ------
        CheckpointError
            If there is no readable checkpoint, or it was written for other data or parameters.
        """
        if self.directory is None:
            raise CheckpointError("resume=True needs a checkpoint_dir")
        if not os.path.lexists(self.directory / CONFIG_FILE):
            raise CheckpointError(f"{self.directory}: no checkpoint to resume from")
        try:
            saved = read_model(self.directory, CHECKPOINT_KIND)
            config = saved.config
            stage = expect_str(config.get("stage"), "stage")
            saved_header = expect_object(config.get("header"), "header")
            seeds = expect_list(saved_header.get("seeds"), "header.seeds",
                                lambda v, w: expect_int(v, w, low=0, high=2**31 - 1), length=3)
            losses = {name: expect_list(values, f"losses.{name}", expect_number)
                      for name, values in expect_object(config.get("losses"), "losses").items()}
            if config.get("loop") is not None:
                expect_object(config["loop"], "loop")
            if stage not in self.stages:
                raise ValueError(f"stage {stage!r:.40} unknown")
        except ValueError as error:
            raise CheckpointError(f"{self.directory}: unusable checkpoint ({error})") from None
        self._check_header(saved_header)
        if self._own(GENERATOR_KEY) not in saved.tensors:
            raise CheckpointError(f"{self.directory}: unusable checkpoint (generator state missing)")
        self.header, self.losses = dict(self.header, seeds=seeds), losses
        self._resumed = (config, saved.tensors)
        logger.info("resuming from the checkpoint in %s (stage %s)", self.directory, stage)

    def _own(self, name: str) -> str:
        """The key of this rank's ``name`` in a checkpoint (prefixed ``rank<r>.`` among several ranks)."""
        return name if self.world.size == 1 else f"rank{self.world.rank}.{name}"

    def _check_header(self, saved: dict[str, Any]) -> None:
        ranks = saved.get("world_size", 1)
        if ranks != self.header.get("world_size", 1):
            raise CheckpointError(f"{self.directory}: the checkpoint was written by {ranks!r:.20} ranks, this fit runs "
                                  f"on {self.world.size}; resume on the same number of ranks")
        mine, theirs = self.header.get("arithmetic"), saved.get("arithmetic")
        if mine != theirs and isinstance(theirs, dict):
            raise CheckpointError(
                f"{self.directory}: the checkpoint was written on {theirs.get('device')!r:.20} in "
                f"{theirs.get('precision')!r:.20}, this fit runs on {mine['device']!r} in {mine['precision']!r}; "
                "resume with the same device and precision parameters, or start afresh without resume"
            )
        differences = _differences(json.loads(json.dumps(self.header)), saved, self.param_defaults)
        if differences:
            raise CheckpointError(
                f"{self.directory}: the checkpoint was written for other data or parameters "
                f"({', '.join(differences)} differ); resume with the same X and parameters, "
                "or start afresh without resume"
            )

    def check_folder(self) -> None:
        """Refuse a checkpoint folder that is a file or holds anything but a decluster checkpoint."""
        if self.directory is not None:
            check_checkpoint_folder(self.directory)

    @contextmanager
    def running(self) -> Iterator[None]:
        """While inside: the checkpoint folder is claimed, and SIGINT or SIGTERM asks the fit to
        checkpoint and stop at the next step (a second signal stops at once; main thread only).

        The folder is created and locked, so a second fit with the same folder is refused with
        :class:`~decluster.io.FolderInUseError`; if the fit leaves it empty, it is removed.
        """
        if self.directory is None:
            yield
            return
        if not self.world.is_main:  # rank 0 claims and writes the folder
            with signal_handlers(self._request_stop):
                yield
            return
        with created_folder(self.directory), folder_lock(self.directory, wait=False), \
                signal_handlers(self._request_stop):
            yield

    @property
    def resumed_stage(self) -> str | None:
        """The stage the loaded checkpoint had reached, or ``None``."""
        return None if self._resumed is None else self._resumed[0]["stage"]

    def is_past(self, stage: str) -> bool:
        """Whether the loaded checkpoint had finished ``stage``."""
        return self._resumed is not None and self.stages.index(stage) < self.stages.index(self.resumed_stage)

    def reached(self, stage: str) -> bool:
        """Whether the loaded checkpoint had at least begun ``stage``."""
        return self._resumed is not None and self.stages.index(stage) <= self.stages.index(self.resumed_stage)

    def resume_point(self, stage: str) -> LoopState | None:
        """The loop state saved inside ``stage``, if the checkpoint was written there."""
        if self.resumed_stage != stage or self._resumed[0].get("loop") is None:
            return None
        config, tensors = self._resumed
        return LoopState(strip_prefix(tensors, "loop.") | strip_prefix(tensors, self._own("loop.")), config["loop"])

    @contextmanager
    def restoring(self, what: str) -> Iterator[None]:
        """Turn any failure to restore ``what`` from the checkpoint into a :class:`CheckpointError`."""
        try:
            yield
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as error:
            raise CheckpointError(f"{self.directory}: cannot restore {what} ({error})") from None

    def track(self, name: str, module: nn.Module) -> None:
        """Save ``module`` in every checkpoint, and load it now from the resumed one if it holds it."""
        self._modules[name] = module
        if self._resumed is not None and any(key.startswith(f"{name}.") for key in self._resumed[1]):
            with self.restoring(name):
                saved = strip_prefix(self._resumed[1], f"{name}.")
                if not _finite(saved):
                    raise ValueError("NaN or infinite weights")
                module.load_state_dict(saved, strict=True)

    def keep(self, name: str, tensor: torch.Tensor) -> None:
        """Save ``tensor`` under ``name`` in every later checkpoint."""
        self._kept[name] = tensor

    def kept(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        """A float tensor of ``shape`` stored with :meth:`keep` in the resumed checkpoint."""
        tensor = None if self._resumed is None else self._resumed[1].get(f"kept.{name}")
        if tensor is None or tuple(tensor.shape) != shape or not tensor.is_floating_point() or not _finite(
                {name: tensor}):
            raise CheckpointError(f"{self.directory}: the checkpoint lacks a finite {name} of shape {shape}")
        return tensor

    def track_generator(self, generator: torch.Generator) -> None:
        """Save ``generator``'s state in every checkpoint, and restore it now if resuming."""
        self._generator = generator
        if self._resumed is not None:
            with self.restoring("the random generator"):
                generator.set_state(self._resumed[1][self._own(GENERATOR_KEY)])

    # ----------------------------------------------------------------- saving
    def check_loss(self, loss: torch.Tensor, where: str) -> None:
        """Raise :class:`DivergenceError` if ``loss`` is NaN or infinite."""
        if not bool(torch.isfinite(loss)):
            raise DivergenceError("the loss", where, self._kept_directory())

    def step(self, stage: str, capture: Callable[[], LoopState], where: str) -> None:
        """Called after each optimizer step: checkpoint if due; on a signal, checkpoint and stop."""
        if self.directory is None:
            return
        due = self.world.is_main and time.monotonic() - self._last_save >= self.interval
        interrupted, due = self.world.any([self._interrupted is not None, due])
        if interrupted:
            self.save(stage, capture(), where)
            raise FitInterrupted(self.directory, self._interrupted or signal.SIGTERM)
        if due:
            self.save(stage, capture(), where)

    def save(self, stage: str, loop: LoopState | None, where: str) -> None:
        """Write a checkpoint now (no-op without a folder).

        Raises
        ------
        DivergenceError
            If a network or loop tensor is not finite; the previous checkpoint is kept.
        """
        if self.directory is None:
            return
        tensors = add_prefix(self._kept, "kept.")
        for name, module in self._modules.items():
            tensors |= add_prefix(module.state_dict(), f"{name}.")
        own = {} if loop is None else add_prefix(loop.tensors, "loop.")
        if self.world.any([not _finite(tensors | own)])[0]:
            raise DivergenceError("a parameter", where, self._kept_directory())
        if self._generator is not None:
            own[GENERATOR_KEY] = self._generator.get_state()
        tensors |= self._gather_own(own)
        if self.world.is_main:
            metadata = {"stage": stage, "header": self.header, "losses": self.losses,
                        "loop": None if loop is None else loop.values}
            write_model(self.directory, CHECKPOINT_KIND, metadata, tensors)
            logger.debug("checkpoint written to %s (%s)", self.directory, where)
        self.world.barrier()  # no rank goes on (or exits) before the checkpoint is complete
        self._last_save = time.monotonic()

    def _gather_own(self, own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The tensors of every rank's loop and generator as rank 0 writes them: as they are in one
        process; among several ranks, the optimizer's (the same on all) once and the rest of each
        rank under ``rank<r>.`` (an empty dict on the other ranks)."""
        if self.world.size == 1:
            return own
        shared = {key: value for key, value in own.items() if key.startswith("loop.optimizer.")}
        local = {key: value.cpu() for key, value in own.items() if key not in shared}
        gathered = self.world.gather_objects(local)
        if gathered is None:
            return {}
        return shared | {f"rank{rank}.{key}": value
                         for rank, part in enumerate(gathered) for key, value in part.items()}

    def raise_if_interrupted(self) -> None:
        """Raise :class:`FitInterrupted` if a signal arrived (call after the final checkpoint)."""
        if self.directory is not None and self.world.any([self._interrupted is not None])[0]:
            raise FitInterrupted(self.directory, self._interrupted or signal.SIGTERM)

    def _kept_directory(self) -> Path | None:
        return self.directory if self.directory is not None and (self.directory / CONFIG_FILE).is_file() else None

    # ----------------------------------------------------------------- signals
    def _request_stop(self, number: int, frame) -> None:
        """Signal handler: the first signal asks for a checkpoint and a stop, a second stops at once."""
        if self._interrupted is not None:
            raise KeyboardInterrupt
        self._interrupted = number
        logger.warning("%s received: saving a checkpoint at the next step", signal.Signals(number).name)
