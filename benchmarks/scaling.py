"""Cost of DEC's clustering phase alone as the number of points n and of clusters k grow.

A fixed, untrained encoder (20 -> 64 -> 10) embeds synthetic Gaussian blobs. Timed: one update
of the target P over all n points (median of 3, after a warm-up), and one SGD step of the
clustering phase (mean over ``--iterations``). A P update should grow linearly in n * k, an SGD
step at most linearly in k and not at all in n. Usage, from the repository root::

    python benchmarks/scaling.py                # n = 1e4, 1e5, 1e6 at k = 10; k = 10, 100, 1000 at n = 1e5
    python benchmarks/scaling.py --iterations 1000

The record (command, commit, machine, date, torch threads, and the times of each n and k) goes to
``benchmarks/results/scaling-<time>.json``; the script prints its table and writes nothing else
(``python benchmarks/tables.py`` puts the records' tables in the docs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import torch
from sklearn.exceptions import ConvergenceWarning

from decluster.nn.autoencoder import StackedAutoencoder
from decluster.nn.student_t import compute_snapshot
from decluster.training.clustering import refine_clusters
from decluster.training.settings import ClusteringSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import git_commit, machine  # noqa: E402
from tables import Records, scaling_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GRID = [(10_000, 10), (100_000, 10), (1_000_000, 10), (100_000, 100), (100_000, 1000)]


def blobs(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """n points in 20 dimensions around k random centres."""
    centres = 5.0 * torch.randn(k, 20, generator=generator)
    return centres[torch.randint(k, (n,), generator=generator)] + torch.randn(n, 20, generator=generator)


def _time(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(n: int, k: int, iterations: int) -> dict:
    """Median time of a P update over all n points, and mean time of one SGD step."""
    generator = torch.Generator().manual_seed(0)
    data = blobs(n, k, generator)
    encoder = StackedAutoencoder([20, 64, 10], generator=generator).encoder
    with torch.no_grad():
        centres = encoder(data[torch.randperm(n, generator=generator)[:k]])
    update = lambda: compute_snapshot(encoder, centres, data, alpha=1.0)  # noqa: E731
    update()  # warm-up: first allocations
    update_seconds = statistics.median(_time(update) for _ in range(3))
    settings = ClusteringSettings(update_interval=iterations, tol=0.0, max_iter=iterations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        total = _time(lambda: refine_clusters(encoder, centres, data, settings, generator))
    step_ms = 1000 * max(total - 2 * update_seconds, 0.0) / iterations  # the run holds two P updates
    return {"n": n, "k": k, "p_update_s": update_seconds, "step_ms": step_ms,
            "p_update_ns_per_point_cluster": 1e9 * update_seconds / (n * k)}


def record(rows: list[dict], iterations: int) -> dict:
    """The JSON record of one run: what ran, where, and the times of each (n, k)."""
    return {"command": " ".join(["python", "benchmarks/scaling.py", *sys.argv[1:]]), "commit": git_commit(),
            "machine": machine(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "threads": torch.get_num_threads(), "iterations": iterations, "batch_size": ClusteringSettings.batch_size, "p_update_repeats": 3,
            "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500, help="SGD steps timed per (n, k) (default: 500)")
    args = parser.parse_args()
    rows = []
    for n, k in GRID:
        rows.append(measure(n, k, args.iterations))
        print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"scaling-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}.json"
    written = record(rows, args.iterations)
    path.write_text(json.dumps(written, indent=2) + "\n")
    print(scaling_table(Records(scaling=[dict(written, _source=path.name)])))
    print(f"record: {path}")


if __name__ == "__main__":
    main()
