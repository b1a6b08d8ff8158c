"""The convolutional autoencoder of DCEC (Guo, Liu, Zhu & Yin, ICONIP 2017), for images of any size.

Encoder: conv 32 5x5 stride 2, conv 64 5x5 stride 2, conv 128 3x3 stride 2 (ReLU after each),
then a linear map to the embedding. The decoder mirrors it with transposed convolutions. It reads
and writes flattened rows (height, width, channels, row-major, channels last), like every other
part of decluster, so data, batches, P and augmentation need not know the architecture.

Each convolution pads by (kernel - 1) / 2, so it maps a side s to ceil(s / 2) whatever s is (28,
14, 7, 4 for MNIST; 16, 8, 4, 2 for USPS; 30, 15, 8, 4); each transposed convolution gets the
output padding that restores the exact side it mirrors (1 for an even side, 0 for an odd one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

CONV_CHANNELS = (32, 64, 128)
CONV_KERNELS = (5, 5, 3)


def halved_sides(side: int, n_layers: int = len(CONV_KERNELS)) -> list[int]:
    """``[side, ceil(side / 2), ...]``: the side before each convolution and after the last."""
    sides = [side]
    for _ in range(n_layers):
        sides.append(math.ceil(sides[-1] / 2))
    return sides


class RowsToImages(nn.Module):
    """(b, h w c) rows, channels last, to (b, c, h, w) images."""

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = image_shape

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        height, width, channels = self.image_shape
        return rows.reshape(-1, height, width, channels).permute(0, 3, 1, 2)


class ImagesToRows(nn.Module):
    """(b, c, h, w) images to (b, h w c) rows, channels last."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.permute(0, 2, 3, 1).reshape(images.shape[0], -1)


def _initialise(module: nn.Module, generator: torch.Generator | None) -> nn.Module:
    """PyTorch's default uniform initialisation of every weight and bias, drawn from ``generator``."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                fan_in = layer.weight.shape[1] * layer.weight[0, 0].numel()  # as torch computes it
                bound = 1.0 / math.sqrt(fan_in)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return module


def _encoder(image_shape: tuple[int, int, int], embedding_dim: int, channels: Sequence[int]) -> nn.Sequential:
    height, width, depth = image_shape
    layers: list[nn.Module] = [RowsToImages(image_shape)]
    for n_in, n_out, kernel in zip((depth, *channels[:-1]), channels, CONV_KERNELS):
        layers += [nn.Conv2d(n_in, n_out, kernel, stride=2, padding=(kernel - 1) // 2), nn.ReLU()]
    flat = channels[-1] * halved_sides(height)[-1] * halved_sides(width)[-1]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, embedding_dim))


def _decoder(image_shape: tuple[int, int, int], embedding_dim: int, channels: Sequence[int]) -> nn.Sequential:
    height, width, depth = image_shape
    heights, widths = halved_sides(height), halved_sides(width)
    layers: list[nn.Module] = [nn.Linear(embedding_dim, channels[-1] * heights[-1] * widths[-1]), nn.ReLU(),
                               nn.Unflatten(1, (channels[-1], heights[-1], widths[-1]))]
    outputs = (*reversed(channels[:-1]), depth)
    for index, (n_in, n_out, kernel) in enumerate(zip(reversed(channels), outputs, reversed(CONV_KERNELS))):
        target_h, target_w = heights[-2 - index], widths[-2 - index]
        layers.append(nn.ConvTranspose2d(n_in, n_out, kernel, stride=2, padding=(kernel - 1) // 2,
                                         output_padding=(1 - target_h % 2, 1 - target_w % 2)))
        if index < len(channels) - 1:  # the reconstruction itself is linear
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, ImagesToRows())


class ConvAutoencoder(nn.Module):
    """DCEC's convolutional autoencoder on flattened images.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width, channels)`` of each row.
    embedding_dim : int, default=10
    channels : sequence of three ints, default=(32, 64, 128)
        Filters of the three convolutions.
    generator : torch.Generator, optional
        Source of the initial weights.

    Attributes
    ----------
    encoder : torch.nn.Sequential
        Maps (b, h w c) to (b, embedding_dim).
    decoder : torch.nn.Sequential
        Maps (b, embedding_dim) to (b, h w c); the reconstruction is linear.
    """

    def __init__(self, image_shape: Sequence[int], embedding_dim: int = 10, channels: Sequence[int] = CONV_CHANNELS,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        image_shape = tuple(int(side) for side in image_shape)
        channels = tuple(int(n) for n in channels)
        if len(image_shape) != 3 or min(image_shape) < 1 or len(channels) != 3 or min(channels) < 1:
            raise ValueError(f"image_shape must be 3 positive sides and channels 3 positive counts, got "
                             f"{image_shape} and {channels}")
        self.image_shape, self.embedding_dim, self.channels = image_shape, int(embedding_dim), channels
        self.n_features = math.prod(image_shape)
        self.encoder = _initialise(_encoder(image_shape, self.embedding_dim, channels), generator)
        self.decoder = _initialise(_decoder(image_shape, self.embedding_dim, channels), generator)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding z = f(x), of shape (b, embedding_dim), of rows of shape (b, h w c)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The reconstruction g(z), of shape (b, h w c)."""
        return self.decoder(z)

    def config(self) -> dict[str, object]:
        """What rebuilds this architecture, as JSON."""
        return {"kind": "conv", "image_shape": list(self.image_shape), "embedding_dim": self.embedding_dim,
                "channels": list(self.channels)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct rows of shape (b, h w c)."""
        return self.decode(self.encode(x))
