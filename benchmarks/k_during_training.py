"""Does MergeIDEC find k while it trains, and what does finding it cost against knowing it?

Usage, from the repository root::

    python benchmarks/imbalanced_mnist.py --data-dir ../shared/datasets/mnist --out .bench-data/imbalanced-mnist.npz
    python benchmarks/imbalanced_mnist.py --data-dir ../shared/datasets/mnist --deepdpm \\
        --out .bench-data/deepdpm-mnist.npz
    python benchmarks/k_during_training.py run digits wine --seeds 0 1 2
    python benchmarks/k_during_training.py run imbalanced-mnist --seeds 0 --data .bench-data/imbalanced-mnist.npz
    python benchmarks/k_during_training.py run deepdpm-mnist --seeds 0 --data .bench-data/deepdpm-mnist.npz
    python benchmarks/k_during_training.py run mnist --seeds 0 --data-dir ../shared/datasets/mnist

With ``--autoencoder-from FOLDER`` both fits start from the pretrained autoencoder of a model folder
written by ``decluster fit`` (no pretraining), e.g. the image recipe's augmented one::

    decluster fit --dataset mnist --data-dir ../shared/datasets/mnist --method n2d --augment \
        --random-state 0 --out runs/n2d-augmented
    python benchmarks/k_during_training.py run mnist --seeds 0 --data-dir ../shared/datasets/mnist \
        --autoencoder-from runs/n2d-augmented/model

With ``--save-models FOLDER`` each MergeIDEC model is saved to ``FOLDER/DATA-seedN``: a later run can
start from its pretrained autoencoder (``--autoencoder-from FOLDER/DATA-seedN``, one seed at a time).

For each data set and seed: :class:`~decluster.MergeIDEC` with ``n_clusters="auto"`` (its defaults
otherwise), then IDEC with the true k on MergeIDEC's pretrained autoencoder (same seed, same
``--max-iter``): the found k, and ACC/NMI/ARI at the found k and at the true k. One record per data
set and seed (command, commit, machine, date, the k after each update of P) goes to
``benchmarks/results/k-during-training/``; ``python benchmarks/tables.py`` makes the docs' table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from decluster import IDEC, MergeIDEC, evaluate
from decluster.cli.commands import load_model
from decluster.data.datasets import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import git_commit, machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "k-during-training"
FILES = ("imbalanced-mnist", "deepdpm-mnist")
"""Data sets read from a ``.npz`` of ``benchmarks/imbalanced_mnist.py`` (``--data``)."""


def load(name: str, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Features, scaled as the command line's ``--scale auto`` would, and labels."""
    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return StandardScaler().fit_transform(X).astype(np.float32), y
    if name in FILES:
        if args.data is None:
            raise SystemExit(f"{name} needs --data FILE (benchmarks/imbalanced_mnist.py writes it)")
        with np.load(args.data) as archive:
            return (archive["X"] / np.float32(255)).astype(np.float32), archive["y"]
    return load_dataset(name, data_dir=args.data_dir if name != "digits" else None)


def scores(y: np.ndarray, labels: np.ndarray, k: int, seconds: float) -> dict:
    values = evaluate(y, labels)
    return {"n_clusters": int(k), "accuracy": values.accuracy, "nmi": values.nmi, "ari": values.ari,
            "seconds": round(seconds, 1)}


def pretraining_of(model) -> str:
    """How a reused autoencoder was pretrained, for the table: its method, augmentation and seed."""
    augmented = "augmented" if getattr(model, "augment", False) else "plain"
    return f"{augmented}, reused from {type(model).__name__} (seed {model.random_state})"


def run(name: str, seed: int, args: argparse.Namespace) -> dict:
    """MergeIDEC, then IDEC with the true k on its autoencoder."""
    X, y = load(name, args)
    true_k = int(np.unique(y).size)
    common = {"random_state": seed, "device": args.device, "max_iter": args.max_iter}
    reused = None if args.autoencoder_from is None else load_model(args.autoencoder_from, device=args.device)
    started = time.perf_counter()
    found = MergeIDEC(autoencoder=None if reused is None else reused.autoencoder_, **common).fit(X)
    found_seconds = time.perf_counter() - started
    if args.save_models is not None:
        found.save(args.save_models / f"{name}-seed{seed}")
    started = time.perf_counter()
    known = IDEC(n_clusters=true_k, autoencoder=found.autoencoder_, **common).fit(X)
    record = {"data": name, "seed": seed, "n_samples": len(y), "true_k": true_k,
              "pretraining": "plain" if reused is None else pretraining_of(reused),
              "class_sizes": np.bincount(y).tolist(), "max_iter": args.max_iter,
              "found": {**scores(y, found.labels_, found.n_clusters_, found_seconds),
                        "n_iter": found.n_iter_, "converged": found.converged_,
                        "k_after_updates": found.history_.n_clusters, "phase_seconds": found.phase_times_},
              "true": {**scores(y, known.labels_, true_k, time.perf_counter() - started),
                       "n_iter": known.n_iter_, "converged": known.converged_}}
    print(f"{name} seed {seed}: found k={found.n_clusters_} ACC {record['found']['accuracy']:.3f}; "
          f"true k={true_k} ACC {record['true']['accuracy']:.3f}", flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="fit and write one record per data set and seed")
    runner.add_argument("datasets", nargs="+", choices=("digits", "wine", "mnist", *FILES))
    runner.add_argument("--seeds", type=int, nargs="+", default=[0])
    runner.add_argument("--max-iter", type=int, default=20_000, help="clustering iterations of both fits")
    runner.add_argument("--device", default="auto")
    runner.add_argument("--data-dir", type=Path, help="folder holding MNIST's files (else the cache)")
    runner.add_argument("--data", type=Path, help="the .npz of benchmarks/imbalanced_mnist.py")
    runner.add_argument("--autoencoder-from", type=Path, help="a model folder whose pretrained autoencoder both fits use")
    runner.add_argument("--save-models", type=Path, help="save each MergeIDEC model to FOLDER/DATA-seedN")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        for seed in args.seeds:
            record = run(name, seed, args)
            record.update(command="python benchmarks/k_during_training.py " + " ".join(sys.argv[1:]),
                          commit=git_commit(), machine=machine(),
                          date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
            path = RESULTS / f"{name}-seed{seed}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json"
            path.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
