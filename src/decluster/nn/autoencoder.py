"""The stacked autoencoder of DEC (section 3.2): a symmetric fully connected network."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import torch
from torch import nn


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


class Autoencoder(Protocol):
    """What the estimators and training need of an autoencoder: an ``encoder`` and a ``decoder``
    module (refined as copies in the clustering phase), ``encode``/``decode`` and a JSON ``config``."""

    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x: torch.Tensor) -> torch.Tensor: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...

    def config(self) -> dict[str, object]: ...


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

    @property
    def embedding_dim(self) -> int:
        """Dimension d of the embedding."""
        return self.dims[-1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding z = f(x), of shape (b, d), of ``x`` of shape (b, dims[0])."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The reconstruction g(z), of shape (b, dims[0]), of ``z`` of shape (b, d)."""
        return self.decoder(z)

    def config(self) -> dict[str, object]:
        """What rebuilds this architecture: ``{"kind": "mlp", "dims": [...]}`` (JSON)."""
        return {"kind": "mlp", "dims": list(self.dims)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` of shape (b, dims[0])."""
        return self.decode(self.encode(x))

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
