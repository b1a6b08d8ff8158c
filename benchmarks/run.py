"""Run a named benchmark: every seed in its own process, then one JSON record per method.

Usage, from the repository root::

    python benchmarks/run.py mnist --data-dir ../shared/datasets/mnist          # 5 seeds, defaults
    python benchmarks/run.py mnist-quick --data-dir ../shared/datasets/mnist    # 3 seeds, 10,000 images
    python benchmarks/run.py digits                                             # 5 seeds, offline
    python benchmarks/run.py mnist --mode paper --paper-fraction 0.1 --seeds 0  # the paper's recipe
    python benchmarks/run.py mnist --set finetune_epochs=60 --seeds 0 1 2       # one parameter changed
    python benchmarks/run.py digits --method dec idec n2d                       # three methods, one pretraining

``--mode default`` uses DEC's default parameters untouched. ``--mode paper`` uses the DEC paper's
pretraining recipe: greedy layer-wise denoising autoencoders (dropout 0.2), SGD with momentum 0.9
at learning rate 0.1 divided by 10 every 40% of a stage, 50,000 iterations per layer pair and
100,000 of fine-tuning at batch size 256 (``--paper-fraction`` scales those counts down).
``--set NAME=VALUE`` changes one DEC parameter on top of either mode (for trade-off curves).
``--method`` names the estimators to run (default ``dec``); with several, each seed pretrains one
autoencoder (DEC's parameters) and hands it to every method, so they share the pretraining and
its time is reported once, in the ``pretrain`` phase of each row.
Each method's record (command, commit, machine, date, seeds, and per seed its scores, phase times
and peak memory) goes to ``benchmarks/results/``; the script prints its row of the methods table
and writes nothing else. ``python benchmarks/tables.py`` turns the records into the tables of the
docs and the README's headline. The ``scaling`` benchmark lives in ``benchmarks/scaling.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from memory import PhaseMemory
from tables import summary_table

from decluster import DEC, IDEC, N2D, evaluate
from decluster.data.datasets import load_dataset
from decluster.training.device import resolve_precision

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# name -> (data set, number of leading samples used or None for all, default seeds)
BENCHMARKS = {
    "mnist": ("mnist", None, (0, 1, 2, 3, 4)),
    "mnist-quick": ("mnist", 10_000, (0, 1, 2)),
    "digits": ("digits", None, (0, 1, 2, 3, 4)),
}
PAPER_LAYER_ITERATIONS, PAPER_FINETUNE_ITERATIONS, PAPER_BATCH = 50_000, 100_000, 256
METHODS = {"dec": DEC, "idec": IDEC, "n2d": N2D}


def paper_parameters(n_samples: int, fraction: float) -> dict:
    """The DEC paper's pretraining recipe, its iteration counts turned into epochs for n_samples."""
    epochs = lambda iterations: max(1, math.ceil(fraction * iterations * PAPER_BATCH / n_samples))  # noqa: E731
    return dict(pretrain="layerwise", pretrain_optimizer="sgd", pretrain_lr=0.1, pretrain_lr_schedule="step",
                pretrain_batch_size=PAPER_BATCH, dropout=0.2, layer_epochs=epochs(PAPER_LAYER_ITERATIONS),
                finetune_epochs=epochs(PAPER_FINETUNE_ITERATIONS))


def overrides(assignments: list[str]) -> dict:
    """DEC parameters from NAME=VALUE strings, VALUE read as JSON (or taken as a string)."""
    parameters = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        try:
            parameters[name] = json.loads(value)
        except json.JSONDecodeError:
            parameters[name] = value
    return parameters


def load(name: str, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    dataset, n_samples, _ = BENCHMARKS[name]
    X, y = load_dataset(dataset, data_dir=data_dir if dataset != "digits" else None)
    return (X, y) if n_samples is None else (X[:n_samples], y[:n_samples])


def _estimator(method: str, parameters: dict, autoencoder=None):
    """The method's estimator with those of ``parameters`` it accepts (and a shared autoencoder)."""
    cls = METHODS[method]
    accepted = set(cls().get_params())
    kept = {name: value for name, value in parameters.items() if name in accepted}
    return cls(**kept, **({} if autoencoder is None else {"autoencoder": autoencoder}))


def _method_record(method: str, model, y: np.ndarray, pretrain_seconds: float, memory: dict) -> dict:
    scores = evaluate(y, model.labels_)
    seconds = dict(model.phase_times_, pretrain=pretrain_seconds)
    return {
        "method": method, "accuracy": scores.accuracy, "nmi": scores.nmi, "ari": scores.ari,
        "n_iter": getattr(model, "n_iter_", None), "converged": getattr(model, "converged_", None),
        "seconds": {**seconds, "total": sum(seconds.values())}, "peak_rss_mb": memory,
        "device": str(model.device_), "precision": resolve_precision(model.precision, model.device_),
        "parameters": {k: v for k, v in model.get_params().items() if k != "autoencoder"},
    }


def run_seed(args: argparse.Namespace) -> dict:
    """One seed in this process: every method on one pretrained autoencoder; times, memory, scores."""
    memory = PhaseMemory().start()
    X, y = load(args.benchmark, args.data_dir)
    parameters = paper_parameters(len(X), args.paper_fraction) if args.mode == "paper" else {}
    parameters |= overrides(args.set) | {"n_clusters": int(np.unique(y).size), "random_state": args.seed,
                                         "device": args.device}
    records, autoencoder, pretrain_seconds = {}, None, 0.0
    for method in args.method:
        memory.enter(method)
        model = _estimator(method, parameters, autoencoder).fit(X)
        if autoencoder is None:
            autoencoder, pretrain_seconds = model.autoencoder_, model.phase_times_["pretrain"]
        records[method] = _method_record(method, model, y, pretrain_seconds, {})
    memory.stop()
    for record in records.values():
        record["peak_rss_mb"] = memory.peaks_mb()
    return {"seed": args.seed, "methods": records, "machine": machine(), "commit": git_commit(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "gpu": gpu, "python": platform.python_version()}


def git_commit() -> str:
    """The commit checked out, marked "+dirty" if the library's source differs from it."""
    result = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True).stdout.strip()
    return result.stdout.strip() + ("+dirty" if dirty else "") if result.returncode == 0 else "unknown"


def _seed_command(args: argparse.Namespace, seed: int, json_path: str) -> list[str]:
    command = [sys.executable, __file__, args.benchmark, "--mode", args.mode, "--seed-only", str(seed),
               "--device", args.device, "--paper-fraction", str(args.paper_fraction), "--json", json_path,
               "--method", *args.method]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    for assignment in args.set:
        command += ["--set", assignment]
    return command


def run_all(args: argparse.Namespace) -> dict:
    """Each seed in a fresh process (so peak memory is per run), ``args.parallel`` at a time (each
    then with its share of the CPU threads), then the summary record."""
    runs = []
    env = dict(os.environ)
    if args.parallel > 1:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.parallel))
    with tempfile.TemporaryDirectory() as folder:
        for start in range(0, len(args.seeds), args.parallel):
            group = args.seeds[start:start + args.parallel]
            children = [subprocess.Popen(_seed_command(args, seed, f"{folder}/{seed}.json"), env=env)
                        for seed in group]
            if any(child.wait() != 0 for child in children):
                raise SystemExit("a seed's run failed")
            for seed in group:
                runs.append(json.loads(Path(f"{folder}/{seed}.json").read_text()))
                for method, run in runs[-1]["methods"].items():
                    print(f"seed {seed} {method}: ACC {run['accuracy']:.4f}  {run['seconds']['total']:.0f} s",
                          flush=True)
    return summarise_seeds(args, runs)


def summarise_seeds(args: argparse.Namespace, runs: list[dict]) -> dict:
    """One summary record per method from the per-seed records of :func:`run_seed`."""
    return {method: summarise(args, [dict(run["methods"][method], seed=run["seed"]) for run in runs], method,
                              runs[0].get("machine") or machine())
            for method in args.method}


def summarise(args: argparse.Namespace, runs: list[dict], method: str, where: dict) -> dict:
    def stats(key: str) -> dict:
        values = [run[key] for run in runs]
        return {"mean": statistics.fmean(values), "std": statistics.pstdev(values),
                "min": min(values), "max": max(values)}

    return {
        "benchmark": args.benchmark, "method": method, "mode": args.mode, "paper_fraction": args.paper_fraction,
        "overrides": overrides(args.set), "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(),
        "machine": where, "seeds": [run["seed"] for run in runs],
        "accuracy": stats("accuracy"), "nmi": stats("nmi"), "ari": stats("ari"),
        "median_seconds": statistics.median(run["seconds"]["total"] for run in runs),
        "peak_rss_mb": max(max(run["peak_rss_mb"].values()) for run in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    parser.add_argument("--mode", choices=("default", "paper"), default="default")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the benchmark's own seeds")
    parser.add_argument("--data-dir", type=Path, help="folder holding the data set's files (else the cache)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--paper-fraction", type=float, default=1.0, help="with --mode paper: scale the iterations")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one DEC parameter (a JSON value), e.g. --set finetune_epochs=60")
    parser.add_argument("--method", nargs="+", choices=sorted(METHODS), default=["dec"],
                        help="methods to run on one pretrained autoencoder per seed (default: dec)")
    parser.add_argument("--parallel", type=int, default=1, metavar="N",
                        help="seeds run at once, sharing the CPU threads (for machines with many cores; times "
                             "then include the sharing)")
    parser.add_argument("--from-seed-records", type=Path, nargs="+", metavar="JSON",
                        help="summarise per-seed records written by --seed-only --json (e.g. on another machine) "
                             "instead of running")
    parser.add_argument("--seed-only", type=int, metavar="SEED",
                        help="run this one seed in this process and write its record to --json (no summary)")
    parser.add_argument("--json", type=Path, help="with --seed-only: where to write the seed's record")
    args = parser.parse_args()
    if args.seed_only is not None:
        args.seed = args.seed_only
        args.json.write_text(json.dumps(run_seed(args), indent=2))
        return
    args.seeds = args.seeds or BENCHMARKS[args.benchmark][2]
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    if args.from_seed_records:
        runs = [json.loads(path.read_text()) for path in args.from_seed_records]
        args.seeds = [run["seed"] for run in runs]
        records = summarise_seeds(args, runs)
    else:
        records = run_all(args)
    written = []
    for method, record in records.items():
        suffix = "" if method == "dec" else f"-{method}"
        path = RESULTS / f"{args.benchmark}-{args.mode}{suffix}-{stamp}.json"
        path.write_text(json.dumps(record, indent=2) + "\n")
        written.append(dict(record, _source=path.name))
        print(f"record: {path}")
    print(summary_table(written))


if __name__ == "__main__":
    main()
