"""How accuracy and label changes evolve during the refinement, at every target update.

Usage, from the repository root::

    python benchmarks/refinement_trace.py mnist --data-dir ../shared/datasets/mnist --seed 0 \\
        --set layer_epochs=2 --set finetune_epochs=20 --set max_iter=8000

Fits IDEC with augmentation from N2D's clusters (``init="manifold"``) on images and, after each
update of the target P (every ``update_interval`` iterations), records the iteration, the seconds
since loading began, the fraction of labels that changed and the accuracy of the current labels
against the true ones. It answers where a refinement can stop: when the accuracy stops rising and
whether the label changes say so without the labels. The record goes to
``benchmarks/results/refinement-trace/<data>-seed<S>-<settings>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import torch

from decluster import IDEC, cluster_accuracy
from decluster.data.datasets import IMAGE_SHAPES, load_dataset
from decluster.training import clustering

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "refinement-trace"


def traced_updates(truth, started: float, trace: list[dict]):
    """Wrap ``ClusteringObjective._update_target`` so that each update appends a point to ``trace``."""
    original = clustering.ClusteringObjective._update_target

    def update_and_record(objective) -> None:
        if not trace:  # the start: labels of the initial centroids
            labels = objective.labels.cpu().numpy()
            trace.append({"iteration": 0, "seconds": time.perf_counter() - started,
                          "accuracy": cluster_accuracy(truth, labels), "label_change": None})
        original(objective)
        trace.append({"iteration": objective.n_iter, "seconds": time.perf_counter() - started,
                      "accuracy": cluster_accuracy(truth, objective.labels.cpu().numpy()),
                      "label_change": objective.history.label_changes[-1]})
    clustering.ClusteringObjective._update_target = update_and_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=sorted(IMAGE_SHAPES))
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an IDEC parameter (JSON value), e.g. max_iter=8000")
    args = parser.parse_args()
    started = time.perf_counter()
    X, y = load_dataset(args.data, data_dir=args.data_dir)
    overrides = {name: json.loads(value) for name, _, value in (s.partition("=") for s in args.set)}
    params = {"n_clusters": len(set(y.tolist())), "augment": True, "image_shape": IMAGE_SHAPES[args.data],
              "init": "manifold", "tol": 0.0, "device": "cpu", "random_state": args.seed, **overrides}
    trace: list[dict] = []
    traced_updates(y, started, trace)
    model = IDEC(**params).fit(X)
    record = {"data": args.data, "seed": args.seed, "parameters": {k: v for k, v in params.items()},
              "phase_seconds": model.phase_times_, "final_accuracy": cluster_accuracy(y, model.labels_),
              "trace": trace,
              "commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                       text=True).stdout.strip(),
              "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "torch": torch.__version__},
              "command": "python benchmarks/refinement_trace.py " + " ".join(
                  [args.data, "--seed", str(args.seed)] + [f"--set {s}" for s in args.set])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "-".join([args.data, f"seed{args.seed}", *(s.replace("=", "") for s in args.set)])
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    for point in trace:
        print(f"{point['iteration']:6d} {point['seconds']:8.1f}s ACC {point['accuracy']:.4f} "
              f"changed {point['label_change'] if point['label_change'] is None else round(point['label_change'], 5)}")


if __name__ == "__main__":
    main()
