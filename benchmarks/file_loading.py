"""Load time and peak memory of decluster's readers beside pyarrow alone and pandas.

Two steps:

``generate`` writes N rows of D float32 columns (seeded Gaussian values) as ``features.csv`` and
``features.parquet`` (row groups of 65,536 rows) into a folder, a block of rows at a time:

    python benchmarks/file_loading.py generate --out .bench-data/files --rows 1000000 --columns 100

``measure`` loads each file with each reader, each load in a fresh process of its own (one at
a time), and records the wall time of the load and its peak resident memory: the peak RSS
(``ru_maxrss``, its high-water mark reset after the imports where Linux allows) minus the RSS
after the imports. The readers:

* ``decluster``: :func:`decluster.data.inputs.read_input`, float32 rows and all its checks;
* ``pyarrow``: ``pyarrow.csv.read_csv`` (types inferred) or ``pyarrow.parquet.read_table``, then
  each column copied into a float32 array;
* ``pyarrow-float32`` (CSV): ``pyarrow.csv.read_csv`` told that every column is float32, then copied;
* ``pandas`` (CSV): ``pandas.read_csv``, then ``to_numpy(float32)``.

The record (command, commit, machine, date, every load) goes to
``benchmarks/results/file-loading/file-loading-<time>.json`` (``--results`` to change), and a
table is printed with each reader's time over the fastest pyarrow reader's and its peak over the
size of the float32 array. The targets: decluster within 1.3 times pyarrow's time, and a peak of
at most twice the array:

    python benchmarks/file_loading.py measure --data .bench-data/files --repeat 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BLOCK_ROWS = 65_536
FILES = {"csv": "features.csv", "parquet": "features.parquet"}
READERS = {"csv": ("decluster", "pyarrow", "pyarrow-float32", "pandas"), "parquet": ("decluster", "pyarrow")}
TIME_TARGET, PEAK_TARGET = 1.3, 2.0


# ------------------------------------------------------------------ generate
def generate(out: Path, rows: int, columns: int, seed: int) -> None:
    """Write ``features.csv`` and ``features.parquet`` of ``rows`` x ``columns`` float32 values."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [f"f{j}" for j in range(columns)]
    schema = pa.schema([(name, pa.float32()) for name in names])
    with pa_csv.CSVWriter(str(out / FILES["csv"]), schema) as text, \
            pq.ParquetWriter(str(out / FILES["parquet"]), schema) as parquet:
        for start in range(0, rows, BLOCK_ROWS):
            block = rng.standard_normal((min(BLOCK_ROWS, rows - start), columns), dtype=np.float32)
            table = pa.table([block[:, j] for j in range(columns)], schema=schema)
            text.write_table(table)
            parquet.write_table(table, row_group_size=BLOCK_ROWS)
    for name in FILES.values():
        print(f"wrote {out / name} ({(out / name).stat().st_size / 1e6:,.0f} MB)", flush=True)


# ------------------------------------------------------------------ one load, in a child process
def _import(reader: str) -> None:
    """Import what ``reader`` needs, so that the imports are not measured."""
    if reader == "decluster":
        import decluster.data.inputs  # noqa: F401
        import decluster.training.memory  # noqa: F401  (the readers' check of free memory)
    elif reader == "pandas":
        import pandas  # noqa: F401
    import pyarrow as pa
    import pyarrow.compute  # noqa: F401  (imported on first use by some of pyarrow's readers)
    import pyarrow.csv  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    pa.chunked_array([[0.0]]).to_numpy()  # its first call prepares for a fifth of a second


def _load(reader: str, path: Path) -> np.ndarray:
    """The float32 array of ``path`` as ``reader`` makes it."""
    if reader == "decluster":
        from decluster.data.inputs import read_input

        return read_input(path).X
    if reader == "pandas":
        import pandas

        return pandas.read_csv(path).to_numpy(dtype=np.float32)
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        table = pq.read_table(path)
    elif reader == "pyarrow-float32":
        names = pa_csv.open_csv(path).schema.names
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.float32() for name in names}))
    else:
        table = pa_csv.read_csv(path)
    X = np.empty((table.num_rows, table.num_columns), dtype=np.float32)
    for index, column in enumerate(table.columns):
        X[:, index] = column.to_numpy()
    return X


def _resident_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def _reset_peak() -> None:
    """Set the peak RSS to the current RSS (Linux: ``/proc/self/clear_refs``), where allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass


def child(reader: str, path: Path) -> None:
    """Load ``path`` with ``reader`` and print the record of the load as JSON."""
    _import(reader)
    _reset_peak()
    before = _resident_mb()
    start = time.perf_counter()
    X = _load(reader, path)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert X.dtype == np.float32 and X.ndim == 2, (X.dtype, X.shape)
    print(json.dumps({"reader": reader, "file": str(path), "seconds": seconds, "shape": list(X.shape),
                      "array_mb": X.nbytes / 2**20, "peak_mb": peak - before, "rss_after_imports_mb": before}))


# ------------------------------------------------------------------ measure
def _run_child(reader: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "child", reader, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{reader} on {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(folder: Path, repeat: int) -> list[dict]:
    """Every reader on every file, ``repeat`` times each; one record per reader and file."""
    records = []
    for kind, name in FILES.items():
        for reader in READERS[kind]:
            loads = [_run_child(reader, folder / name) for _ in range(repeat)]
            print(f"{kind} {reader}: " + ", ".join(f"{load['seconds']:.2f} s" for load in loads), flush=True)
            records.append({"format": kind, "reader": reader, "file": str(folder / name), "shape": loads[0]["shape"],
                            "array_mb": loads[0]["array_mb"], "seconds": [load["seconds"] for load in loads],
                            "peak_mb": [load["peak_mb"] for load in loads]})
    return records


def _with_ratios(records: list[dict]) -> list[dict]:
    """Each record with its median time over the fastest pyarrow reader's and its peak over the array."""
    for record in records:
        record["median_seconds"] = statistics.median(record["seconds"])
        record["peak_over_array"] = max(record["peak_mb"]) / record["array_mb"]
    for record in records:
        pyarrow = min(other["median_seconds"] for other in records
                      if other["format"] == record["format"] and other["reader"].startswith("pyarrow"))
        record["time_over_pyarrow"] = record["median_seconds"] / pyarrow
    return records


def table(records: list[dict]) -> str:
    """The records as a Markdown table, with the targets checked for decluster."""
    lines = ["| file | reader | time (median) | × pyarrow | peak memory | × float32 array | targets |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for record in records:
        targets = ""
        if record["reader"] == "decluster":
            met = (record["time_over_pyarrow"] <= TIME_TARGET, record["peak_over_array"] <= PEAK_TARGET)
            targets = (f"time {'met' if met[0] else 'MISSED'} (≤ {TIME_TARGET}×), "
                       f"memory {'met' if met[1] else 'MISSED'} (≤ {PEAK_TARGET}×)")
        lines.append(f"| {record['format']} | {record['reader']} | {record['median_seconds']:.2f} s | "
                     f"{record['time_over_pyarrow']:.2f} | {max(record['peak_mb']):,.0f} MB | "
                     f"{record['peak_over_array']:.2f} | {targets} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("generate", help="write features.csv and features.parquet")
    make.add_argument("--out", type=Path, default=Path(".bench-data/files"))
    make.add_argument("--rows", type=int, default=1_000_000)
    make.add_argument("--columns", type=int, default=100)
    make.add_argument("--seed", type=int, default=0)
    run = commands.add_parser("measure", help="load each file with each reader, one process a load")
    run.add_argument("--data", type=Path, default=Path(".bench-data/files"))
    run.add_argument("--repeat", type=int, default=3, help="loads per reader and file (default: 3)")
    run.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "file-loading",
                     help="folder of the JSON record (default: benchmarks/results/file-loading)")
    one = commands.add_parser("child", help="one load (run by measure)")
    one.add_argument("reader", choices=sorted({reader for readers in READERS.values() for reader in readers}))
    one.add_argument("path", type=Path)
    options = parser.parse_args()
    if options.command == "generate":
        generate(options.out, options.rows, options.columns, options.seed)
    elif options.command == "child":
        child(options.reader, options.path)
    else:
        records = _with_ratios(measure(options.data, options.repeat))
        stamp = time.strftime("%Y%m%dT%H%M%S")
        options.results.mkdir(parents=True, exist_ok=True)
        path = options.results / f"file-loading-{stamp}.json"
        from run import git_commit, machine  # the parent only: the measured children import no torch

        path.write_text(json.dumps({"command": " ".join(sys.argv), "commit": git_commit(), "machine": machine(),
                                    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "records": records}, indent=2) + "\n")
        print(table(records))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
