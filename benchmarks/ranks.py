"""Throughput of DEC on one process and on several ranks under ``torchrun`` (gloo on CPUs, nccl on GPUs).

Each run fits DEC on the first ``--rows`` MNIST images with a fixed amount of work: end-to-end
pretraining for ``--epochs`` epochs and ``--iterations`` clustering steps (``tol=0``, so no early
stop; P is recomputed every 140 steps as usual). Throughput is rows per second of each phase:
``rows x epochs / pretraining seconds`` and ``iterations x batch_size / clustering seconds``. With R
ranks on C cores each rank gets C / R torch threads. Usage, from the repository root::

    python benchmarks/ranks.py --data-dir ../shared/datasets/mnist --ranks 1 2
    python benchmarks/ranks.py --data-dir ../shared/datasets/mnist --ranks 1 2 4 --device cuda   # one GPU per rank

A record goes to ``benchmarks/results/ranks-<time>.json``; its table is printed as Markdown, as
``benchmarks/tables.py`` writes it for the docs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables import Records, ranks_table  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def worker(args: argparse.Namespace) -> None:
    """One rank's fit (every rank runs this); rank 0 writes the phase times to ``args.out``."""
    import torch
    from sklearn.exceptions import ConvergenceWarning

    from decluster import DEC
    from decluster.data.datasets import load_dataset

    torch.set_num_threads(args.threads)
    X, _ = load_dataset("mnist", data_dir=args.data_dir)
    model = DEC(n_clusters=10, pretrain="end-to-end", finetune_epochs=args.epochs, max_iter=args.iterations, tol=0.0,
                device=args.device, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[: args.rows])
    if int(os.environ.get("RANK", "0")) == 0:
        Path(args.out).write_text(json.dumps(model.phase_times_))


def measure(args: argparse.Namespace, ranks: int) -> dict:
    """Launch the worker on ``ranks`` ranks (a plain process for 1) and return its throughput."""
    out = RESULTS / f".ranks-{ranks}.json"
    threads = max(1, (os.cpu_count() or 1) // ranks) if args.device == "cpu" else 1
    launcher = [sys.executable] if ranks == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                    "--nproc_per_node", str(ranks)]
    command = [*launcher, __file__, "--worker", "--out", str(out), "--threads", str(threads), "--rows", str(args.rows),
               "--epochs", str(args.epochs), "--iterations", str(args.iterations), "--device", args.device,
               *(["--data-dir", str(args.data_dir)] if args.data_dir else [])]
    subprocess.run(command, check=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    times = json.loads(out.read_text())
    out.unlink()
    return {"ranks": ranks, "threads_per_rank": threads, "seconds": times,
            "pretrain_rows_per_s": args.rows * args.epochs / times["pretrain"],
            "clustering_rows_per_s": args.iterations * 256 / times["clustering"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=700)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    RESULTS.mkdir(exist_ok=True)
    rows = [measure(args, ranks) for ranks in args.ranks]
    record = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(), "rows": args.rows,
              "epochs": args.epochs, "iterations": args.iterations, "device": args.device, "runs": rows}
    path = RESULTS / f"ranks-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(ranks_table(Records(ranks=[dict(record, _source=path.name)])))
    print(f"record: {path}")


if __name__ == "__main__":
    main()
