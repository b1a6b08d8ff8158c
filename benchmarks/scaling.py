"""Cost of DEC's clustering phase alone as the number of points n and of clusters k grow.

A fixed, untrained encoder (20 -> 64 -> 10) embeds synthetic Gaussian blobs. Timed: one update
of the target P over all n points (median of 3, after a warm-up), and one SGD step of the
clustering phase (mean over ``--iterations``). A P update should grow linearly in n * k, an SGD
step at most linearly in k and not at all in n. Usage, from the repository root::

    python benchmarks/scaling.py                # n = 1e4, 1e5, 1e6 at k = 10; k = 10, 100, 1000 at n = 1e5
    python benchmarks/scaling.py --readme       # also replace the scaling table in the README
"""

from __future__ import annotations

import argparse
import json
import statistics
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

ROOT = Path(__file__).resolve().parents[1]
GRID = [(10_000, 10), (100_000, 10), (1_000_000, 10), (100_000, 100), (100_000, 1000)]
START, END = "<!-- scaling:start -->", "<!-- scaling:end -->"


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


def table(rows: list[dict], iterations: int) -> str:
    lines = [f"Clustering phase alone (`python benchmarks/scaling.py`, {torch.get_num_threads()} threads): median "
             f"of 3 P updates over all n points, and the mean SGD step (batch 256) over {iterations} steps.",
             "",
             "| n | k | one P update | P update per n·k | one SGD step |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['n']:,} | {r['k']:,} | {r['p_update_s']:.3f} s | {r['p_update_ns_per_point_cluster']:.1f} ns "
              f"| {r['step_ms']:.2f} ms |" for r in rows]
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
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--readme", action="store_true", help="replace the scaling table in the README")
    args = parser.parse_args()
    rows = []
    for n, k in GRID:
        rows.append(measure(n, k, args.iterations))
        print(json.dumps(rows[-1]), flush=True)
    text = table(rows, args.iterations)
    print(text)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    (results / f"scaling-{stamp}.json").write_text(json.dumps(rows, indent=2) + "\n")
    if args.readme:
        replace_in_readme(text)


if __name__ == "__main__":
    main()
