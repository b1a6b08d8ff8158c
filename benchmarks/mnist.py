"""DEC on the full MNIST (70,000 images): prints ACC, NMI, ARI and the wall time of each phase.

Pixels are scaled by 0.02 (values in [0, 5.1]) by ``decluster.datasets.load_dataset("mnist")``,
as in the DEC authors' code. Usage, from the repository root:

    python benchmarks/mnist.py --data-dir ../shared/datasets/mnist --seed 0

Any DEC parameter can be overridden, e.g. ``--param finetune_epochs=50 --param pretrain=end-to-end``.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from decluster import DEC, evaluate
from decluster.datasets import load_dataset

def describe_machine() -> str:
    """CPU model, core count and torch threads, e.g. for the README's results table."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            overrides[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[name] = value
    return overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="a folder holding the four MNIST IDX files (default: download into the cache)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a DEC parameter (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")

    start = time.perf_counter()
    X, y = load_dataset("mnist", data_dir=args.data_dir)
    load_time = time.perf_counter() - start
    model = DEC(n_clusters=10, random_state=args.seed, device=args.device, verbose=args.verbose,
                **parse_overrides(args.param))
    model.fit(X)
    scores = evaluate(y, model.labels_)
    record = {
        "machine": describe_machine(),
        "torch": torch.__version__,
        "device": str(model.device_),
        "params": {k: v for k, v in model.get_params().items() if k != "autoencoder"},
        "seconds": {"load": load_time, **model.phase_times_, "total": time.perf_counter() - start},
        "n_iter": model.n_iter_,
        "converged": model.converged_,
        "accuracy": scores.accuracy,
        "nmi": scores.nmi,
        "ari": scores.ari,
    }
    for phase, seconds in record["seconds"].items():
        print(f"{phase:>10}: {seconds:8.1f} s")
    print(f"iterations: {model.n_iter_} (converged: {model.converged_})")
    print(f"ACC {scores.accuracy:.4f}  NMI {scores.nmi:.4f}  ARI {scores.ari:.4f}")
    if args.json:
        args.json.write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
