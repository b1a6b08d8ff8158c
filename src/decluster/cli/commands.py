"""The ``decluster`` command: fit, predict, evaluate, plot and list data sets from the shell."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import logging
import os
import shlex
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from decluster import __version__
from decluster.cli.runconfig import (
    SCALE_CHOICES,
    add_parameter_flags,
    autoencoder_source,
    config_text,
    estimator_defaults,
    explicit_parameters,
    method_help,
    run_options,
)
from decluster.data.disk_rows import DiskRows
from decluster.data.inputs import InputData, fit_input_spec, read_input, transform_like
from decluster.data.preprocessing import InputSpec
from decluster.distributed import launched_rank, leave_launched_world
from decluster.estimators.auto import AutoCluster, check_stage_folders
from decluster.estimators.dec import DEC
from decluster.estimators.methods import METHODS, method_of_kind, model_kinds, model_methods
from decluster.estimators.persistence import k_selection_section, save_model
from decluster.exceptions import FitInterrupted
from decluster.io.files import STDOUT, atomic_write_bytes, same_file, signal_handlers, write_output
from decluster.io.folders import (
    MANIFEST_FILE,
    check_output_file,
    check_output_folder,
    check_writable,
    claimed_output_folder,
    folder_lock,
    record_files,
    record_output_file,
)
from decluster.io.model_folder import check_model_folder, folder_kind
from decluster.metrics import evaluate
from decluster.report.assignments import ASSIGNMENT_BLOCK_ROWS, Assignments, assign
from decluster.report.outputs import CLUSTERS_CSV, GALLERY_FILES, PROFILES_FILE, REPORT_FILE
from decluster.training.checkpoint import check_checkpoint_folder

if TYPE_CHECKING:
    from decluster.report.build import Report

logger = logging.getLogger("decluster")

MODEL_FOLDER = "model"
CHECKPOINT_FOLDER = "checkpoint"
PICTURES = ("embedding.png", "training.png", "confusion.png", "k-selection.png", *GALLERY_FILES, PROFILES_FILE)
FIT_FILES = ("labels.csv", "metrics.json", "config.toml", CLUSTERS_CSV, REPORT_FILE, *PICTURES)


class UsageError(ValueError):
    """A command-line mistake reported as one line."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit status 2), pointing to --help."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


# ------------------------------------------------------------------ data
def _add_data_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_argument_group("data")
    source = group.add_mutually_exclusive_group(required=required)
    source.add_argument("--dataset", metavar="NAME",
                        help="a named data set: digits, mnist, fashion-mnist, usps, reuters10k")
    source.add_argument("--data", type=Path, metavar="FILE",
                        help="your own data: a .npy, .npz, .csv or .tsv (also .csv.gz, .csv.bz2, .csv.zst), .parquet "
                             "or .feather/.arrow file, or a folder of .npy shards or of .parquet files")
    group.add_argument("--label-column", metavar="COLUMN",
                       help="with --data: the column holding labels (a header name or a 0-based index); "
                            "predict and plot use the model's own when the file has it")
    _add_table_arguments(group, "with a .csv/.tsv --data file (compressed too)")
    group.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="with --dataset: a folder that already holds the data set's files")
    group.add_argument("--no-download", action="store_true", help="with --dataset: never download")


def _label_column(value: str | None) -> str | int | None:
    if value is None:
        return None
    return int(value) if value.lstrip("-").isdigit() else value


_HEADER_CHOICES = {"auto": "auto", "yes": True, "no": False}
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}


def _delimiter(value: str) -> str:
    """The ``--delimiter`` value as one character (``tab``, ``\\t``, ``comma``... name one)."""
    character = _DELIMITER_NAMES.get(value.lower(), value)
    if len(character) != 1 or character in '"\r\n':
        raise argparse.ArgumentTypeError(f"give one character, or tab, comma, semicolon, pipe or space; "
                                         f"got {value!r}")
    return character


def _add_table_arguments(group, scope: str) -> None:
    """``--header`` and ``--delimiter``, for reading .csv/.tsv files."""
    group.add_argument("--header", choices=tuple(_HEADER_CHOICES), default=None,
                       help=f"{scope}: whether the first line is a header (default: auto, which takes a "
                            "line of names, or 0,1,...,n-1 as pandas writes, for a header; predict and plot "
                            "default to the choice the model was fitted with)")
    group.add_argument("--delimiter", type=_delimiter, metavar="CHAR",
                       help=f"{scope}: the column separator, e.g. ';' or tab (default: detected among "
                            "comma, semicolon, tab and pipe)")


def _table_options(args: argparse.Namespace) -> dict:
    """The ``header`` and ``delimiter`` keywords of the readers, from ``--header``/``--delimiter``."""
    return {"header": _HEADER_CHOICES[getattr(args, "header", None) or "auto"],
            "delimiter": getattr(args, "delimiter", None)}


def _header(args: argparse.Namespace) -> str | bool | None:
    """``--header`` as the readers take it, or None when it was not given."""
    return None if args.header is None else _HEADER_CHOICES[args.header]


def load_input(args: argparse.Namespace, default_dataset: str | None = None) -> InputData:
    """The data named by ``--dataset``/``--data`` (with ``--label-column``, ``--header``, ``--delimiter``)."""
    from decluster.data.datasets import IMAGE_SHAPES, load_dataset

    if args.data is not None:
        return read_input(args.data, label_column=_label_column(args.label_column), header=_header(args),
                          delimiter=args.delimiter)
    name = args.dataset or default_dataset
    if name is None:
        raise UsageError("give --dataset NAME or --data FILE")
    X, y = load_dataset(name, data_dir=args.data_dir, download=not args.no_download)
    return InputData(X, y, None, IMAGE_SHAPES.get(name), name)


def load_fit_input(args: argparse.Namespace, scale: str) -> tuple[InputData, InputSpec]:
    """The data to fit on, scaled, and what the model records of them.

    Parameters
    ----------
    args : argparse.Namespace
        The ``fit`` arguments (``--dataset``/``--data`` and the table options).
    scale : {"auto", "standard", "minmax", "global", "none"}
        ``"auto"`` is ``"none"`` for a named data set, which comes scaled as in the DEC paper.

    Returns
    -------
    data : InputData
        Its features scaled.
    spec : InputSpec
        The fitted scaling, the label column and the header choice, to store with the model.
    """
    data = load_input(args, default_dataset="digits")
    spec = fit_input_spec(data, "none" if scale == "auto" and args.data is None else scale)
    return dataclasses.replace(data, X=spec.scaling.apply(data.X)), spec


def load_model_input(args: argparse.Namespace, model) -> InputData:
    """The data of ``--dataset``/``--data`` read and scaled as for the model's fit
    (:func:`~decluster.data.inputs.read_input` with ``like=model``)."""
    if args.data is not None:
        return read_input(args.data, label_column=_label_column(args.label_column), header=_header(args),
                          delimiter=args.delimiter, like=model)
    data = load_input(args)
    return dataclasses.replace(data, X=transform_like(data.X, model))


# ------------------------------------------------------------------ outputs
def _csv_bytes(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def assignments_csv(model, X: np.ndarray | DiskRows, *, with_proba: bool = False) -> Iterator[bytes]:
    """``index,cluster,confidence`` rows (confidence = max_j q_ij), plus ``q_j`` columns if asked,
    made :data:`ASSIGNMENT_BLOCK_ROWS` rows at a time (so rows on disk are never all in memory)."""
    header = ["index", "cluster", "confidence"] + ([f"q_{j}" for j in range(model.n_clusters_)] if with_proba else [])
    yield _csv_bytes([header])
    for start in range(0, X.shape[0], ASSIGNMENT_BLOCK_ROWS):
        block = slice(start, min(start + ASSIGNMENT_BLOCK_ROWS, X.shape[0]))
        proba = model.predict_proba(X[block])
        yield _assignment_rows(start, proba.argmax(axis=1), proba.max(axis=1), proba if with_proba else None)


def _assignment_rows(start: int, labels: np.ndarray, confidence: np.ndarray,
                     proba: np.ndarray | None = None) -> bytes:
    """The rows of ``labels.csv`` from row ``start`` on, with the ``q_j`` columns when ``proba`` is given."""
    return _csv_bytes([start + i, int(labels[i]), f"{confidence[i]:.6g}"]
                      + ([] if proba is None else [f"{v:.6g}" for v in proba[i]]) for i in range(len(labels)))


def labels_csv(assigned: Assignments) -> Iterator[bytes]:
    """``labels.csv`` (as :func:`assignments_csv` without ``q_j``) of assignments already made."""
    yield _csv_bytes([["index", "cluster", "confidence"]])
    for start in range(0, len(assigned.labels), ASSIGNMENT_BLOCK_ROWS):
        block = slice(start, start + ASSIGNMENT_BLOCK_ROWS)
        yield _assignment_rows(start, assigned.labels[block], assigned.confidence[block])


def _scores(y, labels) -> dict[str, float]:
    if y is None:
        return {}
    scores = evaluate(y, labels)
    return {"accuracy": scores.accuracy, "nmi": scores.nmi, "ari": scores.ari}


def write_plots(model, X, y, labels: np.ndarray, out: Path, max_points: int = 2000) -> list[Path]:
    """The embedding map, the training curves (when recorded), the confusion matrix (with labels) and
    the choice of k (with ``n_clusters="auto"``), as PNGs in ``out``
    (:func:`~decluster.report.model_figures`)."""
    from decluster.plotting import save_figure
    from decluster.report.views import model_figures

    figures = model_figures(model, X, labels, true_labels=y, max_points=max_points)
    out.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        save_figure(figure, out / name)
    return [out / name for name in figures]


# ------------------------------------------------------------------ commands
def command_fit(args: argparse.Namespace) -> int:
    """Train on a data set or file; write the model, labels, metrics, config, pictures and a report page."""
    options = run_options(args)
    estimator = METHODS[options["method"]]
    parameters = _method_parameters(args, options["method"])
    autoencoder, reused = None, autoencoder_source(args)
    if reused is not None:
        if estimator not in model_methods().values():
            *others, last = model_methods()
            raise UsageError(f"--autoencoder-from needs --method {', '.join(others)} or {last} ({options['method']} "
                             "trains its own autoencoder)")
        autoencoder = load_model(reused).autoencoder_
        parameters["autoencoder"] = autoencoder
        parameters.update(_reused_network(args, autoencoder, reused))
        options["autoencoder_from"] = os.path.abspath(reused)
    out = args.out
    checkpoint_dir = args.checkpoint_dir or out / CHECKPOINT_FOLDER
    if launched_rank() == 0:
        _check_fit_outputs(args, checkpoint_dir, estimator)
    data, spec = load_fit_input(args, options["scale"])
    X, source = data.X, data.source
    options["scale"] = spec.scaling.kind
    y = _class_labels(data.y, source)
    if y is not None and "n_clusters" not in explicit_parameters(args) and parameters["n_clusters"] != "auto":
        parameters["n_clusters"] = int(np.unique(y).size)  # a method that finds k by default keeps finding it
    parameters["image_shape"] = _image_shape(args, parameters.get("image_shape"), data.image_shape)
    fit_options = {"checkpoint_dir": checkpoint_dir, "resume": args.resume,
                   "checkpoint_interval": args.checkpoint_interval}
    if launched_rank() != 0:  # under torchrun the other ranks train beside rank 0, which writes everything
        estimator(**parameters).fit(X, **fit_options)
        return 0
    with claimed_output_folder(out):
        fitted = estimator(**parameters, verbose=not args.quiet).fit(X, **fit_options)
        model = getattr(fitted, "estimator_", fitted)  # the method auto kept
        save_model(model, out / MODEL_FOLDER, overwrite=args.overwrite, input_spec=spec)
        parameters.pop("autoencoder", None)
        metrics = _fit_metrics(fitted, model, {"data": source, "n_samples": int(X.shape[0]),
                                               "n_features": int(X.shape[1]), **options}, y)
        assigned = assign(model, X, block_rows=ASSIGNMENT_BLOCK_ROWS)
        files = {"labels.csv": labels_csv(assigned),
                 "metrics.json": (json.dumps(metrics, indent=2) + "\n").encode("utf-8"),
                 "config.toml": config_text(parameters, options, getattr(fitted, "recipe_", None)).encode("utf-8")}
        if not args.no_plots:
            files |= _fit_report(fitted, data, spec, y, assigned, options, args.plot_points).files()
        for name, payload in files.items():
            atomic_write_bytes(out / name, payload)
        record_files(out, list(files))
    _print_fit_summary(metrics, out, [out / name for name in files if name.endswith((".png", ".html"))])
    return 0


def _fit_report(fitted, data: InputData, spec: InputSpec, y: np.ndarray | None, assigned: Assignments,
                options: dict, max_points: int) -> Report:
    """The report of a fit: its pictures, clusters.csv and report.html
    (:func:`~decluster.report.build_report`)."""
    from decluster.report.build import build_report

    return build_report(fitted, data.X, data=data.source, command="decluster fit", true_labels=y, assigned=assigned,
                        feature_names=data.feature_names, scaling=spec.scaling, options=options,
                        seconds=fitted.phase_times_, max_points=max_points)


def _fit_metrics(fitted, model, run: dict, y: np.ndarray | None) -> dict:
    """What metrics.json holds: the run, k, the scores (with labels), the clustering phase's
    iterations, the seconds of each phase and, for ``auto``, the recipe and the refinement check."""
    metrics = {**run, "n_clusters": model.n_clusters_, **k_selection_section(model), **_scores(y, model.labels_),
               "n_iter": getattr(model, "n_iter_", None), "converged": getattr(model, "converged_", None),
               "seconds": fitted.phase_times_}
    if isinstance(fitted, AutoCluster):
        metrics["recipe"] = fitted.recipe_.as_dict()
        metrics["refinement"] = None if fitted.refinement_ is None else dataclasses.asdict(fitted.refinement_)
    return metrics


def _class_labels(y: np.ndarray | None, source: str) -> np.ndarray | None:
    """``y``, or None with a warning when the labels look continuous (nearly one class per row):
    such labels neither choose ``n_clusters`` nor are scored."""
    if y is not None and _warn_if_continuous(y, f"the labels of {source}", "not classes: they neither choose "
                                             "n_clusters nor are scored (give --n-clusters)"):
        return None
    return y


def _image_shape(args: argparse.Namespace, given: Sequence[int] | None,
                 found: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The images' shape: ``given`` (``--image-shape`` or the config), else ``found``, that of the
    images of the ``--data`` file (an array of 3 or 4 dimensions) or of the named data set, else
    None. A given shape must agree with the one found (a trailing channel count of 1 aside)."""
    with_channels = lambda shape: tuple(shape) if len(shape) == 3 else (*shape, 1)  # noqa: E731
    if given is not None and found is not None and with_channels(given) != with_channels(found):
        raise UsageError(f"--image-shape {' '.join(map(str, given))} does not match the images of "
                         f"{args.data or args.dataset}, which are {' x '.join(map(str, found))}")
    return tuple(given) if given is not None else found


def _method_parameters(args: argparse.Namespace, method: str) -> dict:
    """The method's parameters: its defaults, then ``--config``, then flags; a flag of another
    method is a usage error."""
    explicit = explicit_parameters(args)
    defaults = estimator_defaults(METHODS[method])
    foreign = sorted(set(explicit) - set(defaults))
    if foreign:
        flags = ", ".join("--" + name.replace("_", "-") for name in foreign)
        hint = " (auto, the default, chooses them itself; name a --method to set them)" if method == "auto" else ""
        raise UsageError(f"{flags} {'does' if len(foreign) == 1 else 'do'} not apply to --method {method}{hint}")
    return {**defaults, **explicit}


def _reused_network(args: argparse.Namespace, autoencoder, source: Path) -> dict:
    """The parameters that describe the network of a reused autoencoder (recorded in config.toml
    in place of the defaults); a flag or ``--config`` value that describes another is a usage error."""
    config = autoencoder.config()
    if config["kind"] == "mlp":
        network = {"architecture": "mlp", "hidden_dims": tuple(config["dims"][1:-1]),
                   "embedding_dim": config["dims"][-1]}
    else:
        network = {"architecture": "conv", "embedding_dim": config["embedding_dim"],
                   "image_shape": tuple(config["image_shape"])}
    explicit = explicit_parameters(args)
    if "image_shape" in network and len(explicit.get("image_shape") or ()) == 2:
        explicit["image_shape"] = (*explicit["image_shape"], 1)
    conflicts = [name for name, value in network.items() if name in explicit and explicit[name] != value]
    if conflicts:
        given = ", ".join(f"--{name.replace('_', '-')} {_flag_value(explicit[name])}" for name in conflicts)
        used = ", ".join(f"{name} {_flag_value(network[name])}" for name in conflicts)
        raise UsageError(f"{given} conflicts with the autoencoder reused from {source} ({used}); "
                         "drop the flag (or the --config value), or train a new autoencoder")
    return network


def _flag_value(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def load_model(path: Path, device: str = "auto"):
    """A model folder written by fit, as the method's class of the kind named in its ``config.json``
    (a folder of no method's kind is refused by DEC's ``load``, which names what it holds)."""
    return (method_of_kind(folder_kind(path)) or DEC).load(path, device=device)


def _input_files(args: argparse.Namespace) -> list[Path]:
    """The files and folders a command reads (its data and, for fit, its config file and the model
    folder of ``--autoencoder-from``)."""
    paths = (getattr(args, "data", None), getattr(args, "config", None), getattr(args, "autoencoder_from", None))
    return [path for path in paths if path is not None]


def _is_within(path: Path, folder: Path) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, root]) == root


def _refuse_outputs_over_inputs(args: argparse.Namespace, files: list[Path], folders: list[Path]) -> None:
    """A one-line error if an output file or folder would overwrite a file the command reads."""
    for source in _input_files(args):
        if any(same_file(source, target) for target in files) or any(_is_within(source, f) for f in folders):
            raise UsageError(f"{source} is an input and would be overwritten by the output; "
                             "choose another --out")


def _check_output_layout(files: Sequence[Path], folders: dict[str, Path]) -> None:
    """A one-line error if an output folder that one writer owns (``folders``, by flag) is, holds
    or lies inside another such folder or one of the output ``files``."""
    named = list(folders.items())
    for index, (flag, folder) in enumerate(named):
        for other_flag, other in named[index + 1:]:
            if _is_within(folder, other) or _is_within(other, folder):
                raise UsageError(f"{flag} {folder} and {other_flag} {other} overlap; give each a folder of its own")
        for path in files:
            if _is_within(path, folder) or _is_within(folder, path):
                raise UsageError(f"{flag} {folder} would hold or replace the output {path}; give it a folder of "
                                 "its own")


def _check_fit_outputs(args: argparse.Namespace, checkpoint_dir: Path, estimator: type) -> None:
    """Before any training: no output is nested in another, and every output location is writable
    and holds nothing decluster did not write."""
    out = args.out
    _check_output_layout([out / name for name in (*FIT_FILES, MANIFEST_FILE)],
                         {"the model folder": out / MODEL_FOLDER, "--checkpoint-dir": checkpoint_dir})
    _refuse_outputs_over_inputs(args, [out / name for name in FIT_FILES], [out / MODEL_FOLDER, checkpoint_dir])
    check_output_folder(out, FIT_FILES, overwrite=args.overwrite)
    check_model_folder(out / MODEL_FOLDER, estimator.__name__, overwrite=args.overwrite, replaces=model_kinds())
    check_writable(checkpoint_dir)
    if not args.resume:
        (check_stage_folders if estimator is AutoCluster else check_checkpoint_folder)(checkpoint_dir)


def _print_fit_summary(metrics: dict, out: Path, pictures: list[Path]) -> None:
    line = f"{metrics['data']}: {metrics['n_samples']} samples, {metrics['n_clusters']} clusters"
    if metrics["n_iter"] is not None:
        line += f", {metrics['n_iter']} iterations ({'converged' if metrics['converged'] else 'not converged'})"
    print(line)
    if "accuracy" in metrics:
        print(f"ACC {metrics['accuracy']:.4f}  NMI {metrics['nmi']:.4f}  ARI {metrics['ari']:.4f}")
    print(f"time: {sum(metrics['seconds'].values()):.1f} s; wrote {out / MODEL_FOLDER}, {out / 'labels.csv'}, "
          f"{out / 'metrics.json'}, {out / 'config.toml'}" + "".join(f", {p}" for p in pictures))


def command_predict(args: argparse.Namespace) -> int:
    """Assign new data to the clusters of a saved model."""
    out = args.out or Path(STDOUT)
    to_file = str(out) != STDOUT and (not os.path.exists(out) or os.path.isfile(out))
    if str(out) != STDOUT:
        _refuse_output_file(args, out, " (or - for standard output)")
    if to_file:
        check_writable(out.parent)
        check_output_file(out, overwrite=args.overwrite)
    model = load_model(args.model, device=args.device)
    X = load_model_input(args, model).X
    payload = assignments_csv(model, X, with_proba=args.proba)
    if not to_file:
        write_output(out, payload)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(out.parent):
        check_output_file(out, overwrite=args.overwrite)
        write_output(out, payload)
        record_output_file(out)
    return 0


def _warn_if_continuous(labels: np.ndarray, what: str, consequence: str) -> bool:
    """Warn, and return True, when ``labels`` look like a continuous quantity or row ids rather than
    classes (:func:`~decluster.data.files.labels_look_continuous`); ``what`` names them and
    ``consequence`` ends the warning."""
    from decluster.data.files import labels_look_continuous

    if not labels_look_continuous(labels):
        return False
    warnings.warn(f"{what} look continuous ({np.unique(labels).size} distinct values over {labels.size} rows); "
                  f"{consequence}", UserWarning, stacklevel=3)
    return True


def command_evaluate(args: argparse.Namespace) -> int:
    """Score cluster labels against true labels (ACC, NMI, ARI)."""
    from decluster.data.datasets import load_dataset
    from decluster.data.files import load_labels

    options = _table_options(args)
    predicted = load_labels(args.labels, column=_label_column(args.labels_column), preferred=("cluster",),
                            align_by_index=True, **options)
    if args.truth is not None:
        truth = load_labels(args.truth, column=_label_column(args.truth_column), preferred=("label", "y"),
                            align_by_index=True, **options)
        _warn_if_continuous(truth, f"the true labels of {args.truth}", "ACC, NMI and ARI compare classes, so "
                            "these scores mean little (is it the right column?)")
    else:
        _, truth = load_dataset(args.dataset, data_dir=args.data_dir, download=not args.no_download)
        if truth is None:
            raise UsageError(f"data set {args.dataset} has no labels")
    if len(predicted) != len(truth):
        hint = " (is a first line a header, or not? see --header)" if abs(len(predicted) - len(truth)) == 1 else ""
        raise UsageError(f"{len(predicted)} predicted labels but {len(truth)} true labels{hint}")
    scores = _scores(truth, predicted)
    print(json.dumps(scores, indent=2) if args.json else
          f"ACC {scores['accuracy']:.4f}  NMI {scores['nmi']:.4f}  ARI {scores['ari']:.4f}")
    return 0


def command_plot(args: argparse.Namespace) -> int:
    """Draw the embedding, the training curves and (with labels) the confusion matrix of a model."""
    _refuse_outputs_over_inputs(args, [args.out / name for name in PICTURES], [])
    if _is_within(args.out, args.model):
        raise UsageError(f"{args.out} is inside the model folder {args.model}; choose another --out")
    check_output_folder(args.out, PICTURES, overwrite=args.overwrite)
    model = load_model(args.model, device=args.device)
    data = load_model_input(args, model)
    X, y = data.X, data.y
    with claimed_output_folder(args.out):
        pictures = write_plots(model, X, y, model.predict(X), args.out, args.plot_points)
        record_files(args.out, [picture.name for picture in pictures])
    for path in pictures:
        print(f"wrote {path}")
    return 0


def _check_report_out(args: argparse.Namespace) -> None:
    """A one-line error if ``--out`` would overwrite an input, lie in the model folder, name a folder or
    the manifest, or replace a file decluster did not write there."""
    _refuse_output_file(args, args.out)
    check_writable(args.out.parent)
    check_output_file(args.out, overwrite=args.overwrite)


def _refuse_output_file(args: argparse.Namespace, out: Path, folder_hint: str = "") -> None:
    """A one-line error if the single output file ``out`` would overwrite an input, lie in the model
    folder, name a folder (``folder_hint`` ends that message) or name the manifest."""
    _refuse_outputs_over_inputs(args, [out], [args.model])
    if _is_within(out, args.model):
        raise UsageError(f"{out} is inside the model folder {args.model}; choose another --out")
    if out.is_dir():
        raise UsageError(f"{out} is a folder; give --out a file name{folder_hint}")
    if out.name == MANIFEST_FILE:
        raise UsageError(f"{out}: decluster keeps its record of the files it wrote under that name; "
                         "choose another --out")


def command_report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML page of a model on any data: what each cluster holds (its images, or
    what sets it apart in a table), every picture and, with labels, the scores."""
    from decluster.report.build import build_report

    _check_report_out(args)
    model = load_model(args.model, device=args.device)
    data = load_model_input(args, model)
    spec = getattr(model, "input_spec_", None)
    report = build_report(model, data.X, data=data.source, command="decluster report",
                          true_labels=_class_labels(data.y, data.source), feature_names=data.feature_names,
                          scaling=None if spec is None else spec.scaling,
                          options={} if spec is None else {"scale": spec.scaling.kind},
                          notes=(f"The clusters of the model {args.model}, assigned to these data.",),
                          max_points=args.plot_points)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(args.out.parent):
        check_output_file(args.out, overwrite=args.overwrite)
        write_output(args.out, report.html.encode("utf-8"))
        record_output_file(args.out)
    print(f"wrote {args.out}")
    return 0


def command_datasets(args: argparse.Namespace) -> int:
    """List the named data sets and whether they are in the cache."""
    from decluster.data.datasets import available_datasets, data_home

    print(f"{'name':<14}{'samples':>9}{'features':>10}{'classes':>9}  cached  description")
    for info in available_datasets():
        print(f"{info.name:<14}{info.n_samples:>9}{info.n_features:>10}{info.n_classes:>9}  "
              f"{'yes' if info.cached else 'no':<6}  {info.description}")
    print(f"cache: {data_home()} (set DECLUSTER_DATA to change it)")
    return 0


# ------------------------------------------------------------------ parser
def _common_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    common.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    return common


def _add_fit_parser(commands, common) -> None:
    fit = commands.add_parser("fit", parents=[common], help=command_fit.__doc__, description=command_fit.__doc__
                              + " With no data argument it runs on the bundled digits. Without --n-clusters,"
                              " labelled data get one cluster per class, other data 10 (merge-idec finds k itself).")
    _add_data_arguments(fit, required=False)
    fit.add_argument("--out", type=Path, default=Path("decluster-output"), metavar="DIR",
                     help="output folder (default: decluster-output)")
    fit.add_argument("--config", type=Path, metavar="FILE",
                     help="TOML file of method parameters (as fit writes in config.toml); flags given on the "
                          "command line take precedence")
    fit.add_argument("--scale", choices=SCALE_CHOICES, default=None,
                     help="per-feature scaling before DEC, saved with the model and applied by predict and "
                          "plot: standard (zero mean, unit variance), minmax (to [0, 1]), global (all "
                          "features divided by the largest absolute value), none, or auto (the default): none "
                          "for a --dataset, which comes scaled as in the DEC paper; for a --data file standard "
                          "if its columns are in mixed units (widest range over 100 times the median range), "
                          "else global")
    fit.add_argument("--method", choices=tuple(METHODS), default=None, help=method_help())
    fit.add_argument("--autoencoder-from", type=Path, metavar="MODEL",
                     help="reuse the pretrained autoencoder of a model folder written by fit (any method) "
                          "and skip pretraining")
    fit.add_argument("--no-plots", action="store_true",
                     help="do not draw the pictures nor write the report (report.html, clusters.csv); "
                          "decluster report writes the report later from the model")
    _add_overwrite(fit)
    fit.add_argument("--checkpoint-dir", type=Path, metavar="DIR",
                     help=f"folder for checkpoints (default: OUT/{CHECKPOINT_FOLDER})")
    fit.add_argument("--checkpoint-interval", type=float, default=120.0, metavar="SECONDS",
                     help="seconds between checkpoints during training (default: 120)")
    fit.add_argument("--resume", action="store_true",
                     help="continue from the checkpoint (same data and parameters as the interrupted run)")
    _add_plot_points(fit)
    add_parameter_flags(fit)
    fit.set_defaults(handler=command_fit)


def _add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an output folder holding files decluster did not write, replacing "
                             "those of the same names (other files are never deleted)")


def _positive_int(text: str) -> int:
    """An integer of at least 1 (for ``--plot-points``), checked when the command line is read."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_plot_points(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plot-points", type=_positive_int, default=2000, metavar="N",
                        help="points sampled for the embedding map (default: 2000)")


def _add_model_parsers(commands, common) -> None:
    for name, handler, out_help in (
        ("predict", command_predict, "CSV file to write, or - for standard output (the default); "
                                     "a FIFO or device is written into, never replaced; an existing file "
                                     "only if decluster wrote it (see --overwrite)"),
        ("plot", command_plot, "folder for the PNG files (default: decluster-plots)"),
    ):
        sub = commands.add_parser(name, parents=[common], help=handler.__doc__, description=handler.__doc__)
        sub.add_argument("--model", type=Path, required=True, metavar="DIR", help="a model folder written by fit")
        _add_data_arguments(sub, required=True)
        sub.add_argument("--out", type=Path, metavar="PATH", help=out_help,
                         default=None if name == "predict" else Path("decluster-plots"))
        sub.add_argument("--device", default="auto", help="torch device for the model (default: auto)")
        if name == "predict":
            sub.add_argument("--proba", action="store_true", help="add the soft assignments q_j as columns")
            sub.add_argument("--overwrite", action="store_true",
                             help="replace an --out file that decluster did not write (or that changed since)")
        else:
            _add_plot_points(sub)
            _add_overwrite(sub)
        sub.set_defaults(handler=handler)


def _add_report_parser(commands, common) -> None:
    sub = commands.add_parser("report", parents=[common], help=command_report.__doc__,
                              description=command_report.__doc__ + " Of data too large for memory, a bounded "
                              "random sample is drawn and averaged.")
    sub.add_argument("--model", type=Path, required=True, metavar="DIR", help="a model folder written by fit")
    _add_data_arguments(sub, required=True)
    sub.add_argument("--out", type=Path, default=Path(REPORT_FILE), metavar="FILE",
                     help=f"the HTML file to write (default: {REPORT_FILE}); an existing file only if decluster "
                          "wrote it (see --overwrite)")
    sub.add_argument("--device", default="auto", help="torch device for the model (default: auto)")
    _add_plot_points(sub)
    sub.add_argument("--overwrite", action="store_true",
                     help="replace an --out file that decluster did not write (or that changed since)")
    sub.set_defaults(handler=command_report)


def _add_evaluate_parser(commands, common) -> None:
    sub = commands.add_parser("evaluate", parents=[common], help=command_evaluate.__doc__,
                              description=command_evaluate.__doc__)
    sub.add_argument("--labels", type=Path, required=True, metavar="FILE",
                     help="cluster labels: a labels.csv from fit/predict, or a 1-D .npy; the rows of a "
                          ".csv/.tsv with an 'index' column (--truth too) are put in its order, which "
                          "must hold 0..n-1 once each")
    sub.add_argument("--labels-column", metavar="COLUMN",
                     help="column of --labels holding the clusters (default: 'cluster', or the only column)")
    truth = sub.add_mutually_exclusive_group(required=True)
    truth.add_argument("--truth", type=Path, metavar="FILE", help="true labels: a .csv/.tsv column or a 1-D .npy")
    truth.add_argument("--dataset", metavar="NAME", help="take the true labels of this named data set")
    sub.add_argument("--truth-column", metavar="COLUMN",
                     help="column of --truth holding the labels (default: 'label' or 'y', or the only column)")
    sub.add_argument("--data-dir", type=Path, metavar="DIR", help="with --dataset: a folder holding its files")
    sub.add_argument("--no-download", action="store_true", help="with --dataset: never download")
    _add_table_arguments(sub, "for .csv/.tsv --labels and --truth files")
    sub.add_argument("--json", action="store_true", help="print the scores as JSON")
    sub.set_defaults(handler=command_evaluate)


def build_parser() -> argparse.ArgumentParser:
    """The ``decluster`` argument parser with its subcommands."""
    parser = _Parser(prog="decluster", description="Deep Embedded Clustering (DEC).")
    parser.add_argument("--version", action="version", version=f"decluster {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_parser()
    _add_fit_parser(commands, common)
    _add_model_parsers(commands, common)
    _add_report_parser(commands, common)
    _add_evaluate_parser(commands, common)
    datasets = commands.add_parser("datasets", parents=[common], help=command_datasets.__doc__,
                                   description=command_datasets.__doc__)
    datasets.set_defaults(handler=command_datasets)
    return parser


def _configure_logging(debug: bool, quiet: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("decluster: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # other libraries (numba, matplotlib, PIL...) say only warnings
    logger.setLevel(logging.DEBUG if debug else logging.NOTSET)
    logging.getLogger("decluster.progress").setLevel(logging.WARNING if quiet else logging.INFO)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").handlers[:] = []
    warnings.formatwarning = lambda message, category, *rest: f"{category.__name__}: {message}"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    known = (UsageError, ValueError, TypeError, OSError)
    return text if isinstance(error, known) else f"{type(error).__name__}: {text}"


class _Signalled(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived outside a checkpointed training loop."""

    def __init__(self, signal_number: int) -> None:
        self.signal_number = signal_number
        super().__init__(f"interrupted by {signal.Signals(signal_number).name}")


def _raise_signalled(number: int, frame) -> None:
    raise _Signalled(number)


def _resume_command(args: argparse.Namespace, argv: list[str]) -> str:
    return shlex.join(["decluster", *argv, *([] if args.resume else ["--resume"])])


def _interrupted_message(args: argparse.Namespace, argv: list[str], stop: _Signalled) -> str:
    message = f"decluster {args.command}: {stop}"
    if args.command == "fit":
        checkpoint_dir = args.checkpoint_dir or args.out / CHECKPOINT_FOLDER
        if (checkpoint_dir / "config.json").is_file():
            message += f"; checkpoint saved in {checkpoint_dir}; to continue, run: {_resume_command(args, argv)}"
    return message


def _discard_standard_output() -> None:
    """Point standard output at the null device, so that flushing it at exit raises nothing."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 on success, 1 on error, 2 on bad usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    _configure_logging(args.debug, args.quiet)
    try:
        with signal_handlers(_raise_signalled):
            status = args.handler(args)
            leave_launched_world()
            return status
    except FitInterrupted as interrupt:
        print(f"decluster fit: {interrupt}; to continue, run: {_resume_command(args, argv)}", file=sys.stderr)
        return 128 + interrupt.signal_number
    except _Signalled as stop:
        print(_interrupted_message(args, argv, stop), file=sys.stderr)
        return 128 + stop.signal_number
    except KeyboardInterrupt:
        print("decluster: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of standard output left (``decluster predict ... | head``)
        _discard_standard_output()
        return 128 + getattr(signal, "SIGPIPE", 13)
    except Exception as error:  # the command line reports every failure as one line
        if args.debug:
            raise
        print(f"decluster {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
