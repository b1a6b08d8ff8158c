"""Random shifts and rotations of images, drawn per image from a seeded generator (DEC-DA, Guo et al., 2018).

Rows of a feature matrix are images stored row-major with channels last, ``(height, width,
channels)`` flattened, as MNIST's IDX files and ``X.reshape(n, -1)`` of an ``(n, h, w, c)`` array
give them. Each image gets its own angle in [-max_rotation, max_rotation] degrees and its own
shifts in [-max_shift, max_shift] of its width and height, applied about its centre by one
``affine_grid``/``grid_sample`` call for the whole batch (bilinear, zeros outside), on the batch's
device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


def affine_matrices(angles: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """The (b, 2, 3) matrices of ``affine_grid`` that rotate each image about its centre by
    ``angles`` and then shift it by ``shifts``.

    ``affine_grid`` maps output coordinates to input coordinates, both in [-1, 1]: the matrix
    [R | -2 R s] samples the output at x from the input at R (x - 2 s), so the content is rotated
    by R's inverse and moved by s (a side spans 2 in these coordinates).

    Parameters
    ----------
    angles : torch.Tensor of shape (b,)
        Rotations in radians (their sign convention does not matter where they are drawn
        symmetrically about 0).
    shifts : torch.Tensor of shape (b, 2)
        Shifts of the content as fractions of width (x, to the right) and height (y, downwards).

    Returns
    -------
    torch.Tensor of shape (b, 2, 3)
    """
    cos, sin = torch.cos(angles), torch.sin(angles)
    rotation = torch.stack([torch.stack([cos, -sin], dim=1), torch.stack([sin, cos], dim=1)], dim=1)
    translation = -2.0 * torch.einsum("bij,bj->bi", rotation, shifts)
    return torch.cat([rotation, translation.unsqueeze(2)], dim=2)


def transform_images(images: torch.Tensor, angles: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Rotate and shift each image of a batch of shape (b, c, h, w); pixels from outside are 0."""
    theta = affine_matrices(angles, shifts).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@dataclass(frozen=True)
class ImageAugmentation:
    """Random shifts and rotations of flattened images, the DEC-DA augmentation.

    Attributes
    ----------
    image_shape : tuple of int
        ``(height, width, channels)`` of each row.
    max_shift : float
        Largest shift, as a fraction of each side (0.1: up to 10% of the width and height).
    max_rotation : float
        Largest rotation in degrees.
    """

    image_shape: tuple[int, int, int]
    max_shift: float = 0.1
    max_rotation: float = 10.0

    def __call__(self, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A randomly shifted and rotated copy of each row of ``rows`` (b, h w c), same shape.

        The angles and shifts are drawn from ``generator`` (on the rows' device), so a seeded
        fit augments identically every time, and a resumed one continues the same draws.
        """
        height, width, channels = self.image_shape
        n = rows.shape[0]
        draws = torch.rand((n, 3), generator=generator, device=rows.device) * 2.0 - 1.0
        angles = draws[:, 0] * math.radians(self.max_rotation)
        shifts = draws[:, 1:] * self.max_shift
        images = rows.reshape(n, height, width, channels).permute(0, 3, 1, 2)
        moved = transform_images(images, angles, shifts)
        return moved.permute(0, 2, 3, 1).reshape(n, -1)


def image_shape_of(shape, n_features: int) -> tuple[int, int, int]:
    """``(height, width, channels)`` from ``(height, width)`` or ``(height, width, channels)``.

    Raises
    ------
    ValueError
        If the shape is not two or three positive integers whose product is ``n_features``.
    """
    values = tuple(shape)
    if len(values) not in (2, 3) or any(isinstance(v, bool) or int(v) != v or v < 1 for v in values):
        raise ValueError(f"image_shape must be (height, width) or (height, width, channels), got {shape!r}")
    values = tuple(int(v) for v in values) + ((1,) if len(values) == 2 else ())
    if math.prod(values) != n_features:
        raise ValueError(f"image_shape {values} holds {math.prod(values)} values per image, X has {n_features} "
                         "features")
    return values
