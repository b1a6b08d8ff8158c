"""Users' tables read with pyarrow: CSV/TSV (also compressed), Parquet files and folders, Feather;
label columns, exact labels, and errors that name the file, the line or row, and the column."""

import bz2
import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from decluster.data import arrow_tables, csv_reader
from decluster.data.datasets import DatasetError as RegistryError
from decluster.data.files import DatasetError, load_features
from cli_helpers import write_lines

BIG_IDS = [2**53, 2**53 + 1, 2**53 + 2, 2**53 + 3]
FEATURES = np.array([[5.1, 1.4], [7.0, 4.7], [6.3, 6.0], [0.25, -3.5]], dtype=np.float32)
SPECIES = ["setosa", "versicolor", "setosa", "virginica"]
CODES = [0, 1, 0, 2]  # the sorted distinct species


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"sepal": FEATURES[:, 0], "petal": FEATURES[:, 1], "species": SPECIES})


def _csv_text(delimiter: str = ",") -> str:
    rows = [delimiter.join(["sepal", "petal", "species"])]
    rows += [delimiter.join([f"{a:g}", f"{b:g}", name]) for (a, b), name in zip(FEATURES.tolist(), SPECIES)]
    return "\n".join(rows) + "\n"


def _write(tmp_path, kind: str):
    """The table of FEATURES and SPECIES written as ``kind``; returns the path."""
    if kind in ("csv", "tsv"):
        path = tmp_path / f"table.{kind}"
        path.write_text(_csv_text("\t" if kind == "tsv" else ","))
    elif kind in ("csv.gz", "csv.bz2", "csv.zst"):
        path = tmp_path / f"table.{kind}"
        raw = _csv_text().encode()
        if kind == "csv.gz":
            path.write_bytes(gzip.compress(raw))
        elif kind == "csv.bz2":
            path.write_bytes(bz2.compress(raw))
        else:
            with pa.CompressedOutputStream(str(path), "zstd") as stream:
                stream.write(raw)
    elif kind == "parquet":
        path = tmp_path / "table.parquet"
        _frame().to_parquet(path)
    elif kind == "parquet folder":
        path = tmp_path / "parts"
        path.mkdir()
        _frame()[:1].to_parquet(path / "part-0.parquet")
        _frame()[1:].to_parquet(path / "part-1.parquet")
    else:
        path = tmp_path / f"table.{kind}"
        feather.write_feather(pa.Table.from_pandas(_frame()), path)
    return path


KINDS = ["csv", "tsv", "csv.gz", "csv.bz2",
         pytest.param("csv.zst", marks=pytest.mark.skipif(not pa.Codec.is_available("zstd"), reason="no zstd")),
         "parquet", "parquet folder", "feather", "arrow"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_gives_the_same_float32_table_and_labels(tmp_path, kind):
    path = _write(tmp_path, kind)
    for label_column in ("species", 2, -1):
        X, y = load_features(path, label_column=label_column)
        assert X.dtype == np.float32 and X.flags.c_contiguous
        np.testing.assert_array_equal(X, FEATURES)
        assert y.dtype == np.int64 and y.tolist() == CODES


@pytest.mark.parametrize("kind", ["csv.gz", "parquet", "feather"])
def test_a_string_column_that_is_not_the_label_is_refused(tmp_path, kind):
    path = _write(tmp_path, kind)
    message = "not a number" if kind.startswith("csv") else "column 'species' holds (large_)?string, not numbers"
    with pytest.raises(DatasetError, match=message):
        load_features(path)


def test_the_file_readers_and_the_data_sets_raise_the_same_error_class():
    assert DatasetError is RegistryError and issubclass(DatasetError, ValueError)


# ----------------------------------------------------------------------------- text tables
def test_header_rules_and_text_oddities_with_pyarrow(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf\r\n\r\na,b\r\n\r\n1,2\r\n\r\n 3 , 4\r\n")  # BOM, CRLF, blank lines, spaces
    np.testing.assert_array_equal(load_features(bom)[0], [[1, 2], [3, 4]])
    quoted = write_lines(tmp_path / "quoted.csv", ['"x","y"', '"1.5",2', '3,"4e-1"'])
    np.testing.assert_array_equal(load_features(quoted)[0], np.array([[1.5, 2], [3, 0.4]], dtype=np.float32))
    pandas_header = write_lines(tmp_path / "pandas.csv", ["0,1,2", "0.5,1,7", "2,3,8"])
    X, y = load_features(pandas_header, label_column=-1)
    np.testing.assert_array_equal(X, [[0.5, 1], [2, 3]])
    assert y.tolist() == [7, 8]
    no_header = write_lines(tmp_path / "numbers.csv", ["1,2", "3,4"])
    assert load_features(no_header)[0].shape == (2, 2) and load_features(no_header, header=True)[0].shape == (1, 2)


def test_integer_labels_stay_exact_and_text_labels_become_codes(tmp_path):
    path = write_lines(tmp_path / "ids.csv", ["a,id", *(f"0.5,{value}" for value in BIG_IDS)])
    y = load_features(path, label_column="id")[1]
    assert y.dtype == np.int64 and y.tolist() == BIG_IDS
    padded = write_lines(tmp_path / "padded.csv", ["a,label", "1, 007", "2,+7", "3,8"])
    assert load_features(padded, label_column="label")[1].tolist() == [7, 7, 8]
    huge = write_lines(tmp_path / "huge.csv", ["a,label", *(f"1,{value}" for value in (10**30, 5, 10**30))])
    assert load_features(huge, label_column="label")[1].tolist() == [1, 0, 1]
    words = write_lines(tmp_path / "words.csv", ["a,label", "1, dog", "2,cat", "3,dog "])
    assert load_features(words, label_column="label")[1].tolist() == [1, 0, 1]


@pytest.mark.parametrize("lines, label_column, message", [
    (["a,b", "1,2", "3,abc"], None, r'line 3, column "b": \'abc\' is not a number'),
    (["1,2", "3,x"], None, r"line 2, column 2: 'x' is not a number"),
    (["a,b", "1,2", "3,nan"], None, r'line 3, column "b": NaN is not a number'),
    (["a,b", "1,2", "3,-inf"], None, r'line 3, column "b": -inf is infinite'),
    (["a,b", "1,2", "3,1e300"], None, r'line 3, column "b": 1e\+300 is too large for float32'),
    (["a,b", "1,2", "3,4,5"], None, r"line 3 has 3 columns, line 1 has 2"),
    (["a,label", "1,2", "3,"], "label", r'line 3, column "label": blank label'),
    (["a,label", "1,2", "3,nan"], "label", r'line 3, column "label": a missing label \(nan\)'),
    (["a,label", "1,2", "3,NA"], "label", r'line 3, column "label": a missing label \(NA\)'),
    (["1,2", "1_000,3"], None, r"line 2, column 1: '1_000' is not a number"),
])
def test_errors_name_the_line_and_the_column(tmp_path, lines, label_column, message):
    for name, raw in (("data.csv", "\n".join(lines).encode()), ("data.csv.gz", gzip.compress("\n".join(lines).encode()))):
        path = tmp_path / name
        path.write_bytes(raw)
        with pytest.raises(DatasetError, match=f"{name}: {message}"):
            load_features(path, label_column=label_column)


def test_many_segments_and_slabs_give_the_table_and_the_right_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_reader, "SEGMENT_BYTES", 64)  # a few lines a segment, some longer than one
    monkeypatch.setattr(arrow_tables, "SLAB_BYTES", 4 * 3 * 7)  # slabs of 7 rows
    rng = np.random.default_rng(0)
    X = rng.integers(-1000, 1000, size=(100, 3)).astype(np.float32) / 8
    labels = rng.integers(0, 5, size=100)
    lines = ["x,y,z,label", *(f"{a},{b},{c},{label}" for (a, b, c), label in zip(X.tolist(), labels))]
    lines.insert(40, "")  # a blank line: skipped, but counted in line numbers
    lines.append("0.5" + "0" * 100 + ",0.5,0.5,1")  # a line longer than a segment
    path = write_lines(tmp_path / "long.csv", lines)
    loaded, y = load_features(path, label_column="label")
    np.testing.assert_array_equal(loaded, np.vstack([X, [[0.5, 0.5, 0.5]]]))
    assert y.tolist() == [*labels.tolist(), 1]
    lines[80] = "1,2,oops,3"
    path = write_lines(tmp_path / "bad.csv", lines)
    with pytest.raises(DatasetError, match=r"bad.csv: line 81, column \"z\": 'oops' is not a number"):
        load_features(path, label_column="label")
    lines[80] = "1,2,inf,3"
    path = write_lines(tmp_path / "inf.csv", lines)
    with pytest.raises(DatasetError, match=r"inf.csv: line 81, column \"z\": inf is infinite"):
        load_features(path, label_column="label")


def test_a_corrupt_compressed_file_is_one_clear_error(tmp_path):
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n" * 100)[:40])
    with pytest.raises(DatasetError) as caught:
        load_features(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


# ----------------------------------------------------------------------------- Parquet and Feather
def test_parquet_labels_of_every_type(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "ids": np.array(BIG_IDS[:3], dtype=np.int64),
                          "big": np.array([2**64 - 1, 5, 2**63], dtype=np.uint64),
                          "flag": [True, False, True], "kind": pd.Categorical(["b", "a", "b"]),
                          "word": ["dog", "cat", "dog"]})
    frame.to_parquet(tmp_path / "labels.parquet")
    expected = {"ids": BIG_IDS[:3], "big": [2, 0, 1], "flag": [1, 0, 1], "kind": [1, 0, 1], "word": [1, 0, 1]}
    for name, labels in expected.items():
        table = frame.drop(columns=[other for other in expected if other != name])
        table.to_parquet(tmp_path / f"{name}.parquet")
        X, y = load_features(tmp_path / f"{name}.parquet", label_column=name)
        assert y.dtype == np.int64 and y.tolist() == labels, name
        np.testing.assert_array_equal(X, [[1], [2], [3]])


def test_booleans_and_integers_are_features_and_the_pandas_index_is_not(tmp_path):
    frame = pd.DataFrame({"on": [True, False], "count": np.array([3, 4], dtype=np.uint8), "w": [0.5, 1.5]},
                         index=[10, 20])
    frame.to_parquet(tmp_path / "mixed.parquet")  # the index is saved as a column __index_level_0__
    X, y = load_features(tmp_path / "mixed.parquet")
    assert y is None and X.dtype == np.float32
    np.testing.assert_array_equal(X, [[1, 3, 0.5], [0, 4, 1.5]])


@pytest.mark.parametrize("kind", ["parquet", "feather"])
def test_parquet_and_feather_errors_name_the_file_row_and_column(tmp_path, kind):
    def written(frame: pd.DataFrame, name: str):
        path = tmp_path / f"{name}.{kind}"
        frame.to_parquet(path) if kind == "parquet" else frame.reset_index(drop=True).to_feather(path)
        return path

    nan = written(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, np.inf, 2.0]}), "inf")
    with pytest.raises(DatasetError, match=r"inf.\w+: row 1 \(counted from 0\), column 'b': inf is infinite"):
        load_features(nan)
    null = written(pd.DataFrame({"a": [1.0, None, 3.0], "b": [1.0, 2.0, 2.0]}), "null")
    with pytest.raises(DatasetError, match=r"null.\w+: row 1 \(counted from 0\), column 'a': (NaN is not a number|a missing value)"):
        load_features(null)
    missing = written(pd.DataFrame({"a": [1.0, 2.0], "label": pd.array([1, None], dtype="Int64")}), "label")
    with pytest.raises(DatasetError, match=r"row 1 \(counted from 0\), column 'label': a missing label \(null\)"):
        load_features(missing, label_column="label")
    with pytest.raises(DatasetError, match=r"no column named 'c' \(columns a, label\)"):
        load_features(missing, label_column="c")
    with pytest.raises(DatasetError, match="label_column 5 out of range for 2 columns"):
        load_features(missing, label_column=5)


def test_a_parquet_folder_is_one_table_whose_files_must_agree(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_parquet(folder / "1.parquet")
    pd.DataFrame({"a": [5.0], "b": [6.0]}).to_parquet(folder / "0.parquet")
    np.testing.assert_array_equal(load_features(folder)[0], [[5, 6], [1, 3], [2, 4]])  # files in name order
    pq.write_table(pa.table({"a": [7.0, 8.0], "b": pa.array([9.0, np.nan], from_pandas=False)}), folder / "2.parquet")
    with pytest.raises(DatasetError, match=r"2.parquet: row 1 \(counted from 0\), column 'b': NaN is not a number"):
        load_features(folder)
    pd.DataFrame({"a": [1.0], "c": [2.0]}).to_parquet(folder / "2.parquet")
    with pytest.raises(DatasetError, match=r"2.parquet: other columns \(a, c rather than a, b\) than 0.parquet; "
                                           "the Parquet files of a folder are one table"):
        load_features(folder)
    pd.DataFrame({"a": [1.0], "b": np.array([2], dtype=np.int64)}).to_parquet(folder / "2.parquet")
    with pytest.raises(DatasetError, match=r"2.parquet: column 'b' of type int64 rather than double"):
        load_features(folder)
    (folder / "2.parquet").unlink()
    np.save(folder / "3.npy", np.zeros((1, 2)))
    with pytest.raises(DatasetError, match="parts: is a folder holding both .npy and .parquet files"):
        load_features(folder)


def test_a_damaged_parquet_or_feather_file_is_one_clear_error(tmp_path):
    pd.DataFrame({"a": np.arange(1000.0)}).to_parquet(tmp_path / "whole.parquet")
    for name in ("cut.parquet", "cut.feather"):
        (tmp_path / name).write_bytes((tmp_path / "whole.parquet").read_bytes()[:300])
        with pytest.raises(DatasetError) as caught:
            load_features(tmp_path / name)
        assert str(caught.value).startswith(str(tmp_path / name)) and "\n" not in str(caught.value)
