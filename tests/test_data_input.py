"""Reading a user's data and label files: headers, delimiters, exact labels, clear errors, no noise."""

import builtins
import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from decluster import plotting
from decluster.cli.commands import _configure_logging, build_parser, load_input, main
from decluster.data.files import DatasetError, load_features, load_labels
from decluster.metrics import evaluate
from cli_helpers import one_line_error, write_lines

BIG_IDS = [2**53, 2**53 + 1, 2**53 + 2, 2**53 + 3]  # 9007199254740992 ... 995


# ----------------------------------------------------------------------------- headers (10)
def _pandas_like_csv(path: Path, rows: np.ndarray, fmt: str = "%.6g") -> Path:
    """What ``pd.DataFrame(rows).to_csv(path, index=False)`` writes: a header 0,1,...,d-1."""
    header = ",".join(str(column) for column in range(rows.shape[1]))
    np.savetxt(path, rows, delimiter=",", fmt=fmt, header=header, comments="")
    return path


def test_numeric_pandas_header_is_not_a_data_row(tmp_path):
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.random((300, 64)), np.arange(300) % 10])
    X, y = load_features(_pandas_like_csv(tmp_path / "float.csv", rows), label_column=64)
    assert X.shape == (300, 64) and np.unique(y).size == 10
    pixels = np.column_stack([rng.integers(0, 17, (300, 64)), np.arange(300) % 10])
    X, y = load_features(_pandas_like_csv(tmp_path / "int.csv", pixels, "%d"), label_column=-1)
    assert X.shape == (300, 64) and np.unique(y).size == 10
    np.testing.assert_array_equal(X, pixels[:, :64])


def test_header_that_names_the_label_column(tmp_path):
    path = write_lines(tmp_path / "data.csv", ["10,20,label", "0.5,0.25,3", "1.5,2.5,4"])
    X, y = load_features(path, label_column="label")
    np.testing.assert_array_equal(X, [[0.5, 0.25], [1.5, 2.5]])
    np.testing.assert_array_equal(y, [3, 4])


def test_header_option_overrides_the_guess(tmp_path):
    path = write_lines(tmp_path / "data.csv", ["1,2", "3,4"])
    np.testing.assert_array_equal(load_features(path)[0], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_features(path, header=True)[0], [[3, 4]])
    named = write_lines(tmp_path / "named.csv", ["a,b", "3,4"])
    with pytest.raises(DatasetError, match="named.csv: line 1, column 1: 'a' is not a number"):
        load_features(named, header=False)
    with pytest.raises(ValueError, match="header must be"):
        load_features(path, header="yes")


def test_label_file_header_option(tmp_path):
    path = write_lines(tmp_path / "y.csv", ["0", "3", "1"])
    np.testing.assert_array_equal(load_labels(path), [0, 3, 1])
    np.testing.assert_array_equal(load_labels(path, header=True), [3, 1])
    words = write_lines(tmp_path / "words.csv", ["cat", "dog", "cat"])
    np.testing.assert_array_equal(load_labels(words, header=False), [0, 1, 0])
    indexed = write_lines(tmp_path / "two.csv", ["0,1", "5,7", "6,8"])
    np.testing.assert_array_equal(load_labels(indexed, column=1), [7, 8])


@pytest.mark.parametrize("command", ["fit", "predict", "plot"])
def test_header_and_delimiter_flags_reach_the_reader(tmp_path, command):
    path = write_lines(tmp_path / "data.csv", ["1;2", "3;4", "5;6"])
    model = [] if command == "fit" else ["--model", str(tmp_path / "model")]
    args = build_parser().parse_args([command, *model, "--data", str(path), "--header", "yes",
                                      "--delimiter", ";"])
    X = load_input(args).X
    np.testing.assert_array_equal(X, [[3, 4], [5, 6]])
    args = build_parser().parse_args([command, *model, "--data", str(path), "--header", "no"])
    assert load_input(args).X.shape == (3, 2)


def test_evaluate_header_flag(capsys, tmp_path):
    predicted = write_lines(tmp_path / "predicted.csv", ["1", "1", "1", "0"])
    truth = write_lines(tmp_path / "truth.csv", ["0", "1", "1", "0"])
    assert main(["evaluate", "--labels", str(predicted), "--truth", str(truth)]) == 0
    assert "ACC 0.7500" in capsys.readouterr().out
    assert main(["evaluate", "--labels", str(predicted), "--truth", str(truth), "--header", "yes"]) == 0
    assert "ACC 1.0000" in capsys.readouterr().out
    semicolons = write_lines(tmp_path / "semicolons.csv", ["index;cluster", "0;1", "1;1", "2;1", "3;0"])
    assert main(["evaluate", "--labels", str(semicolons), "--truth", str(truth), "--delimiter", ";"]) == 0
    assert "ACC 0.7500" in capsys.readouterr().out


def test_evaluate_length_mismatch_by_one_suggests_the_header_flag(capsys, tmp_path):
    predicted = write_lines(tmp_path / "predicted.csv", ["0", "1", "1"])
    truth = write_lines(tmp_path / "truth.csv", ["0", "0", "1", "1"])
    assert "--header" in one_line_error(capsys, ["evaluate", "--labels", str(predicted), "--truth", str(truth)])


# ----------------------------------------------------------------------------- exact labels (11)
def test_big_integer_text_labels_stay_distinct_and_exact(tmp_path):
    path = write_lines(tmp_path / "ids.csv", ["id", *map(str, BIG_IDS)])
    labels = load_labels(path)
    assert labels.dtype == np.int64 and labels.tolist() == BIG_IDS
    features = write_lines(tmp_path / "data.csv", ["a,id", *(f"0.5,{value}" for value in BIG_IDS)])
    assert load_features(features, label_column="id")[1].tolist() == BIG_IDS


def test_labels_beyond_int64_become_distinct_codes(tmp_path):
    huge = [10**30 + 2, 10**30, -(10**30), 10**30]
    path = write_lines(tmp_path / "huge.csv", ["label", *map(str, huge)])
    np.testing.assert_array_equal(load_labels(path), [2, 1, 0, 1])


def test_mixed_text_labels_are_categories(tmp_path):
    path = write_lines(tmp_path / "mixed.csv", ["label", "3", "3.0", "x", "3"])
    assert np.unique(load_labels(path)).size == 3


@pytest.mark.parametrize("values, expected", [
    (np.array(BIG_IDS, dtype=np.int64), BIG_IDS),
    (np.array([2**64 - 1, 5, 2**63], dtype=np.uint64), [2, 0, 1]),
    (np.array([4.0, -2.0, 2.0**60]), [4, -2, 2**60]),
    (np.array([0.5, 1e30, 0.5, 2.0**70]), [0, 2, 0, 1]),
    (np.array(["b", "a", "b"]), [1, 0, 1]),
])
def test_array_labels_are_kept_exactly(tmp_path, values, expected):
    np.save(tmp_path / "y.npy", values)
    assert load_labels(tmp_path / "y.npy").tolist() == expected
    np.savez(tmp_path / "data.npz", X=np.zeros((len(values), 2)), y=values)
    assert load_features(tmp_path / "data.npz")[1].tolist() == expected


def test_nan_array_label_is_an_error(tmp_path):
    np.save(tmp_path / "y.npy", np.array([1.0, np.nan]))
    with pytest.raises(DatasetError, match=r"y.npy: label 1 \(counted from 0\) is nan"):
        load_labels(tmp_path / "y.npy")


def test_evaluate_keeps_big_ids_apart(capsys, tmp_path):
    truth_ids = np.repeat(BIG_IDS, 5)
    clusters = np.repeat([3, 0, 1, 2], 5)
    predicted = write_lines(tmp_path / "labels.csv", ["index,cluster", *(f"{i},{c}" for i, c in enumerate(clusters))])
    truth = write_lines(tmp_path / "truth.csv", ["label", *map(str, truth_ids)])
    assert main(["evaluate", "--labels", str(predicted), "--truth", str(truth)]) == 0
    assert capsys.readouterr().out.startswith("ACC 1.0000")
    huge = write_lines(tmp_path / "huge.csv", ["label", *(str(10**30 + value % 4) for value in range(20))])
    assert main(["evaluate", "--labels", str(predicted), "--truth", str(huge), "--json"]) == 0
    expected = evaluate(np.arange(20) % 4, clusters).accuracy
    assert f'"accuracy": {expected}' in capsys.readouterr().out


# ----------------------------------------------------------------------------- clear errors (12)
@pytest.mark.parametrize("cell, message", [
    ("1e300", r"data.csv: line 3, column \"b\": 1e\+300 is too large for float32"),
    ("-1e39", r"data.csv: line 3, column \"b\": -1e\+39 is too large for float32"),
    ("nan", r"data.csv: line 3, column \"b\": NaN is not a number"),
    ("-inf", r"data.csv: line 3, column \"b\": -inf is infinite"),
])
def test_values_not_finite_in_float32_name_line_and_column(tmp_path, cell, message):
    path = write_lines(tmp_path / "data.csv", ["a,b", "1,2", f"3,{cell}"])
    with pytest.raises(DatasetError, match=message):
        load_features(path)


def test_not_finite_array_value_names_row_and_column(tmp_path):
    values = np.ones((4, 3))
    values[2, 1] = 1e300
    np.save(tmp_path / "x.npy", values)
    with pytest.raises(DatasetError, match=r"x.npy: row 2, column 1 \(counted from 0\): 1e\+300 is too large"):
        load_features(tmp_path / "x.npy")


def test_nan_cell_from_the_command_line(capsys, tmp_path):
    path = write_lines(tmp_path / "data.csv", ["a,b", "1,2", "3,nan"])
    error = one_line_error(capsys, ["fit", "--method", "dec", "--data", str(path), "--out", str(tmp_path / "out")])
    assert "data.csv: line 3, column \"b\": NaN" in error


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected(tmp_path, delimiter):
    path = write_lines(tmp_path / "data.csv", [delimiter.join(["a", "b", "c"]), delimiter.join(["1", "2.5", "3"]),
                                          delimiter.join(["4", "5", "6"])])
    X, _ = load_features(path)
    np.testing.assert_array_equal(X, [[1, 2.5, 3], [4, 5, 6]])


def test_semicolons_with_decimal_commas_are_detected(tmp_path):
    path = write_lines(tmp_path / "data.csv", ["x;y;label", "1.5;2;cat", "3;4.25;dog"])
    X, y = load_features(path, label_column="label")
    np.testing.assert_array_equal(X, [[1.5, 2], [3, 4.25]])
    np.testing.assert_array_equal(y, [0, 1])


def test_wrong_delimiter_error_suggests_the_right_one(tmp_path):
    path = write_lines(tmp_path / "data.csv", ["1;2;3", "4;5;6"])
    with pytest.raises(DatasetError, match=r"line 1, column 1: '1;2;3' is not a number \(.*--delimiter ';'"):
        load_features(path, delimiter=",")
    args = build_parser().parse_args(["fit", "--method", "dec", "--data", str(path), "--delimiter", ";"])
    assert load_input(args).X.shape == (2, 3)
    tabs = write_lines(tmp_path / "tabs.csv", ["1\t2", "3\t4"])
    args = build_parser().parse_args(["fit", "--method", "dec", "--data", str(tabs), "--delimiter", "tab"])
    assert load_input(args).X.shape == (2, 2)


def test_a_folder_is_called_a_folder(capsys, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    with pytest.raises(DatasetError, match="inputs: is a folder"):
        load_features(folder)
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(DatasetError, match="data.csv: is a folder"):
        load_labels(tmp_path / "data.csv")
    # the command line reads a folder of .npy shards or .parquet files, and says when it holds neither
    assert "inputs: is a folder holding no .npy or .parquet files" in one_line_error(capsys, ["fit", "--method", "dec", "--data", str(folder), "--out", str(tmp_path / "o")])


def test_blank_label_cell_names_line_and_column(tmp_path):
    path = write_lines(tmp_path / "truth.csv", ["index,label", "0,1", "1,", "2,0"])
    with pytest.raises(DatasetError, match=r'truth.csv: line 3, column "label": blank label'):
        load_labels(path, preferred=("label",))
    features = write_lines(tmp_path / "data.csv", ["a,label", "0.5,1", "0.5, "])
    with pytest.raises(DatasetError, match=r'data.csv: line 3, column "label": blank label'):
        load_features(features, label_column="label")


def test_blank_line_between_labels_is_an_error(capsys, tmp_path):
    truth = write_lines(tmp_path / "truth.csv", ["label", "1", "", "0", "1", "", ""])
    with pytest.raises(DatasetError, match="truth.csv: line 3 is blank"):
        load_labels(truth)
    predicted = write_lines(tmp_path / "labels.csv", ["cluster", "1", "0", "1", "0"])
    assert "truth.csv: line 3 is blank" in one_line_error(capsys, ["evaluate", "--labels", str(predicted),
                                                           "--truth", str(truth)])
    trailing = write_lines(tmp_path / "trailing.csv", ["", "label", "1", "0", "", ""])
    np.testing.assert_array_equal(load_labels(trailing), [1, 0])


@pytest.mark.parametrize("name, reader", [
    ("data.csv", load_features), ("data.npy", load_features), ("data.npz", load_features),
    ("labels.csv", load_labels), ("labels.npy", load_labels),
])
def test_read_errors_name_the_file(tmp_path, monkeypatch, name, reader):
    path = tmp_path / name
    if path.suffix == ".npy":
        np.save(path, np.zeros((2, 2)) if reader is load_features else np.zeros(2))
    elif path.suffix == ".npz":
        np.savez(path, X=np.zeros((2, 2)))
    else:
        write_lines(path, ["1,2", "3,4"] if reader is load_features else ["1", "2"])
    real_open = builtins.open

    def failing_open(file, *args, **kwargs):
        if Path(file) == path:
            raise OSError(28, "No space left on device")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", failing_open)
    monkeypatch.setattr(np, "load", lambda file, *args, **kwargs: failing_open(file))
    with pytest.raises(DatasetError) as info:
        reader(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read") and "No space left on device" in message, message


# ----------------------------------------------------------------------------- noise (13)
def test_npy_features_are_writable_without_touching_the_file(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((3, 2), dtype=np.float32))
    X, _ = load_features(tmp_path / "x.npy")
    assert isinstance(X, np.memmap) and X.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.from_numpy(X)
    X[0, 0] = 5
    assert np.load(tmp_path / "x.npy")[0, 0] == 1


class _WarningUMAP:
    """Behaves like umap-learn's UMAP about n_jobs: a seed with n_jobs != 1 warns."""

    def __init__(self, n_components=2, n_neighbors=15, random_state=None, n_jobs=-1):
        self.random_state, self.n_jobs = random_state, n_jobs

    def fit_transform(self, data):
        if self.n_jobs != 1 and self.random_state is not None:
            warnings.warn(f"n_jobs value {self.n_jobs} overridden to 1 by setting random_state. "
                          "Use no seed for parallelism.", UserWarning)
        return data[:, :2]


def test_seeded_umap_gives_no_n_jobs_warning(monkeypatch):
    monkeypatch.setattr(plotting, "_umap_class", lambda: _WarningUMAP)
    rng = np.random.default_rng(0)
    embedding, labels = rng.normal(size=(40, 5)), np.arange(40) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = plotting.plot_embedding(embedding, labels, method="umap", random_state=0)
    assert figure.axes[0].get_xlabel() == "UMAP 1"


@pytest.fixture
def restore_logging():
    """Undo what ``_configure_logging`` does to the root and package loggers and to warnings."""
    root, package = logging.getLogger(), logging.getLogger("decluster")
    handlers, root_level, package_level = root.handlers[:], root.level, package.level
    formatwarning = warnings.formatwarning
    yield
    root.handlers[:] = handlers
    root.setLevel(root_level)
    package.setLevel(package_level)
    logging.captureWarnings(False)
    warnings.formatwarning = formatwarning


def test_debug_logs_only_decluster(restore_logging):
    _configure_logging(debug=True)
    assert logging.getLogger("decluster.phases").isEnabledFor(logging.DEBUG)
    for name in ("numba", "numba.core.ssa", "matplotlib", "PIL", "urllib3"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
    _configure_logging(debug=False)
    assert not logging.getLogger("decluster.phases").isEnabledFor(logging.INFO)


def test_a_zip_archive_named_npy_is_not_read_as_labels(tmp_path):
    """Found by the fuzz suite: np.load takes bytes starting with PK for an .npz archive."""
    path = tmp_path / "labels.npy"
    path.write_bytes(b"PK\x05\x06")
    with pytest.raises(DatasetError, match="not a .npy file"):
        load_labels(path)
    np.savez(tmp_path / "archive.npz", y=np.arange(3))
    (tmp_path / "archive.npz").rename(path)
    with pytest.raises(DatasetError, match="not a .npy file"):
        load_labels(path)
