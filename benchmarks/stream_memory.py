"""Peak memory and speed of DEC on data read from disk (.npy or Parquet) of 1M, 4M and 10M rows.

Two steps:

``generate`` writes files of N rows of 784 uint8 pixels (N, 28, 28) built from MNIST's 70,000
images by random shifts of up to 2 pixels in each direction (seeded; the true digit of each row
goes beside it in ``*-labels.npy``), as ``.npy`` files or, with ``--format parquet``, as Parquet
files of 784 uint8 columns in row groups of 65,536 rows. ``--kind blobs --columns 100`` writes
instead N rows of 100 float32 values drawn around 10 seeded centres (no MNIST needed). Nothing
is kept in memory but one block:

    python benchmarks/stream_memory.py generate --data-dir ../shared/datasets/mnist \\
        --out .bench-data/stream --sizes 1000000 4000000 10000000
    python benchmarks/stream_memory.py generate --data-dir ../shared/datasets/mnist \\
        --out .bench-data/stream --sizes 10000000 --format parquet
    python benchmarks/stream_memory.py generate --kind blobs --columns 100 \\
        --out .bench-data/stream --sizes 10000000 --format parquet

``measure`` runs, for each file, three child processes (one at a time, so each one's peak is
its own):

* ``pretrain``: the default DEC fit, stopped by SIGINT after ``--pretrain-seconds`` of layer-wise
  pretraining; rows/s of its steps (the first layer pair's), from which the time of an epoch
  of that stage is extrapolated;
* ``cluster``: the rest of a fit (k-means on a sample of the embedding, P over all rows, the
  clustering steps up to one target update, the labels) with an autoencoder pretrained (by a
  ``prepare`` child, in memory) on the first 20,000 rows of the first file,
  ``update_interval=max_iter=--iterations``;
* ``predict``: the fitted model's ``predict`` of every row (``--predict-model``: one model for
  every file; a model keeps its training labels, so one fitted on more rows is larger).

Each child reports its peak resident set size (``ru_maxrss``; for ``cluster``, at the end of
the fit, before the model is saved) and the peak of each phase (sampled every 50 ms), and the
times of its phases. A ``.npy`` file is read as ``NpyRows``, a ``.parquet`` file as
``ParquetRows``; uint8 rows are scaled to [0, 1]. The record of every child goes to
``benchmarks/results/stream-memory-<time>.json`` (``--results`` for another folder), and their
table is printed as Markdown (as ``benchmarks/tables.py`` writes it for the docs):

    python benchmarks/stream_memory.py measure .bench-data/stream/mnist-shifted-*.npy
    python benchmarks/stream_memory.py measure .bench-data/stream/mnist-shifted-10000000.parquet \\
        .bench-data/stream/blobs-10000000.parquet
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import PhaseMemory  # noqa: E402
from tables import Records, stream_table  # noqa: E402

SHIFT = 2
BLOCK = 100_000
PARQUET_GROUP = 65_536  # rows per row group (and per block written) of the Parquet files
BLOB_CENTRES = 10


def _mnist_uint8(data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    from decluster.data.datasets import load_dataset

    X, y = load_dataset("mnist", data_dir=data_dir, download=False)
    images = np.rint(X * (255.0 / X.max())).astype(np.uint8).reshape(-1, 28, 28)
    return images, y.astype(np.int8)


def _shifted_block(padded: np.ndarray, labels: np.ndarray, size: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``size`` random images, each moved by its own (dy, dx) in [-SHIFT, SHIFT]^2, and their labels."""
    source = rng.integers(0, len(padded), size)
    dy, dx = rng.integers(-SHIFT, SHIFT + 1, size), rng.integers(-SHIFT, SHIFT + 1, size)
    out = np.empty((size, 28, 28), dtype=np.uint8)
    for shift_y in range(-SHIFT, SHIFT + 1):
        for shift_x in range(-SHIFT, SHIFT + 1):
            rows = np.flatnonzero((dy == shift_y) & (dx == shift_x))
            top, left = SHIFT - shift_y, SHIFT - shift_x
            out[rows] = padded[source[rows], top: top + 28, left: left + 28]
    return out, labels[source]


def _blob_block(size: int, columns: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``size`` float32 rows around :data:`BLOB_CENTRES` centres (the same centres for every block) and their centre."""
    centres = np.random.default_rng(0).normal(scale=3.0, size=(BLOB_CENTRES, columns))
    truth = rng.integers(0, BLOB_CENTRES, size)
    return (centres[truth] + rng.standard_normal((size, columns))).astype(np.float32), truth.astype(np.int8)


def _blocks(kind: str, data_dir: str | None, columns: int, size: int, rows_per_block: int, seed: int):
    """The rows of one file, ``rows_per_block`` at a time, with their true labels."""
    rng = np.random.default_rng([seed, size])
    if kind == "blobs":
        for start in range(0, size, rows_per_block):
            yield _blob_block(min(rows_per_block, size - start), columns, rng)
        return
    images, labels = _mnist_uint8(data_dir)
    padded = np.pad(images, ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)))
    for start in range(0, size, rows_per_block):
        yield _shifted_block(padded, labels, min(rows_per_block, size - start), rng)


def _write_npy(path: Path, blocks, size: int, row_shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Write the blocks as one ``.npy`` array of ``size`` rows; return the true labels."""
    truth, start = np.empty(size, dtype=np.int8), 0
    with open(path, "wb") as stream:
        np.lib.format.write_array_header_1_0(stream, {"descr": dtype, "fortran_order": False,
                                                      "shape": (size, *row_shape)})
        for block, block_truth in blocks:
            stream.write(np.ascontiguousarray(block).tobytes())
            truth[start: start + len(block)] = block_truth
            start += len(block)
    return truth


def _write_parquet(path: Path, blocks, size: int) -> np.ndarray:
    """Write the blocks as a Parquet file, one row group a block, one column a value; return the true labels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    truth, start, writer = np.empty(size, dtype=np.int8), 0, None
    for block, block_truth in blocks:
        rows = block.reshape(len(block), -1)
        table = pa.table({f"p{column}": rows[:, column] for column in range(rows.shape[1])})
        writer = writer or pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table, row_group_size=PARQUET_GROUP)
        truth[start: start + len(block)] = block_truth
        start += len(block)
    writer.close()
    return truth


def generate(options: argparse.Namespace) -> None:
    """Write ``KIND-N.npy`` (or ``.parquet``) and ``KIND-N-labels.npy`` for each N in ``--sizes``."""
    out, kind, parquet = options.out, options.kind, options.format == "parquet"
    if kind == "mnist-shifted" and options.data_dir is None:
        raise SystemExit("--kind mnist-shifted needs --data-dir (a folder of the MNIST files)")
    out.mkdir(parents=True, exist_ok=True)
    for size in options.sizes:
        path = out / f"{kind}-{size}.{options.format}"
        blocks = _blocks(kind, options.data_dir, options.columns, size, PARQUET_GROUP if parquet else BLOCK,
                         options.seed)
        if parquet:
            truth = _write_parquet(path, blocks, size)
        else:
            row_shape, dtype = ((28, 28), "|u1") if kind == "mnist-shifted" else ((options.columns,), "<f4")
            truth = _write_npy(path, blocks, size, row_shape, dtype)
        np.save(out / f"{kind}-{size}-labels.npy", truth)
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB)", flush=True)


# ------------------------------------------------------------------ children
def _count_batches() -> list[int]:
    """Count the mini-batches read from streamed rows (wraps ``StreamedRows.__getitem__``)."""
    import torch

    from decluster.data.streamed import StreamedRows

    counter, original = [0], StreamedRows.__getitem__

    def counted(self, index):
        if isinstance(index, torch.Tensor):
            counter[0] += len(index)
        return original(self, index)

    StreamedRows.__getitem__ = counted
    return counter


def _open_rows(path: Path):
    """The rows of a ``.npy`` or Parquet file on disk; uint8 pixels read as x / 255."""
    if path.suffix == ".parquet":
        from decluster.data.parquet_rows import ParquetRows

        rows = ParquetRows.open(path)
    else:
        from decluster.data.npy_rows import NpyRows

        rows = NpyRows.open(path)
    return rows.scaled(0, 255) if rows.dtype == np.uint8 else rows


def _n_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    return int(np.load(path, mmap_mode="r").shape[0])


def _child_pretrain(path: Path, seconds: float) -> dict:
    from decluster import DEC

    rows_read = _count_batches()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a background shell starts children ignoring SIGINT
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    model = DEC(n_clusters=10, random_state=0, device="cpu")
    start = time.perf_counter()
    timer.start()
    try:
        model.fit(_open_rows(path))
    except KeyboardInterrupt:  # the timer's SIGINT (a fit without a checkpoint folder stops at once)
        pass
    elapsed = time.perf_counter() - start
    return {"rows_per_second": rows_read[0] / elapsed, "rows_read": rows_read[0], "seconds": elapsed}


def _child_prepare(path: Path, model_out: Path) -> dict:
    """Pretrain an autoencoder on the first 20,000 rows in memory and save it (as a DEC model)."""
    from decluster import DEC

    rows = _open_rows(path)
    first = np.concatenate(list(rows.rows(0, min(20_000, rows.n_rows)).blocks()))
    model = DEC(n_clusters=10, random_state=0, layer_epochs=2, finetune_epochs=4, max_iter=1, device="cpu")
    model.fit(first).save(model_out, overwrite=True)
    return {"seconds": model.phase_times_}


def _child_cluster(path: Path, iterations: int, model_out: Path, pretrained: Path, memory: PhaseMemory) -> dict:
    from decluster import DEC
    from decluster.metrics import cluster_accuracy

    autoencoder = DEC.load(pretrained, device="cpu").autoencoder_
    model = DEC(n_clusters=10, random_state=0, autoencoder=autoencoder, update_interval=iterations,
                max_iter=iterations, device="cpu").fit(_open_rows(path))
    fit_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    memory.enter("save")  # saving converts the labels to int64: measured apart from the fit
    model.save(model_out, overwrite=True)
    truth = np.load(path.with_name(f"{path.stem}-labels.npy"))
    return {"seconds": model.phase_times_, "accuracy": float(cluster_accuracy(truth, model.labels_)),
            "fit_peak_mb": fit_peak}


def _child_predict(path: Path, model_folder: Path) -> dict:
    from decluster import DEC

    model = DEC.load(model_folder, device="cpu")
    start = time.perf_counter()
    labels = model.predict(_open_rows(path))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_per_second": len(labels) / seconds}


def child(what: str, path: Path, options: argparse.Namespace) -> None:
    """Run one measurement and print its record as JSON on the last line."""
    memory = PhaseMemory().start()
    model_folder, pretrained = options.work / f"model-{path.stem}", options.work / "pretrained"
    if what == "prepare":
        record = _child_prepare(path, pretrained)
    elif what == "pretrain":
        record = _child_pretrain(path, options.pretrain_seconds)
    elif what == "cluster":
        record = _child_cluster(path, options.iterations, model_folder, pretrained, memory)
    else:
        record = _child_predict(path, options.predict_model or model_folder)
    memory.stop()
    record |= {"what": what, "file": str(path), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "phase_peaks_mb": memory.peaks}
    print(json.dumps(record), flush=True)


# ------------------------------------------------------------------ driver
def _run_child(what: str, path: Path, options: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "child", what, str(path), "--work", str(options.work),
               "--pretrain-seconds", str(options.pretrain_seconds), "--iterations", str(options.iterations)]
    if options.predict_model is not None:
        command += ["--predict-model", str(options.predict_model)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} on {path} failed:\n{done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["rows"], record["format"] = _n_rows(path), path.suffix.lstrip(".")
    return record


def measure(files: list[Path], options: argparse.Namespace) -> list[dict]:
    """Every child in turn; the record is saved after each."""
    records, wanted = [], options.steps
    steps = [("prepare", files[0])] if "cluster" in wanted else []
    steps += [(what, path) for path in files for what in ("pretrain", "cluster", "predict") if what in wanted]
    for what, path in steps:
        records.append(_run_child(what, path, options))
        print(json.dumps(records[-1]), flush=True)
        _save(records, options)
    return records


def _save(records: list[dict], options: argparse.Namespace) -> None:
    results = options.results
    results.mkdir(parents=True, exist_ok=True)
    stamp = options.stamp
    (results / f"stream-memory-{stamp}.json").write_text(json.dumps({"machine": _machine(), "records": records},
                                                                      indent=2) + "\n")


def _machine() -> dict:
    return {"cpus": os.cpu_count(), "torch_threads": __import__("torch").get_num_threads()}


def table(records: list[dict], options: argparse.Namespace) -> str:
    """The table of this run's records, as ``benchmarks/tables.py`` writes it for the docs."""
    source = f"stream-memory-{options.stamp}.json"
    return stream_table(Records(stream=[dict(record, machine=_machine(), _source=source) for record in records]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("generate")
    make.add_argument("--data-dir", help="a folder of the MNIST files (for --kind mnist-shifted)")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000, 10_000_000])
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--format", choices=("npy", "parquet"), default="npy")
    make.add_argument("--kind", choices=("mnist-shifted", "blobs"), default="mnist-shifted",
                      help="shifted MNIST images (784 uint8), or float32 rows around 10 centres (--columns)")
    make.add_argument("--columns", type=int, default=100, help="values per row of --kind blobs (default: 100)")
    for name in ("measure", "child"):
        sub = commands.add_parser(name)
        if name == "child":
            sub.add_argument("what", choices=("prepare", "pretrain", "cluster", "predict"))
        sub.add_argument("files", type=Path, nargs="+")
        sub.add_argument("--work", type=Path, default=Path(".bench-data/stream"))
        sub.add_argument("--pretrain-seconds", type=float, default=90.0)
        sub.add_argument("--iterations", type=int, default=140)
        sub.add_argument("--predict-model", type=Path,
                         help="the model folder predict uses (default: the one fitted on the same file); one model "
                              "for every size measures how predict grows with the rows it assigns alone")
        sub.add_argument("--steps", nargs="+", choices=("pretrain", "cluster", "predict"),
                         default=["pretrain", "cluster", "predict"], help="what to measure on each file")
        sub.add_argument("--results", type=Path, default=Path(__file__).parent / "results",
                         help="folder of the record (default: benchmarks/results)")
    options = parser.parse_args()
    options.stamp = time.strftime("%Y%m%dT%H%M%S")
    if options.command == "generate":
        generate(options)
    elif options.command == "child":
        child(options.what, options.files[0], options)
    else:
        print(table(measure(options.files, options), options))


if __name__ == "__main__":
    main()
