"""Fit DEC, IDEC and N2D on one pretrained autoencoder and draw their embeddings side by side.

Usage, from the repository root::

    python benchmarks/compare_methods.py digits --out docs/images/methods-digits.png
    python benchmarks/compare_methods.py mnist --data-dir ../shared/datasets/mnist --subset 10000

Each panel is a 2-D map (UMAP, or t-SNE without umap-learn) of the same random 2,000 points:
DEC's and IDEC's refined embeddings and N2D's manifold, coloured by true label, with each
method's ACC/NMI. Prints the scores and the time of each phase.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from decluster import DEC, IDEC, N2D, evaluate
from decluster.data.datasets import load_dataset
from decluster.plotting import plot_embeddings_side_by_side, save_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="a named data set (decluster datasets lists them)")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--subset", type=int, help="a random subset of this many rows (seed 0)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("methods.png"))
    args = parser.parse_args()
    X, y = load_dataset(args.dataset, data_dir=args.data_dir)
    if args.subset:
        rows = np.random.RandomState(0).choice(len(X), args.subset, replace=False)
        X, y = X[rows], y[rows]
    common = dict(n_clusters=int(np.unique(y).size), random_state=args.random_state, device=args.device)
    start = time.perf_counter()
    dec = DEC(**common).fit(X)
    models = {"DEC": dec, "IDEC": IDEC(**common, autoencoder=dec.autoencoder_).fit(X),
              "N2D": N2D(**common, autoencoder=dec.autoencoder_).fit(X)}
    print(f"all fits: {time.perf_counter() - start:.0f} s")
    captions = {}
    for name, model in models.items():
        scores = evaluate(y, model.labels_)
        captions[name] = f"ACC {scores.accuracy:.3f}, NMI {scores.nmi:.3f}"
        print(f"{name}: {captions[name]}, phases {({k: round(v, 1) for k, v in model.phase_times_.items()})}")
    embeddings = {"DEC": models["DEC"].transform(X), "IDEC": models["IDEC"].transform(X),
                  "N2D (manifold)": models["N2D"].manifold_}
    captions["N2D (manifold)"] = captions.pop("N2D")
    save_figure(plot_embeddings_side_by_side(embeddings, y, captions=captions), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
