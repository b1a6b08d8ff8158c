"""Generated label files: ``evaluate`` aligns rows by their index column, refuses a bad index in
one line, and a label column name that names several columns is refused, never guessed."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decluster.data.files import DatasetError, load_features, load_labels
from decluster.metrics import evaluate
from cli_helpers import run_cli


def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@st.composite
def labellings(draw, min_size: int = 2):
    """True labels, cluster labels and a row order for a labels.csv."""
    n = draw(st.integers(min_value=min_size, max_value=25))
    truth = draw(st.lists(st.integers(0, draw(st.integers(0, 4))), min_size=n, max_size=n))
    clusters = draw(st.lists(st.integers(0, draw(st.integers(0, 4))), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    return truth, clusters, list(order)


def _labels_lines(order: list[int], clusters: list[int], indices: list[str] | None = None) -> list[str]:
    indices = indices or [str(index) for index in order]
    return ["index,cluster,confidence", *(f"{index},{clusters[row]},0.5" for index, row in zip(indices, order))]


def _same(scores: dict, expected) -> bool:
    """Equal scores (NaN equal to NaN), compared through JSON as the command writes them."""
    wanted = {"accuracy": expected.accuracy, "nmi": expected.nmi, "ari": expected.ari}
    return json.dumps(scores, sort_keys=True) == json.dumps(json.loads(json.dumps(wanted)), sort_keys=True)


@fuzz(350)
@given(labellings(), st.booleans())
def test_evaluate_scores_shuffled_rows_as_in_order(case, truth_indexed):
    truth, clusters, order = case
    with tempfile.TemporaryDirectory() as scratch:
        labels = _write(Path(scratch) / "labels.csv", _labels_lines(order, clusters))
        truth_rows = order[::-1] if truth_indexed else range(len(truth))
        truth_lines = (["index,label", *(f"{row},{truth[row]}" for row in truth_rows)] if truth_indexed
                       else ["label", *map(str, truth)])
        truth_file = _write(Path(scratch) / "truth.csv", truth_lines)
        status, out, err = run_cli(["evaluate", "--labels", str(labels), "--truth", str(truth_file), "--json"])
        assert status == 0, err
        assert _same(json.loads(out), evaluate(np.array(truth), np.array(clusters)))
        aligned = load_labels(labels, preferred=("cluster",), align_by_index=True)
        np.testing.assert_array_equal(aligned, clusters)


@st.composite
def bad_indices(draw):
    """A labels.csv order whose index column is not a permutation of 0..n-1, and the fault."""
    truth, clusters, order = draw(labellings())
    indices = [str(index) for index in order]
    n, row = len(order), draw(st.integers(0, len(order) - 1))
    fault = draw(st.sampled_from(["duplicate", "outside", "negative", "text", "blank"]))
    if fault == "duplicate":
        indices[row] = indices[(row + draw(st.integers(1, n - 1))) % n]
    elif fault == "outside":
        indices[row] = str(draw(st.integers(n, 10**30)))
    elif fault == "negative":
        indices[row] = str(draw(st.integers(-10**30, -1)))
    else:
        indices[row] = draw(st.sampled_from(["x", "1.0", "1e3", "nan", "--1"])) if fault == "text" else " "
    return truth, clusters, order, indices


@fuzz(250)
@given(bad_indices())
def test_evaluate_refuses_a_bad_index_in_one_line(case):
    truth, clusters, order, indices = case
    with tempfile.TemporaryDirectory() as scratch:
        labels = _write(Path(scratch) / "labels.csv", _labels_lines(order, clusters, indices))
        truth_file = _write(Path(scratch) / "truth.csv", ["label", *map(str, truth)])
        status, out, err = run_cli(["evaluate", "--labels", str(labels), "--truth", str(truth_file), "--json"])
        assert status == 1 and out == "", err
        assert err.startswith("decluster evaluate: error: ") and err.count("\n") == 1, err
        assert "labels.csv" in err and '"index"' in err, err


@fuzz(450)
@given(st.lists(st.sampled_from("abc"), min_size=2, max_size=6), st.data())
def test_label_column_name_is_unique_or_refused(names, data):
    name = data.draw(st.sampled_from(names))
    columns = [column for column, other in enumerate(names) if other == name]
    values = np.arange(3 * len(names)).reshape(3, len(names)) * 10 + 7  # every value distinct
    lines = [",".join(names), *(",".join(map(str, row)) for row in values)]
    with tempfile.TemporaryDirectory() as scratch:
        path = _write(Path(scratch) / "data.csv", lines)
        if len(columns) == 1:
            X, y = load_features(path, label_column=name)
            np.testing.assert_array_equal(y, values[:, columns[0]])
            np.testing.assert_array_equal(X, np.delete(values, columns[0], axis=1))
            np.testing.assert_array_equal(load_labels(path, column=name), values[:, columns[0]])
            return
        for load in (lambda: load_features(path, label_column=name), lambda: load_labels(path, column=name)):
            with pytest.raises(DatasetError, match=f"data.csv: the column name '{name}' occurs {len(columns)} "
                                                   f"times \\(columns {', '.join(str(c + 1) for c in columns)},"):
                load()
