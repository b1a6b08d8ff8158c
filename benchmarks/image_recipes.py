"""The image recipes side by side: autoencoder (MLP or conv) × augmentation × method.

Usage, from the repository root::

    python benchmarks/image_recipes.py digits --seeds 0 1 2                          # all 12 recipes
    python benchmarks/image_recipes.py mnist --data-dir ../shared/datasets/mnist \\
        --architecture mlp --augment on --method n2d                                 # one recipe, 5 seeds
    python benchmarks/image_recipes.py mnist --data-dir ../shared/datasets/mnist \\
        --architecture mlp --augment on --method dec --init manifold                 # DEC-DA from N2D's clusters
    python benchmarks/image_recipes.py mnist --data-dir ../shared/datasets/mnist \\
        --architecture mlp --augment on --method dec --init manifold --set max_iter=30000  # longer
    python benchmarks/image_recipes.py --table benchmarks/results/images-digits/*.json  # table only

Each (autoencoder, augmentation, seed) runs in its own process through ``benchmarks/run.py
--seed-only``, which pretrains one autoencoder and hands it to every ``--method``; its record
(scores, seconds and peak resident memory per phase) goes to
``benchmarks/results/images-<benchmark>/<autoencoder>-<aug|clean>[-manifold]-seed<S>.json`` (``-manifold``
with ``--init manifold``, DEC's and IDEC's centroids started from N2D's clusters; each ``--set NAME=VALUE``
adds ``-NAMEVALUE`` before ``-seed``). A method that the seed's record already holds is not run again;
the others run into a record named after them (``mlp-aug-idec-seed0.json``). The table
(Markdown) has one row per recipe and machine: ACC, NMI and ARI over the seeds, the median seconds of
pretraining and of the method's own phases, and the largest peak resident memory of any phase (of the
process, which also holds the data). ``--table`` also reads the summary records of ``run.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from decluster.data.datasets import IMAGE_SHAPES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATASETS = {"mnist": "mnist", "mnist-quick": "mnist", "digits": "digits"}  # benchmark -> data set
DEFAULT_MAX_ITER = 20_000  # DEC's and IDEC's; a record with another names it in its row


def record_path(benchmark: str, architecture: str, augment: bool, seed: int, init: str = "kmeans",
                settings: tuple[str, ...] = ()) -> Path:
    """Where one seed's record goes; each extra ``--set NAME=VALUE`` adds ``-NAMEVALUE`` to the name."""
    recipe = f"{architecture}-{'aug' if augment else 'clean'}{'' if init == 'kmeans' else '-' + init}"
    for setting in settings:
        name, _, value = setting.partition("=")
        recipe += "-" + name.strip() + "".join(c for c in value if c.isalnum() or c in "._")
    return RESULTS / f"images-{benchmark}" / f"{recipe}-seed{seed}.json"


def run_recipe(args: argparse.Namespace, architecture: str, augment: bool, seed: int) -> list[Path]:
    """Run one seed of one recipe and return its records' paths.

    Methods that the seed's record already holds are not run again; the others (all, if there is
    no record) run together, into a record of their own named after them when the seed's record
    exists (``mlp-aug-idec-seed0.json`` beside ``mlp-aug-seed0.json``).
    """
    path = record_path(args.benchmark, architecture, augment, seed, args.init, tuple(args.set))
    held = set(json.loads(path.read_text())["methods"]) if path.exists() else set()
    missing = [method for method in args.method if method not in held]
    if not missing:
        return [path]
    records = [path] if path.exists() else []
    if held:
        path = path.with_name(path.name.replace(f"-seed{seed}.json", f"-{'-'.join(missing)}-seed{seed}.json"))
        if path.exists():
            return [*records, path]
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = list(IMAGE_SHAPES[DATASETS[args.benchmark]])
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), args.benchmark, "--seed-only", str(seed),
               "--json", str(path), "--device", args.device, "--method", *missing,
               "--set", f'architecture="{architecture}"', "--set", f"augment={json.dumps(augment)}",
               "--set", f"image_shape={json.dumps(shape)}", "--set", f'init="{args.init}"',
               *[item for a in args.set for item in ("--set", a)]]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    subprocess.run(command, check=True)
    return [*records, path]


def method_runs(record: dict) -> list[dict]:
    """The method runs of a record, each with its ``seed``, ``method`` and ``machine``: a per-seed
    record of ``run.py --seed-only`` or a summary record of ``run.py`` (made before these options
    existed, so an MLP without augmentation unless its parameters say otherwise)."""
    if "methods" in record:
        return [dict(run, seed=record["seed"], method=method, machine=record["machine"])
                for method, run in record["methods"].items()]
    return [dict(run, method=record["method"], machine=record["machine"]) for run in record["runs"]]


def recipe_rows(records: list[dict]) -> list[dict]:
    """One row per (autoencoder, augmentation, method, machine) over the seeds of ``records``."""
    groups: dict[tuple, list[dict]] = {}
    for run in (run for record in records for run in method_runs(record)):
        parameters, machine = run["parameters"], run["machine"]
        hardware = machine["gpu"] or f"{machine['cores']}-core CPU ({machine['cpu']})"
        init = parameters.get("init", "kmeans")
        method = run["method"] if init == "kmeans" or run["method"] == "n2d" else f"{run['method']} + {init} init"
        if run["method"] != "n2d" and parameters.get("max_iter", DEFAULT_MAX_ITER) != DEFAULT_MAX_ITER:
            method += f", {parameters['max_iter']} iterations"
        key = (parameters.get("architecture", "mlp"), parameters.get("augment", False), method, hardware)
        groups.setdefault(key, []).append(run)
    return [_row(key, runs) for key, runs in sorted(groups.items())]


def _row(key: tuple, runs: list[dict]) -> dict:
    architecture, augment, method, hardware = key
    accuracy = [run["accuracy"] for run in runs]
    median = lambda values: statistics.median(values)  # noqa: E731
    return {
        "autoencoder": architecture, "augment": augment, "method": method, "machine": hardware,
        "seeds": sorted(run["seed"] for run in runs),
        "acc_mean": statistics.fmean(accuracy), "acc_std": statistics.pstdev(accuracy),
        "acc_min": min(accuracy), "acc_max": max(accuracy),
        "nmi": statistics.fmean(run["nmi"] for run in runs), "ari": statistics.fmean(run["ari"] for run in runs),
        "pretrain_s": median([run["seconds"]["pretrain"] for run in runs]),
        "method_s": median([run["seconds"]["total"] - run["seconds"]["pretrain"] for run in runs]),
        "phases": [phase for phase in runs[0]["seconds"] if phase not in ("pretrain", "total")],
        "peak_mb": max(max(run["peak_rss_mb"].values()) for run in runs),
    }


def method_name(method: str) -> str:
    """``"dec + manifold init"`` as ``"DEC + manifold init"``."""
    name, plus, rest = method.partition(" + ")
    return name.upper() + plus + rest


def markdown(rows: list[dict]) -> str:
    lines = ["| autoencoder | augment | method | seeds | ACC mean ± std | min – max | NMI | ARI "
             "| pretraining | method's phases | peak RSS | machine |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        lines.append(
            f"| {row['autoencoder']} | {'yes' if row['augment'] else 'no'} | {method_name(row['method'])} "
            f"| {len(row['seeds'])} ({', '.join(map(str, row['seeds']))}) "
            f"| {row['acc_mean']:.3f} ± {row['acc_std']:.3f} | {row['acc_min']:.3f} – {row['acc_max']:.3f} "
            f"| {row['nmi']:.3f} | {row['ari']:.3f} | {row['pretrain_s']:.0f} s "
            f"| {row['method_s']:.0f} s ({', '.join(row['phases'])}) | {row['peak_mb']:.0f} MB | {row['machine']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", nargs="?", choices=sorted(DATASETS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--architecture", nargs="+", choices=("mlp", "conv"), default=["mlp", "conv"])
    parser.add_argument("--augment", nargs="+", choices=("off", "on"), default=["off", "on"])
    parser.add_argument("--method", nargs="+", choices=("dec", "idec", "n2d"), default=["dec", "idec", "n2d"])
    parser.add_argument("--init", choices=("kmeans", "manifold"), default="kmeans",
                        help="how DEC and IDEC start their centroids (N2D ignores it)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="one more estimator parameter for every recipe (a JSON value)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", type=Path, help="folder holding the data set's files (else the cache)")
    parser.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                        help="print the table of these per-seed records instead of running")
    args = parser.parse_args()
    if args.table:
        paths = args.table
    elif args.benchmark is None:
        parser.error("name a benchmark, or give --table")
    else:
        paths = [path for architecture in args.architecture for augment in args.augment for seed in args.seeds
                 for path in run_recipe(args, architecture, augment == "on", seed)]
    print(markdown(recipe_rows([json.loads(path.read_text()) for path in paths])))


if __name__ == "__main__":
    main()
