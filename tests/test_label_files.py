"""Label and truth files: alignment by an index column, ambiguous column names, missing labels,
continuous labels and decimal commas."""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from decluster.cli.commands import main
from decluster.data.files import DatasetError, labels_look_continuous, load_features, load_labels
from cli_helpers import one_line_error, write_lines


def _scores(capsys, argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# ----------------------------------------------------------------------------- 1. index alignment
TRUTH = [0, 0, 1, 1, 2, 2, 0, 1]


def _labels_csv(path: Path, order: list[int], clusters: list[int]) -> Path:
    rows = [f"{index},{clusters[index]},0.9" for index in order]
    return write_lines(path, ["index,cluster,confidence", *rows])


def test_evaluate_aligns_shuffled_labels_by_their_index(capsys, tmp_path):
    truth = write_lines(tmp_path / "truth.csv", ["label", *map(str, TRUTH)])
    clusters = [(label + 1) % 3 for label in TRUTH]  # a relabelling: a perfect clustering
    shuffled = _labels_csv(tmp_path / "labels.csv", [5, 2, 7, 0, 3, 6, 1, 4], clusters)
    scores = _scores(capsys, ["evaluate", "--labels", str(shuffled), "--truth", str(truth)])
    assert scores == {"accuracy": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}


def test_evaluate_aligns_a_truth_file_with_an_index_column(capsys, tmp_path):
    order = [3, 0, 7, 1, 6, 2, 5, 4]
    truth = write_lines(tmp_path / "truth.csv", ["index,label", *(f"{i},{TRUTH[i]}" for i in order)])
    labels = _labels_csv(tmp_path / "labels.csv", list(range(8)), TRUTH)
    scores = _scores(capsys, ["evaluate", "--labels", str(labels), "--truth", str(truth)])
    assert scores["accuracy"] == 1.0


def test_load_labels_align_by_index(tmp_path):
    path = write_lines(tmp_path / "labels.csv", ["index,cluster", "2,7", "0,5", "1,6"])
    np.testing.assert_array_equal(load_labels(path, preferred=("cluster",)), [7, 5, 6])
    np.testing.assert_array_equal(load_labels(path, preferred=("cluster",), align_by_index=True), [5, 6, 7])
    np.testing.assert_array_equal(load_labels(path, column=1, align_by_index=True), [5, 6, 7])
    no_index = write_lines(tmp_path / "plain.csv", ["id,cluster", "2,7", "0,5"])
    np.testing.assert_array_equal(load_labels(no_index, column="cluster", align_by_index=True), [7, 5])


@pytest.mark.parametrize("rows, message", [
    (["0,1", "1,1", "1,0"], r'labels.csv: line 4, column "index": index 1 occurs twice \(first on line 3\)'),
    (["0,1", "1,1", "3,0"], r'labels.csv: line 4, column "index": index 3 is outside 0..2 .*index 2 is missing'),
    (["0,1", "-1,1", "2,0"], r'labels.csv: line 3, column "index": index -1 is outside 0..2 .*index 1 is missing'),
    (["0,1", "x,1", "2,0"], r'labels.csv: line 3, column "index": \'x\' is not an integer index'),
    (["0,1", "1.0,1", "2,0"], r'labels.csv: line 3, column "index": \'1.0\' is not an integer index'),
    (["0,1", ",1", "2,0"], r'labels.csv: line 3, column "index": blank index'),
])
def test_bad_index_column_is_an_error_naming_the_file(capsys, tmp_path, rows, message):
    labels = write_lines(tmp_path / "labels.csv", ["index,cluster", *rows])
    with pytest.raises(DatasetError, match=message):
        load_labels(labels, preferred=("cluster",), align_by_index=True)
    truth = write_lines(tmp_path / "truth.csv", ["0", "1", "1"])
    error = one_line_error(capsys, ["evaluate", "--labels", str(labels), "--truth", str(truth)])
    assert "labels.csv" in error and "index" in error


def test_duplicate_index_column_is_ambiguous(tmp_path):
    path = write_lines(tmp_path / "labels.csv", ["index,index,cluster", "0,1,1", "1,0,1"])
    with pytest.raises(DatasetError, match=r"labels.csv: the column name 'index' occurs 2 times \(columns 1, 2"):
        load_labels(path, preferred=("cluster",), align_by_index=True)


# ----------------------------------------------------------------------------- 2. duplicate names
def test_duplicate_label_column_name_is_an_error(tmp_path):
    path = write_lines(tmp_path / "data.csv", ["a,a,b,b,e,label", "1,2,3,4,5,0", "6,7,8,9,10,1"])
    with pytest.raises(DatasetError, match=r"data.csv: the column name 'a' occurs 2 times \(columns 1, 2"):
        load_features(path, label_column="a")
    X, y = load_features(path, label_column="label")  # duplicates elsewhere are fine
    np.testing.assert_array_equal(X, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    np.testing.assert_array_equal(y, [0, 1])
    X, y = load_features(path, label_column=0)  # an index is not ambiguous
    np.testing.assert_array_equal(y, [1, 6])


def test_duplicate_label_names_in_label_files(tmp_path):
    path = write_lines(tmp_path / "labels.csv", ["cluster,x,cluster", "0,1,1", "1,2,0"])
    with pytest.raises(DatasetError, match=r"labels.csv: the column name 'cluster' occurs 2 times \(columns 1, 3"):
        load_labels(path, preferred=("cluster",))
    with pytest.raises(DatasetError, match="'cluster' occurs 2 times"):
        load_labels(path, column="cluster")
    np.testing.assert_array_equal(load_labels(path, column="x"), [1, 2])
    np.testing.assert_array_equal(load_labels(path, column=2), [1, 0])


# ----------------------------------------------------------------------------- 3. missing labels
@pytest.mark.parametrize("cell", ["nan", "NaN", "-nan", "+NAN", " nan "])
def test_nan_label_is_an_error(capsys, tmp_path, cell):
    truth = write_lines(tmp_path / "truth.csv", ["label", "0", cell, "1"])
    with pytest.raises(DatasetError, match=r'truth.csv: line 3, column "label": a missing label \(' + re.escape(cell.strip())):
        load_labels(truth, preferred=("label",))
    predicted = write_lines(tmp_path / "predicted.csv", ["0", "1", "1"])
    assert "missing label" in one_line_error(capsys, ["evaluate", "--labels", str(predicted), "--truth", str(truth)])
    data = write_lines(tmp_path / "data.csv", ["x,y", "1,0", f"2,{cell}", "3,1"])
    with pytest.raises(DatasetError, match=r'data.csv: line 3, column "y": a missing label'):
        load_features(data, label_column="y")
    bare = write_lines(tmp_path / "bare.csv", ["1,0", "3,1", f"2,{cell}"])
    with pytest.raises(DatasetError, match=r"bare.csv: line 3, column 2: a missing label"):
        load_features(bare, label_column=1, header=False)


@pytest.mark.parametrize("cell", ["NA", "n/a", "NULL", "None"])
def test_missing_value_markers_among_numbers_are_errors(tmp_path, cell):
    truth = write_lines(tmp_path / "truth.csv", ["label", "0", "1", cell, "1"])
    with pytest.raises(DatasetError, match=rf'truth.csv: line 4, column "label": a missing label \({cell}\)'):
        load_labels(truth)
    data = write_lines(tmp_path / "data.csv", ["x,y", "1,0", f"2,{cell}", "3,1"])
    with pytest.raises(DatasetError, match=r'line 3, column "y": a missing label'):
        load_features(data, label_column="y")


def test_missing_value_markers_among_words_are_classes(tmp_path):
    truth = write_lines(tmp_path / "truth.csv", ["region", "EU", "NA", "EU", "None"])
    np.testing.assert_array_equal(load_labels(truth), [0, 1, 0, 2])


def test_nan_in_text_npy_labels_is_an_error(tmp_path):
    np.save(tmp_path / "y.npy", np.array(["a", "NaN", "b"]))
    with pytest.raises(DatasetError, match=r"y.npy: label 1 \(counted from 0\) is 'NaN', a missing label"):
        load_labels(tmp_path / "y.npy")
    np.save(tmp_path / "f.npy", np.array([0.0, np.nan]))
    with pytest.raises(DatasetError, match="f.npy: label 1"):
        load_labels(tmp_path / "f.npy")


# ----------------------------------------------------------------------------- 4. continuous labels
@pytest.mark.parametrize("y, expected", [
    (np.arange(20) % 10, False),              # 10 classes over 20 rows
    (np.linspace(0, 1, 200), True),            # 200 distinct floats over 200 rows
    (np.arange(19), False),                    # one per row, but too few to tell
    (np.arange(20), True),
    (np.arange(40) // 2, False),               # 20 distinct over 40 rows: exactly half
    (np.r_[np.arange(21), np.zeros(19)], True),  # 21 distinct over 40 rows
    (np.arange(10_000) % 100, False),
    (np.array([], dtype=np.int64), False),
    (np.array([f"id{i}" for i in range(50)]), True),
])
def test_labels_look_continuous(y, expected):
    assert labels_look_continuous(y) is expected


def test_evaluate_warns_of_continuous_truth(capsys, tmp_path, caplog):
    truth = write_lines(tmp_path / "truth.csv", ["label", *(f"{0.5 + i}" for i in range(30))])
    predicted = write_lines(tmp_path / "predicted.csv", [str(i % 3) for i in range(30)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["evaluate", "--labels", str(predicted), "--truth", str(truth)]) == 0
    assert "look continuous" in capsys.readouterr().err + caplog.text + " ".join(str(w.message) for w in caught)
    classes = write_lines(tmp_path / "classes.csv", ["label", *(str(i % 3) for i in range(30))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["evaluate", "--labels", str(predicted), "--truth", str(classes)]) == 0


# ----------------------------------------------------------------------------- 5. decimal commas
def test_semicolon_file_read_with_commas_suggests_semicolons(tmp_path):
    path = write_lines(tmp_path / "data.csv", ["1;2;3", "4;5;6"])
    with pytest.raises(DatasetError, match=r"'1;2;3' is not a number \(if ';' separates the columns, "
                                           r"pass --delimiter ';'") as caught:
        load_features(path, delimiter=",")
    assert "decimal" not in str(caught.value)


@pytest.mark.parametrize("lines, options", [
    (["1,5;2,25;3,0", "4,5;5,0;6,75"], {}),                     # detected as ',' (both split evenly)
    (["1,5;2,25;3,0", "4,5;5,0;6,75"], {"delimiter": ";"}),
    (["1,5;2,25;3,0", "4,5;5,0;6,75"], {"delimiter": ","}),
    (["1,5\t2,25\t3,0", "4,5\t5,0\t6,75"], {}),
    (["1,5\t2,25\t3,0", "4,5\t5,0\t6,75"], {"delimiter": "\t"}),
    (['"1,5",2', '"4,5",5'], {}),                               # quoted in a comma-separated file
])
def test_decimal_comma_error_says_so(tmp_path, lines, options):
    path = write_lines(tmp_path / "data.csv", lines)
    with pytest.raises(DatasetError, match=r"data.csv: line 1, column \d+: .* is not a number "
                                           r"\(decimal commas are not supported") as caught:
        load_features(path, **options)
    message = str(caught.value)
    assert "--delimiter ','" not in message and "dots" in message and "\n" not in message


def test_decimal_comma_with_wrong_delimiter_names_the_right_one(tmp_path):
    path = write_lines(tmp_path / "data.csv", ["1,5;2,25;3,0", "4,5;5,0;6,75"])
    with pytest.raises(DatasetError, match=r"decimal commas .*--delimiter ';'"):
        load_features(path)


def test_text_that_merely_contains_a_delimiter_gets_no_delimiter_hint(tmp_path):
    path = write_lines(tmp_path / "data.csv", ["1,a;b", "2,3"])
    with pytest.raises(DatasetError, match=r"'a;b' is not a number$"):
        load_features(path, header=False)
