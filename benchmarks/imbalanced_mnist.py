"""Build an imbalanced MNIST: class sizes falling geometrically, largest / smallest = ``--ratio``.

Usage, from the repository root::

    python benchmarks/imbalanced_mnist.py --data-dir ../shared/datasets/mnist --out imbalanced-mnist.npz

Digit c keeps ``round(largest * ratio ** (-c / 9))`` of its images (6,000 down to 300 with the
defaults: 20,431 images in all), drawn without replacement from the 70,000 with ``--seed``. The
file holds ``X`` (uint8 pixels, one image per row) and ``y``; ``decluster fit --data FILE``
reads it (``--scale auto`` divides the pixels by 255).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from decluster.data.datasets import MNIST_SCALE, load_dataset


def geometric_sizes(largest: int, ratio: float, n_classes: int) -> np.ndarray:
    """``round(largest * ratio ** (-c / (n_classes - 1)))`` for c = 0 .. n_classes - 1."""
    return np.round(largest * ratio ** (-np.arange(n_classes) / (n_classes - 1))).astype(int)


def imbalanced_indices(y: np.ndarray, sizes: np.ndarray, seed: int) -> np.ndarray:
    """Sorted row indices holding ``sizes[c]`` rows of each class c, drawn without replacement."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(y == c), size, replace=False) for c, size in enumerate(sizes)]
    return np.sort(np.concatenate(chosen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="folder holding MNIST's IDX files (else the cache)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    parser.add_argument("--ratio", type=float, default=20.0, help="largest / smallest class size (default 20)")
    parser.add_argument("--largest", type=int, default=6000, help="images of digit 0 (default 6,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, y = load_dataset("mnist", data_dir=args.data_dir)
    sizes = geometric_sizes(args.largest, args.ratio, 10)
    rows = imbalanced_indices(y, sizes, args.seed)
    pixels = np.round(X[rows] / MNIST_SCALE).astype(np.uint8)  # the loader scales the pixels; undo it
    np.savez_compressed(args.out, X=pixels, y=y[rows])
    print(f"wrote {args.out}: {len(rows)} images, class sizes {sizes.tolist()}")


if __name__ == "__main__":
    main()
