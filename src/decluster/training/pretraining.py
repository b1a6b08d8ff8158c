"""Pretraining of the stacked autoencoder (DEC paper, section 3.2): greedy layer-wise denoising,
then end-to-end fine-tuning, each stage one run of :func:`decluster.training.loop.run_loop`."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from decluster.data.batching import BatchCursor, batch_cursor, map_in_batches
from decluster.data.streamed import Rows, is_streamed, layout_of
from decluster.distributed import World
from decluster.io.checks import expect_int, expect_list, expect_number
from decluster.nn.autoencoder import StackedAutoencoder
from decluster.objectives import reconstruction_error
from decluster.training.checkpoint import FitSession, LoopState
from decluster.training.device import in_precision
from decluster.training.loop import Optimization, run_loop
from decluster.training.settings import PretrainSettings

logger = logging.getLogger(__name__)


def _dropout(x: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Inverted dropout drawing its mask from ``generator`` (not the global RNG)."""
    if rate == 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= rate
    return x * keep / (1.0 - rate)


def _lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """Multiplier of the initial learning rate after ``step`` of ``total_steps`` steps."""
    progress = step / max(total_steps, 1)
    if schedule == "step":
        return 0.1 ** (int(progress >= 0.4) + int(progress >= 0.8))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


def _make_optimizer(parameters, settings: PretrainSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=settings.lr, momentum=0.9)
    return torch.optim.Adam(parameters, lr=settings.lr)


@dataclass
class ReconstructionObjective:
    """Reconstruction of ``inputs`` for a number of epochs: one pretraining stage as an
    :class:`~decluster.training.loop.Objective`.

    Attributes
    ----------
    stage : str
        Name of the stage (``"layer 1"``, ``"fine-tuning"``).
    reconstruct : callable
        Maps a batch of shape (b, m) to its reconstruction of shape (b, m).
    inputs : torch.Tensor of shape (n, m), or StreamedRows
    epochs : int
    batch_size : int
    lift : callable, optional
        Applied without gradients to each batch of ``inputs`` to give the rows to reconstruct.
    augment : callable, optional
        Applied to each batch (after ``lift``): the rows to reconstruct are the augmented ones.
    world : World
        The ranks whose shards make up the data: an epoch's loss is summed over them.
    losses : list of float
        Mean :func:`~decluster.objectives.reconstruction_error` of each finished epoch.
    total : torch.Tensor of shape ()
        Sum of the losses of the current epoch's rows.
    """

    stage: str
    reconstruct: Callable[[torch.Tensor], torch.Tensor]
    inputs: Rows
    epochs: int
    batch_size: int
    lift: Callable[[torch.Tensor], torch.Tensor] | None = None
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None
    world: World = field(default_factory=World)
    losses: list[float] = field(default_factory=list)
    total: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self.total = torch.zeros((), device=self.inputs.device)

    @property
    def title(self) -> str:
        return self.stage

    def batch_loss(self, index: torch.Tensor) -> torch.Tensor:
        batch = self.inputs[index]
        if self.lift is not None:
            with torch.no_grad():
                batch = self.lift(batch)
        if self.augment is not None:
            batch = self.augment(batch)
        return reconstruction_error(self.reconstruct(batch), batch)

    def after_step(self, loss: torch.Tensor, index: torch.Tensor, cursor: BatchCursor) -> None:
        self.total += loss * len(index)
        if cursor.pass_finished:
            sums = torch.stack([self.total.double(), self.total.new_tensor(len(self.inputs), dtype=torch.float64)])
            total, rows = self.world.sum(sums).tolist()
            self.losses.append(total / rows)
            self.total = torch.zeros_like(self.total)
            logger.info("%s epoch %d/%d: reconstruction error %.5g", self.stage, len(self.losses), self.epochs,
                        self.losses[-1])

    def finished(self) -> bool:
        return len(self.losses) >= self.epochs

    def position(self, cursor: BatchCursor) -> str:
        return f"{self.stage}, epoch {len(self.losses) + 1}, batch {math.ceil(cursor.position / self.batch_size)}"

    def progress(self) -> tuple[int, int]:
        return len(self.losses), self.epochs

    def state(self) -> LoopState:
        return LoopState({"loss_total": self.total}, {"epoch": len(self.losses), "losses": list(self.losses)})

    def restore(self, saved: LoopState) -> None:
        total = saved.tensors.get("loss_total")
        if total is None or total.shape != () or not bool(torch.isfinite(total)):
            raise ValueError("loss_total must be a finite scalar")
        epoch = expect_int(saved.values.get("epoch"), "epoch", low=0)
        self.losses = expect_list(saved.values.get("losses"), "losses", expect_number, length=epoch)
        self.total = total.to(self.total.device, self.total.dtype)


def train_reconstruction(
    reconstruct: Callable[[torch.Tensor], torch.Tensor],
    parameters: list[nn.Parameter],
    inputs: Rows,
    epochs: int,
    settings: PretrainSettings,
    generator: torch.Generator,
    stage: str = "pretraining",
    verbose: bool = False,
    lift: Callable[[torch.Tensor], torch.Tensor] | None = None,
    session: FitSession | None = None,
    augment: bool = False,
) -> list[float]:
    """Minimise the reconstruction error of ``inputs`` by mini-batch descent.

    Parameters
    ----------
    reconstruct : callable
        Maps a batch of shape (b, m) to its reconstruction of shape (b, m).
    parameters : list of torch.nn.Parameter
        What the optimizer updates.
    inputs : torch.Tensor of shape (n, m), or StreamedRows
    epochs : int
    settings : PretrainSettings
        Optimizer, learning rate, schedule, batch size and precision.
    generator : torch.Generator
        Shuffles the batches.
    stage : str
        Name of this stage in the progress display, the log, errors and checkpoints.
    verbose : bool
        Show progress.
    lift : callable, optional
        Applied without gradients to each batch of ``inputs`` to give the rows to reconstruct.
    session : FitSession, optional
        Checkpoints, resumes and checks for divergence.
    augment : bool
        Reconstruct randomly shifted and rotated images (``settings.augmentation``, drawn from
        ``generator``); for stages whose inputs are the images.

    Returns
    -------
    list of float
        Mean :func:`~decluster.objectives.reconstruction_error` of each epoch.

    Raises
    ------
    DivergenceError
        If the loss becomes NaN or infinite.
    """
    optimizer = _make_optimizer(parameters, settings)
    cursor = batch_cursor(len(inputs), settings.batch_size, generator, settings.world, layout_of(inputs))
    total_steps = epochs * cursor.batches_per_pass
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(settings.lr_schedule, step, total_steps)
    )
    augmentation = settings.augmentation if augment else None
    objective = ReconstructionObjective(
        stage, in_precision(reconstruct, settings.precision), inputs, epochs, settings.batch_size,
        None if lift is None else in_precision(lift, settings.precision),
        None if augmentation is None else (lambda batch: augmentation(batch, generator)), settings.world)
    optimization = Optimization(optimizer, cursor, scheduler, settings.world)
    run_loop(objective, optimization, session or FitSession((stage,), {}, world=settings.world), verbose)
    return objective.losses


def _layer_pair_functions(
    autoencoder: StackedAutoencoder, depth: int, dropout: float, generator: torch.Generator
) -> tuple[Callable, Callable, list[nn.Parameter]]:
    """The denoising reconstruction, the clean encoding and the parameters of one layer pair.

    Following the paper, the hidden layer is linear for the innermost pair (the embedding)
    and the output is linear for the outermost pair (the data); all else uses ReLU.
    """
    encode_layer, decode_layer = autoencoder.layer_pair(depth)
    innermost = depth == len(autoencoder.dims) - 2
    hidden = nn.Identity() if innermost else nn.ReLU()
    output = nn.Identity() if depth == 0 else nn.ReLU()

    def denoise(x: torch.Tensor) -> torch.Tensor:
        h = hidden(encode_layer(_dropout(x, dropout, generator)))
        return output(decode_layer(_dropout(h, dropout, generator)))

    def encode(x: torch.Tensor) -> torch.Tensor:
        return hidden(encode_layer(x))

    return denoise, encode, [*encode_layer.parameters(), *decode_layer.parameters()]


def pretrain_layerwise(
    autoencoder: StackedAutoencoder,
    data: Rows,
    settings: PretrainSettings,
    generator: torch.Generator,
    verbose: bool = False,
    session: FitSession | None = None,
) -> dict[str, list[float]]:
    """Greedy layer-wise denoising pretraining (without the final fine-tuning).

    Each layer pair learns to reconstruct the previous pair's clean codes from a copy
    corrupted by dropout (``settings.dropout``) on its input and hidden units, for
    ``settings.layer_epochs`` epochs. Codes no wider than the data are computed once and kept;
    wider ones (the 2000 units of the default network) are recomputed batch by batch from the
    last kept codes, which keeps the memory near that of the data. Streamed data keep no codes:
    every pair's inputs are computed batch by batch from the rows. Trains ``autoencoder`` in place;
    with a resumed ``session``, pairs the checkpoint had finished are skipped.

    Returns
    -------
    dict of str to list of float
        Per-epoch reconstruction error of each layer pair, ``"layer 1"`` first.
    """
    session = session or FitSession(pretraining_stages(autoencoder.dims, "layerwise"), {})
    kept, lift = data, None  # the inputs of the current pair are lift(kept rows)
    n_pairs = len(autoencoder.dims) - 1
    for depth in range(n_pairs):
        denoise, encode, parameters = _layer_pair_functions(autoencoder, depth, settings.dropout, generator)
        name = f"layer {depth + 1}"
        if not session.is_past(name):
            session.losses[name] = train_reconstruction(
                denoise, parameters, kept, settings.layer_epochs, settings, generator, name, verbose, lift, session,
                augment=depth == 0,
            )
        if depth < n_pairs - 1:
            keep = autoencoder.dims[depth + 1] <= data.shape[1] and not is_streamed(data)
            kept, lift = _next_inputs(kept, lift, encode, keep)
    return {name: session.losses[name] for name in pretraining_stages(autoencoder.dims, "layerwise")[:-1]}


def _next_inputs(
    kept: torch.Tensor, lift: Callable | None, encode: Callable, keep: bool
) -> tuple[torch.Tensor, Callable | None]:
    """Inputs of the next layer pair: computed and kept if ``keep``, else a longer ``lift``."""
    step = encode if lift is None else (lambda x: encode(lift(x)))
    if keep:
        return map_in_batches(step, kept), None
    return kept, step


def pretraining_stages(dims: Sequence[int], mode: str) -> tuple[str, ...]:
    """Names of the pretraining stages in order: ``"layer 1"``, ... (layer-wise), ``"fine-tuning"``."""
    layers = tuple(f"layer {depth + 1}" for depth in range(len(dims) - 1)) if mode == "layerwise" else ()
    return (*layers, "fine-tuning")


def stages_of(autoencoder: nn.Module, mode: str) -> tuple[str, ...]:
    """The pretraining stages of ``autoencoder`` in ``mode`` (layer pairs exist for the stacked one only)."""
    return pretraining_stages(autoencoder.dims if mode == "layerwise" else (), mode)


def pretrain_autoencoder(
    autoencoder: nn.Module,
    data: Rows,
    settings: PretrainSettings,
    generator: torch.Generator,
    verbose: bool = False,
    session: FitSession | None = None,
) -> dict[str, list[float]]:
    """Pretrain ``autoencoder`` in place in the way ``settings.mode`` names.

    ``"layerwise"`` runs :func:`pretrain_layerwise` first; both modes then train the whole
    stack end to end, without dropout, for ``settings.finetune_epochs`` epochs.

    Returns
    -------
    dict of str to list of float
        Per-epoch reconstruction error of each stage, in order, ending with ``"fine-tuning"``.

    Raises
    ------
    DivergenceError
        If a loss becomes NaN or infinite.
    """
    session = session or FitSession(stages_of(autoencoder, settings.mode), {})
    autoencoder.train()
    if settings.mode == "layerwise" and not session.is_past("fine-tuning"):
        pretrain_layerwise(autoencoder, data, settings, generator, verbose, session)
    if not session.is_past("fine-tuning"):
        session.losses["fine-tuning"] = train_reconstruction(
            autoencoder, list(autoencoder.parameters()), data, settings.finetune_epochs,
            settings, generator, "fine-tuning", verbose, session=session, augment=True,
        )
    autoencoder.eval()
    return {name: session.losses[name] for name in stages_of(autoencoder, settings.mode)}
