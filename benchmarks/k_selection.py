"""Unknown k: each method with ``n_clusters="auto"`` beside the same method given the true k.

Usage, from the repository root::

    python benchmarks/k_selection.py digits wine --seeds 0 1 2
    python benchmarks/k_selection.py mnist imbalanced-mnist --data-dir ../shared/datasets/mnist \\
        --imbalanced imbalanced-mnist.npz      # made by benchmarks/imbalanced_mnist.py

Per data set and seed, one DEC with the true k pretrains the autoencoder that every other fit
reuses; then DEC, IDEC and N2D run with the true k and with ``"auto"`` (default range 2-30), and
k-means (20 restarts) runs on the features with the true k and with k chosen by the same
silhouette criterion on the features. Each row gives the chosen k, ACC / NMI / ARI with the
chosen and with the true k, and the smallest cluster against the smallest class. A second
table compares, on the pretrained embedding, the silhouette of the true classes with the best
silhouette of k-means over the range (the criterion, run again on this sample of at most 10,000
points; its k may differ from the fit's on a near tie): a criterion of this kind can find the
classes only where they score at least as well. With
``--augment`` every fit of the image sets pretrains (and trains) on augmented images. The record
goes to ``benchmarks/results/k-selection-<time>.json``; its tables are printed as Markdown, as
``benchmarks/tables.py`` writes them for the docs (imbalanced MNIST in a table of its own).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_wine
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from decluster import DEC, IDEC, N2D, evaluate
from decluster.data.batching import map_in_batches
from decluster.data.datasets import IMAGE_SHAPES, load_dataset
from decluster.k_selection import SAMPLE_SIZE, select_n_clusters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables import Records, imbalanced_table, k_selection_table, silhouette_table  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
SHAPES = {**IMAGE_SHAPES, "imbalanced-mnist": IMAGE_SHAPES["mnist"]}
METHODS = {"dec": DEC, "idec": IDEC, "n2d": N2D}


def load(name: str, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Features (scaled as the command line's ``--scale auto`` would) and labels of a data set."""
    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return StandardScaler().fit_transform(X).astype(np.float32), y
    if name == "imbalanced-mnist":
        if args.imbalanced is None:
            raise SystemExit("imbalanced-mnist needs --imbalanced FILE (benchmarks/imbalanced_mnist.py makes it)")
        with np.load(args.imbalanced) as archive:
            return (archive["X"] / np.float32(255)).astype(np.float32), archive["y"]
    return load_dataset(name, data_dir=args.data_dir if name != "digits" else None)


def outcome(y: np.ndarray, labels: np.ndarray, k: int) -> dict:
    scores = evaluate(y, labels)
    return {"n_clusters": int(k), "accuracy": scores.accuracy, "nmi": scores.nmi, "ari": scores.ari,
            "smallest_cluster": int(np.bincount(labels, minlength=k).min())}


def fit_pair(method: str, X: np.ndarray, y: np.ndarray, common: dict, autoencoder) -> dict:
    """The method with the true k and with ``"auto"`` on one shared autoencoder."""
    cls, true_k = METHODS[method], int(np.unique(y).size)
    accepted = set(cls().get_params())
    params = {name: value for name, value in common.items() if name in accepted}
    runs = {}
    for key, k in (("true_k", true_k), ("auto", "auto")):
        model = cls(n_clusters=k, autoencoder=autoencoder, **params).fit(X)
        runs[key] = outcome(y, model.labels_, model.n_clusters_)
        if model.k_selection_ is not None:
            runs[key]["scores"] = dict(zip(model.k_selection_.candidates, model.k_selection_.scores))
    return runs


def kmeans_pair(X: np.ndarray, y: np.ndarray, seed: int, k_range: tuple[int, int]) -> dict:
    """k-means on the features with the true k and with the silhouette's k."""
    true_k = int(np.unique(y).size)
    chosen = select_n_clusters(X, *k_range, random_state=seed).n_clusters
    return {key: outcome(y, KMeans(k, n_init=20, random_state=seed).fit_predict(X), k)
            for key, k in (("true_k", true_k), ("auto", chosen))}


def embedding_silhouettes(embedding: np.ndarray, y: np.ndarray, seed: int, k_range: tuple[int, int]) -> dict:
    """The silhouette of the true classes and the criterion's best, on one sample of the embedding."""
    sample = np.random.RandomState(seed).permutation(len(y))[:SAMPLE_SIZE]
    points = embedding[sample].astype(np.float64)
    selection = select_n_clusters(points, *k_range, random_state=seed)
    return {"true_classes": float(silhouette_score(points, y[sample])),
            "chosen_k": selection.n_clusters, "best": max(selection.scores)}


def run(name: str, seed: int, args: argparse.Namespace) -> dict:
    X, y = load(name, args)
    common = {"random_state": seed, "device": args.device, "n_clusters_range": tuple(args.range)}
    if args.augment and name in SHAPES:
        common.update(augment=True, image_shape=SHAPES[name])
    pretrained = DEC(n_clusters=int(np.unique(y).size), max_iter=1, **common).fit(X).autoencoder_
    embedding = map_in_batches(copy.deepcopy(pretrained).cpu().eval().encode, torch.from_numpy(X)).numpy()
    silhouettes = embedding_silhouettes(embedding, y, seed, tuple(args.range))
    runs = {method: fit_pair(method, X, y, common, pretrained) for method in args.method if method in METHODS}
    if "kmeans" in args.method:
        runs["kmeans"] = kmeans_pair(X, y, seed, tuple(args.range))
    print(f"{name} seed {seed}: " + ", ".join(f"{m} k={r['auto']['n_clusters']}" for m, r in runs.items()), flush=True)
    return {"data": name, "seed": seed, "true_k": int(np.unique(y).size), "augment": bool(common.get("augment")),
            "smallest_class": int(np.bincount(y).min()), "embedding_silhouette": silhouettes, "methods": runs}


def print_tables(records: list[dict], path: Path) -> None:
    """The tables of this run's records, as ``benchmarks/tables.py`` writes them for the docs."""
    chosen = Records(k_selection=[dict(record, _source=path.name) for record in records])
    imbalanced = [record["data"] == "imbalanced-mnist" for record in records]
    tables = [(not all(imbalanced), k_selection_table), (any(imbalanced), imbalanced_table),
              (any("embedding_silhouette" in record for record in records), silhouette_table)]
    print("\n\n".join(table(chosen) for wanted, table in tables if wanted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", choices=("digits", "wine", "mnist", "imbalanced-mnist"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--method", nargs="+", choices=("dec", "idec", "n2d", "kmeans"),
                        default=["dec", "idec", "n2d", "kmeans"])
    parser.add_argument("--range", type=int, nargs=2, default=[2, 30], metavar=("LOW", "HIGH"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", type=Path, help="folder holding MNIST's files (else the cache)")
    parser.add_argument("--imbalanced", type=Path, help="the .npz of benchmarks/imbalanced_mnist.py")
    parser.add_argument("--augment", action="store_true", help="train on augmented images (image sets only)")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"k-selection-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json"
    records = []
    for name in args.datasets:
        for seed in args.seeds:
            records.append(run(name, seed, args))
            path.write_text(json.dumps(records, indent=2) + "\n")  # each finished run kept, should a later one fail
    print_tables(records, path)
    print(f"record: {path}")


if __name__ == "__main__":
    main()
