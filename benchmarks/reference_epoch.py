"""The reference epoch: the unit in which a recipe's time is counted, on the machine that runs it.

One reference epoch is one epoch of the DEC paper's autoencoder (784-500-500-2000-10 and back,
ReLU, no activation on the embedding or the output, MSE, Adam at 1e-3, batch 256, float32) over
70,000 rows, written in plain PyTorch (none of decluster's code). A recipe's time divided by it
compares across machines: a 2-core AMD EPYC needs about 9.6 s, an Intel Xeon with AMX about 6.3 s.

Usage, from the repository root::

    python benchmarks/reference_epoch.py             # time 3 epochs (after a warm-up one), print the median
    python benchmarks/reference_epoch.py --epochs 5  # more epochs

The data are random uniform values (the cost of an epoch does not depend on them). The record
(``benchmarks/results/reference-epoch/<date>.json``) holds every epoch's seconds, the median,
the command, the commit and the machine. Other benchmarks call :func:`reference_epoch_seconds`
in their own run, so that a ratio never mixes two machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import git_commit, machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "reference-epoch"
DIMS = (784, 500, 500, 2000, 10)
N_ROWS, BATCH_SIZE, LR = 70_000, 256, 1e-3


def paper_autoencoder(generator: torch.Generator) -> nn.Sequential:
    """784-500-500-2000-10-2000-500-500-784, ReLU between layers (none after the embedding or the output)."""
    widths = [*DIMS, *reversed(DIMS[:-1])]
    layers: list[nn.Module] = []
    for index, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        layer = nn.Linear(n_in, n_out)
        with torch.no_grad():
            layer.weight.normal_(0.0, (2.0 / n_in) ** 0.5, generator=generator)
            layer.bias.zero_()
        layers.append(layer)
        if index not in (len(DIMS) - 2, len(widths) - 2):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _one_epoch(network: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor,
               generator: torch.Generator) -> float:
    """Seconds of one shuffled pass of mini-batches over ``X``."""
    start = time.perf_counter()
    for batch in torch.randperm(len(X), generator=generator).split(BATCH_SIZE):
        rows = X[batch]
        loss = nn.functional.mse_loss(network(rows), rows)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def reference_epoch_seconds(epochs: int = 3, seed: int = 0) -> list[float]:
    """Seconds of each of ``epochs`` reference epochs, after one warm-up epoch (not returned)."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(N_ROWS, DIMS[0], generator=generator)
    network = paper_autoencoder(generator)
    optimizer = torch.optim.Adam(network.parameters(), lr=LR)
    _one_epoch(network, optimizer, X, generator)
    return [_one_epoch(network, optimizer, X, generator) for _ in range(epochs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed after the warm-up (default: 3)")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    seconds = reference_epoch_seconds(args.epochs)
    record = {"command": " ".join(["python", "benchmarks/reference_epoch.py", *sys.argv[1:]]),
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(),
              "machine": machine(), "epoch_seconds": seconds, "median_seconds": statistics.median(seconds)}
    print(f"reference epoch: {record['median_seconds']:.2f} s (median of {len(seconds)}: "
          f"{', '.join(f'{s:.2f}' for s in seconds)}) on {record['machine']['cpu']}")
    if not args.no_record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
