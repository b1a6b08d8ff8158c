"""The stacked autoencoder and its pretraining (DEC paper, section 3.2)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ._batching import BatchCursor, map_in_batches
from ._device import in_precision
from ._progress import progress as show_progress
from .checkpoint import FitSession, LoopState, capture_loop, restore_loop
from .config import PretrainSettings
from .io.checks import expect_int, expect_list, expect_number

logger = logging.getLogger(__name__)


def _linear(n_in: int, n_out: int, generator: torch.Generator | None) -> nn.Linear:
    """A linear layer initialised like PyTorch's default, from ``generator``."""
    layer = nn.utils.skip_init(nn.Linear, n_in, n_out)
    bound = 1.0 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


def _stack(linears: list[nn.Linear]) -> nn.Sequential:
    """Interleave ReLUs between linear layers (none after the last)."""
    modules: list[nn.Module] = []
    for index, layer in enumerate(linears):
        modules.append(layer)
        if index < len(linears) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class StackedAutoencoder(nn.Module):
    """A symmetric fully connected autoencoder, d-500-500-2000-10 by default.

    ReLU follows every layer except the embedding (last encoder layer) and the
    reconstruction (last decoder layer), which are linear.

    Parameters
    ----------
    dims : sequence of int
        Layer widths from the input to the embedding, e.g. ``(784, 500, 500, 2000, 10)``.
    generator : torch.Generator, optional
        Source of the initial weights; defaults to torch's global generator.

    Attributes
    ----------
    encoder : torch.nn.Sequential
        Maps (b, dims[0]) to (b, dims[-1]).
    decoder : torch.nn.Sequential
        Maps (b, dims[-1]) to (b, dims[0]).
    """

    def __init__(self, dims: Sequence[int], generator: torch.Generator | None = None) -> None:
        super().__init__()
        dims = tuple(int(width) for width in dims)
        if len(dims) < 2 or min(dims) < 1:
            raise ValueError(f"dims must hold at least two positive widths, got {dims}")
        self.dims = dims
        pairs = list(zip(dims[:-1], dims[1:]))
        self.encoder = _stack([_linear(a, b, generator) for a, b in pairs])
        self.decoder = _stack([_linear(b, a, generator) for a, b in reversed(pairs)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` of shape (b, dims[0])."""
        return self.decoder(self.encoder(x))

    def layer_pair(self, depth: int) -> tuple[nn.Linear, nn.Linear]:
        """The encoder layer at ``depth`` (0 = next to the input) and the decoder layer undoing it."""
        encoders = [m for m in self.encoder if isinstance(m, nn.Linear)]
        decoders = [m for m in self.decoder if isinstance(m, nn.Linear)]
        return encoders[depth], decoders[len(decoders) - 1 - depth]


def state_shapes(dims: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Name and shape of each tensor in the ``state_dict`` of ``StackedAutoencoder(dims)``.

    Lets a loader check a file against ``dims`` before building (allocating) the network.
    Encoder layer i (``encoder.{2i}``) maps dims[i] to dims[i+1]; the decoder mirrors it.
    """
    pairs = list(zip(dims[:-1], dims[1:]))
    shapes = {}
    for index, (n_in, n_out) in enumerate(pairs):
        shapes[f"encoder.{2 * index}.weight"], shapes[f"encoder.{2 * index}.bias"] = (n_out, n_in), (n_out,)
    for index, (n_in, n_out) in enumerate(reversed(pairs)):
        shapes[f"decoder.{2 * index}.weight"], shapes[f"decoder.{2 * index}.bias"] = (n_in, n_out), (n_in,)
    return shapes


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


def reconstruction_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The DEC authors' least-squares loss: ``(1 / (2 b m)) sum_i |x_i - y_i|^2``.

    Parameters
    ----------
    output, target : torch.Tensor of shape (b, m)

    Returns
    -------
    torch.Tensor of shape ()
        Half the mean squared error over all b m entries. This is the scale of the Euclidean
        loss in the authors' Caffe code, which divides by the number of entries, so that
        their SGD learning rate of 0.1 carries over.
    """
    return 0.5 * (output - target).pow(2).mean()


def train_reconstruction(
    reconstruct: Callable[[torch.Tensor], torch.Tensor],
    parameters: list[nn.Parameter],
    inputs: torch.Tensor,
    epochs: int,
    settings: PretrainSettings,
    generator: torch.Generator,
    stage: str = "pretraining",
    verbose: bool = False,
    lift: Callable[[torch.Tensor], torch.Tensor] | None = None,
    session: FitSession | None = None,
) -> list[float]:
    """Minimise the reconstruction error of ``inputs`` by mini-batch descent.

    Parameters
    ----------
    reconstruct : callable
        Maps a batch of shape (b, m) to its reconstruction of shape (b, m).
    parameters : list of torch.nn.Parameter
        What the optimizer updates.
    inputs : torch.Tensor of shape (n, m)
    epochs : int
    settings : PretrainSettings
        Optimizer, learning rate, schedule, batch size and precision.
    generator : torch.Generator
        Shuffles the batches.
    stage : str
        Name of this stage in the progress bar, the log, errors and checkpoints.
    verbose : bool
        Show a progress bar.
    lift : callable, optional
        Applied without gradients to each batch of ``inputs`` to give the rows to reconstruct.
    session : FitSession, optional
        Checkpoints, resumes and checks for divergence.

    Returns
    -------
    list of float
        Mean :func:`reconstruction_error` of each epoch.

    Raises
    ------
    DivergenceError
        If the loss becomes NaN or infinite.
    """
    session = session or FitSession((stage,), {})
    reconstruct = in_precision(reconstruct, settings.precision)
    lift = None if lift is None else in_precision(lift, settings.precision)
    optimizer = _make_optimizer(parameters, settings)
    total_steps = epochs * math.ceil(len(inputs) / settings.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(settings.lr_schedule, step, total_steps)
    )
    cursor = BatchCursor(len(inputs), settings.batch_size, generator)
    progress = _EpochProgress(torch.zeros((), device=inputs.device))
    saved = session.resume_point(stage)
    if saved is not None:
        with session.restoring(stage):
            restore_loop(saved, cursor, optimizer, scheduler)
            progress.restore(saved)
    capture = lambda: capture_loop(cursor, optimizer, progress.state(), scheduler)  # noqa: E731
    with show_progress(stage, epochs, progress.epoch, verbose) as bar:
        while progress.epoch < epochs:
            index = cursor.next()
            where = f"{stage}, epoch {progress.epoch + 1}, batch {math.ceil(cursor.position / settings.batch_size)}"
            batch = inputs[index]
            if lift is not None:
                with torch.no_grad():
                    batch = lift(batch)
            loss = reconstruction_error(reconstruct(batch), batch)
            session.check_loss(loss, where)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            progress.total += loss.detach() * len(index)
            if cursor.pass_finished:
                progress.end_epoch(len(inputs))
                logger.info("%s epoch %d/%d: reconstruction error %.5g", stage, progress.epoch, epochs,
                            progress.losses[-1])
                bar.update()
            session.step(stage, capture, where)
    return progress.losses


@dataclass
class _EpochProgress:
    """Where a reconstruction loop is: epochs done, their losses, the current epoch's loss sum."""

    total: torch.Tensor
    epoch: int = 0
    losses: list[float] = field(default_factory=list)

    def end_epoch(self, n_rows: int) -> None:
        self.losses.append(float(self.total) / n_rows)
        self.total = torch.zeros_like(self.total)
        self.epoch += 1

    def state(self) -> LoopState:
        return LoopState({"loss_total": self.total}, {"epoch": self.epoch, "losses": list(self.losses)})

    def restore(self, saved: LoopState) -> None:
        total = saved.tensors.get("loss_total")
        if total is None or total.shape != () or not bool(torch.isfinite(total)):
            raise ValueError("loss_total must be a finite scalar")
        epoch = expect_int(saved.values.get("epoch"), "epoch", low=0)
        self.losses = expect_list(saved.values.get("losses"), "losses", expect_number, length=epoch)
        self.total, self.epoch = total.to(self.total.device, self.total.dtype), epoch


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
    data: torch.Tensor,
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
    last kept codes, which keeps the memory near that of the data. Trains ``autoencoder`` in place;
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
                denoise, parameters, kept, settings.layer_epochs, settings, generator, name, verbose, lift, session
            )
        if depth < n_pairs - 1:
            kept, lift = _next_inputs(kept, lift, encode, autoencoder.dims[depth + 1] <= data.shape[1])
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


def pretrain_autoencoder(
    autoencoder: StackedAutoencoder,
    data: torch.Tensor,
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
    session = session or FitSession(pretraining_stages(autoencoder.dims, settings.mode), {})
    autoencoder.train()
    if settings.mode == "layerwise" and not session.is_past("fine-tuning"):
        pretrain_layerwise(autoencoder, data, settings, generator, verbose, session)
    if not session.is_past("fine-tuning"):
        session.losses["fine-tuning"] = train_reconstruction(
            autoencoder, list(autoencoder.parameters()), data, settings.finetune_epochs,
            settings, generator, "fine-tuning", verbose, session=session,
        )
    autoencoder.eval()
    return {name: session.losses[name] for name in pretraining_stages(autoencoder.dims, settings.mode)}
