"""Cost of DEC's clustering phase alone as the number of points n and of clusters k grow.

A fixed, untrained encoder (20 -> 64 -> 10) embeds synthetic Gaussian blobs; the clustering
phase then runs a fixed schedule (``--iterations`` SGD steps, P recomputed over all n points every
``--update-interval`` steps, no early stop). Both parts should grow linearly: an SGD step in k,
a P update in n * k. Usage, from the repository root::

    python benchmarks/scaling.py                # n = 1e4, 1e5, 1e6 at k = 10; k = 10, 100, 1000 at n = 1e5
    python benchmarks/scaling.py --readme       # also replace the scaling table in the README
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import torch
from sklearn.exceptions import ConvergenceWarning

from decluster.autoencoder import StackedAutoencoder
from decluster.clustering import compute_snapshot, refine_clusters
from decluster.config import ClusteringSettings

ROOT = Path(__file__).resolve().parents[1]
GRID = [(10_000, 10), (100_000, 10), (1_000_000, 10), (100_000, 100), (100_000, 1000)]
START, END = "<!-- scaling:start -->", "<!-- scaling:end -->"


def blobs(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """n points in 20 dimensions around k random centres."""
    centres = 5.0 * torch.randn(k, 20, generator=generator)
    return centres[torch.randint(k, (n,), generator=generator)] + torch.randn(n, 20, generator=generator)


def measure(n: int, k: int, iterations: int, update_interval: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    data = blobs(n, k, generator)
    encoder = StackedAutoencoder([20, 64, 10], generator=generator).encoder
    with torch.no_grad():
        centres = encoder(data[torch.randperm(n, generator=generator)[:k]])
    start = time.perf_counter()
    compute_snapshot(encoder, centres, data, alpha=1.0)
    update_seconds = time.perf_counter() - start
    settings = ClusteringSettings(update_interval=update_interval, tol=0.0, max_iter=iterations)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        refine_clusters(encoder, centres, data, settings, generator)
    total = time.perf_counter() - start
    n_updates = 1 + iterations // update_interval
    step_ms = 1000 * (total - n_updates * update_seconds) / iterations
    return {"n": n, "k": k, "p_update_s": update_seconds, "step_ms": step_ms, "total_s": total,
            "p_update_ns_per_point_cluster": 1e9 * update_seconds / (n * k)}


def table(rows: list[dict], iterations: int, update_interval: int) -> str:
    lines = [f"Clustering phase alone, {iterations} SGD steps (batch 256), P recomputed every "
             f"{update_interval} steps (`python benchmarks/scaling.py`, {torch.get_num_threads()} threads):",
             "",
             "| n | k | one P update | per n·k | one SGD step | whole schedule |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['n']:,} | {r['k']:,} | {r['p_update_s']:.3f} s | {r['p_update_ns_per_point_cluster']:.1f} ns "
              f"| {r['step_ms']:.2f} ms | {r['total_s']:.1f} s |" for r in rows]
    return "\n".join(lines)


def replace_in_readme(text: str) -> None:
    readme = ROOT / "README.md"
    content = readme.read_text()
    if START not in content or END not in content:
        raise SystemExit(f"{readme}: no {START} ... {END} block")
    before, rest = content.split(START, 1)
    readme.write_text(before + START + "\n" + text + "\n" + END + rest.split(END, 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--update-interval", type=int, default=100)
    parser.add_argument("--readme", action="store_true", help="replace the scaling table in the README")
    args = parser.parse_args()
    rows = []
    for n, k in GRID:
        rows.append(measure(n, k, args.iterations, args.update_interval))
        print(json.dumps(rows[-1]), flush=True)
    text = table(rows, args.iterations, args.update_interval)
    print(text)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    (results / f"scaling-{stamp}.json").write_text(json.dumps(rows, indent=2) + "\n")
    if args.readme:
        replace_in_readme(text)


if __name__ == "__main__":
    main()
