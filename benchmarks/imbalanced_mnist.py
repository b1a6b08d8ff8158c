"""Build an imbalanced MNIST: class sizes falling geometrically, largest / smallest = ``--ratio``.

Usage, from the repository root::

    python benchmarks/imbalanced_mnist.py --data-dir ../shared/datasets/mnist --out imbalanced-mnist.npz

Digit c keeps ``round(largest * ratio ** (-c / 9))`` of its images (6,000 down to 300 with the
defaults: 20,431 images in all), drawn without replacement from the 70,000 with ``--seed``. The
file holds ``X`` (uint8 pixels, one image per row) and ``y``; ``decluster fit --data FILE``
reads it (``--scale auto`` divides the pixels by 255). With ``--deepdpm`` it writes DeepDPM's
imbalanced MNIST instead (47,298 images)::

    python benchmarks/imbalanced_mnist.py --data-dir ../shared/datasets/mnist --deepdpm --out deepdpm-mnist.npz
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


DEEPDPM_KEPT = {8: 0.10, 2: 0.05, 5: 0.20, 9: 0.30}
"""DeepDPM's imbalanced MNIST (Ronen, Finder & Freifeld, CVPR 2022): the share of these digits kept."""


def deepdpm_indices(y: np.ndarray) -> np.ndarray:
    """Sorted row indices of DeepDPM's imbalanced MNIST over all 70,000 images: of each digit in
    :data:`DEEPDPM_KEPT` the first ``floor(n (1 - share))`` of its n images are dropped (47,298 remain)."""
    rows = []
    for digit in np.unique(y):
        index = np.flatnonzero(y == digit)
        share = DEEPDPM_KEPT.get(int(digit))
        rows.append(index if share is None else index[int(len(index) * (1 - share)):])
    return np.sort(np.concatenate(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="folder holding MNIST's IDX files (else the cache)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    parser.add_argument("--ratio", type=float, default=20.0, help="largest / smallest class size (default 20)")
    parser.add_argument("--largest", type=int, default=6000, help="images of digit 0 (default 6,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deepdpm", action="store_true",
                        help="write DeepDPM's imbalanced MNIST instead (10%% of the 8s, 5%% of the 2s, 20%% of the "
                             "5s, 30%% of the 9s, the first indices dropped; --ratio, --largest, --seed unused)")
    args = parser.parse_args()
    X, y = load_dataset("mnist", data_dir=args.data_dir)
    sizes = geometric_sizes(args.largest, args.ratio, 10)
    rows = deepdpm_indices(y) if args.deepdpm else imbalanced_indices(y, sizes, args.seed)
    sizes = np.bincount(y[rows], minlength=10)
    pixels = np.round(X[rows] / MNIST_SCALE).astype(np.uint8)  # the loader scales the pixels; undo it
    np.savez_compressed(args.out, X=pixels, y=y[rows])
    print(f"wrote {args.out}: {len(rows)} images, class sizes {sizes.tolist()}")


if __name__ == "__main__":
    main()
