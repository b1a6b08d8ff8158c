"""``method="auto"`` measured: its time in reference epochs beside its ACC, and its ACC beside each method's.

Usage, from the repository root::

    python benchmarks/auto_recipe.py speed --data mnist --data-dir ../shared/datasets/mnist --seeds 0 1 2
    python benchmarks/auto_recipe.py compare --data digits wine --methods auto dec idec n2d kmeans --seeds 0 1 2
    python benchmarks/auto_recipe.py table

``speed`` times reference epochs (``reference_epoch.py``: the paper's autoencoder, one epoch over
70,000 rows, plain PyTorch, float32) before and after the fits, in the same process, then runs
:class:`~decluster.AutoCluster` once per seed, counting everything from loading the data to the
labels, and prints each run's seconds as reference epochs beside its ACC. ``compare`` runs each
method with its defaults (``kmeans``: scikit-learn's k-means with 10 restarts; ``auto-refine``:
``AutoCluster(refine=True)``, whose record also holds N2D's and IDEC's ACC and the refinement check) on the same data:
tables are standardized first, as ``decluster fit`` does for columns in mixed units. Data sets:
``digits``, ``mnist``, ``mnist-10k`` (10,000 MNIST images drawn at random with seed 0) and
``wine``. Each run's record (scores, seconds, the recipe and its refinement check, command,
commit, machine, date) goes to ``benchmarks/results/auto/``. ``table`` prints the tables of those
records as ``benchmarks/tables.py`` writes them for the docs: for a method that a data set's
records lack, the newest ``run.py`` record of that method's defaults on it (or, with
``--baselines``, one of the records named).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from reference_epoch import reference_epoch_seconds
from run import git_commit, machine
from tables import compare_table, load_records, refinement_table, speed_table
from sklearn.cluster import KMeans
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from decluster import DEC, IDEC, N2D, AutoCluster, evaluate
from decluster.data.datasets import IMAGE_SHAPES, load_dataset

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "auto"
SUBSET_ROWS = 10_000


def load(name: str, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, tuple[int, ...] | None]:
    """Rows, labels and image shape (None for a table) of a data set of this benchmark."""
    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return StandardScaler().fit_transform(X).astype(np.float32), y, None
    source = "mnist" if name.startswith("mnist") else name
    X, y = load_dataset(source, data_dir=data_dir if source != "digits" else None)
    if name == "mnist-10k":
        rows = np.sort(np.random.default_rng(0).choice(len(X), SUBSET_ROWS, replace=False))
        X, y = X[rows], y[rows]
    return X, y, IMAGE_SHAPES[source]


def fit_method(method: str, X: np.ndarray, n_clusters: int, image_shape, seed: int):
    """Labels of one method with its defaults (``auto`` told the image shape) and the fitted model."""
    if method == "kmeans":
        model = KMeans(n_clusters, n_init=10, random_state=seed).fit(X)
        return model.labels_, model
    if method.startswith("auto"):
        model = AutoCluster(n_clusters, image_shape=image_shape, refine=method == "auto-refine", device="cpu",
                            random_state=seed).fit(X)
        return model.labels_, model
    model = {"dec": DEC, "idec": IDEC, "n2d": N2D}[method](n_clusters, device="cpu", random_state=seed).fit(X)
    return model.labels_, model


def run_one(data: str, method: str, seed: int, data_dir: Path | None) -> dict:
    """One fit, timed from loading to labels, as a record."""
    started = time.perf_counter()
    X, y, image_shape = load(data, data_dir)
    labels, model = fit_method(method, X, int(np.unique(y).size), image_shape, seed)
    seconds = time.perf_counter() - started
    scores = evaluate(y, labels)
    record = {"data": data, "method": method, "seed": seed, "accuracy": scores.accuracy, "nmi": scores.nmi,
              "ari": scores.ari, "seconds": seconds, "phase_seconds": getattr(model, "phase_times_", None)}
    if method.startswith("auto"):
        record["recipe"] = model.recipe_.as_dict()
        if model.start_ is not None:  # N2D's ACC and IDEC's, whichever was kept
            record["refinement"] = dataclasses.asdict(model.refinement_)
            record["start_accuracy"] = evaluate(y, model.start_.labels_).accuracy
            record["refined_accuracy"] = evaluate(y, model.refined_.labels_).accuracy
    return record


def save(record: dict, command: str) -> Path:
    record.update(command=command, commit=git_commit(), machine=machine(),
                  date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"{record['kind']}-{record['data']}-{stamp}.json"
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return path


def command_speed(args: argparse.Namespace, command: str) -> None:
    before = reference_epoch_seconds(epochs=2)
    runs = []
    for seed in args.seeds:
        runs.append(run_one(args.data[0], "auto", seed, args.data_dir))
        print(f"seed {seed}: ACC {runs[-1]['accuracy']:.4f} in {runs[-1]['seconds']:.0f} s", flush=True)
    after = reference_epoch_seconds(epochs=2)
    reference = statistics.median(before + after)
    for run in runs:
        run["reference_epochs"] = run["seconds"] / reference
        print(f"seed {run['seed']}: ACC {run['accuracy']:.4f}, {run['seconds']:.0f} s = "
              f"{run['reference_epochs']:.1f} reference epochs")
    accuracy = statistics.mean(run["accuracy"] for run in runs)
    most = max(run["reference_epochs"] for run in runs)
    print(f"mean ACC {accuracy:.4f}; at most {most:.1f} reference epochs per run "
          f"(reference epoch {reference:.2f} s: {', '.join(f'{s:.2f}' for s in before + after)})")
    path = save({"kind": "speed", "data": args.data[0], "reference_epoch_seconds": before + after,
                 "reference_epoch_median": reference, "runs": runs}, command)
    print(f"wrote {path}")


def command_compare(args: argparse.Namespace, command: str) -> None:
    for data in args.data:
        runs = []
        for method in args.methods:
            for seed in args.seeds:
                runs.append(run_one(data, method, seed, args.data_dir))
                print(f"{data} {method} seed {seed}: ACC {runs[-1]['accuracy']:.4f} ({runs[-1]['seconds']:.0f} s)",
                      flush=True)
        print(f"wrote {save({'kind': 'compare', 'data': data, 'runs': runs}, command)}")


def command_table(args: argparse.Namespace) -> None:
    """Print the tables of ``benchmarks/results/auto/`` as ``benchmarks/tables.py`` writes them for the docs."""
    records = load_records()
    summaries = [dict(json.loads(path.read_text()), _source=path.name) for path in args.baselines] \
        if args.baselines else records.summaries
    print(compare_table(records.auto, summaries) + "\n\n" + refinement_table(records.auto) + "\n\n"
          + speed_table(records.auto))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("speed", "compare", "table"))
    parser.add_argument("--data", nargs="+", default=["mnist"], choices=("digits", "mnist", "mnist-10k", "wine"))
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--methods", nargs="+", default=["auto", "dec", "idec", "n2d"],
                        choices=("auto", "auto-refine", "dec", "idec", "n2d", "kmeans"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--baselines", nargs="*", type=Path, default=[], metavar="RECORD",
                        help="table: the summary records of benchmarks/run.py to take the methods a data set's "
                             "records lack from (default: every one in benchmarks/results/)")
    args = parser.parse_args()
    command = "python benchmarks/auto_recipe.py " + " ".join(__import__("sys").argv[1:])
    {"speed": command_speed, "compare": command_compare}.get(args.command, lambda a, c: command_table(a))(
        args, command)


if __name__ == "__main__":
    main()
