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
(scores, seconds and peak resident memory per phase, commit, machine) goes to
``benchmarks/results/images-<benchmark>/<autoencoder>-<aug|clean>[-manifold]-seed<S>.json`` (``-manifold``
with ``--init manifold``, DEC's and IDEC's centroids started from N2D's clusters; each ``--set NAME=VALUE``
adds ``-NAMEVALUE`` before ``-seed``). A method that the seed's record already holds is not run again;
the others run into a record named after them (``mlp-aug-idec-seed0.json``). The script then
prints the table of its records, as ``benchmarks/tables.py`` writes it for the docs (one row per
recipe and machine: ACC, NMI and ARI over the seeds, the median seconds of pretraining and of the
method's own phases, and the largest peak resident memory of any phase, of the process, which also
holds the data). ``--table`` prints that table of the records named, which may also be summary
records of ``run.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from decluster.data.datasets import IMAGE_SHAPES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables import read_image_records, recipe_rows, recipe_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATASETS = {"mnist": "mnist", "mnist-quick": "mnist", "digits": "digits"}  # benchmark -> data set


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
    print(recipe_table(recipe_rows(read_image_records(paths))))


if __name__ == "__main__":
    main()
