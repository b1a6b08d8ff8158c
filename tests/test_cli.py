"""The ``decluster`` command: the real console script end to end, and every error as one line."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from decluster.cli.commands import build_parser, main
from decluster.cli.runconfig import explicit_parameters

SCRIPT = Path(sys.executable).parent / "decluster"
FAST_FLAGS = [
    "--hidden-dims", "128", "128", "--layer-epochs", "5", "--finetune-epochs", "40", "--pretrain-lr", "0.003",
    "--pretrain-batch-size", "32", "--n-init", "5", "--update-interval", "20", "--max-iter", "300",
    "--batch-size", "64", "--device", "cpu", "--random-state", "0",
]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def read_column(path: Path, column: str) -> list[str]:
    with path.open(newline="") as stream:
        return [row[column] for row in csv.DictReader(stream)]


@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run("fit", "--method", "dec", "--out", str(out), "--quiet", "--plot-points", "300", *FAST_FLAGS)
    return out, result


def test_fit_on_digits_by_default_writes_everything(fitted_run):
    out, result = fitted_run
    for name in ("model/config.json", "labels.csv", "metrics.json", "config.toml",
                 "embedding.png", "training.png", "confusion.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == "digits" and metrics["n_samples"] == 1797 and metrics["n_clusters"] == 10
    assert metrics["accuracy"] > 0.6
    assert "ACC" in result.stdout
    # the short schedule stops at max_iter: its ConvergenceWarning is one plain line
    assert all(line.startswith("decluster: WARNING: ") for line in result.stderr.splitlines())
    confidence = np.array(read_column(out / "labels.csv", "confidence"), dtype=float)
    assert len(confidence) == 1797 and (confidence > 0.09).all() and (confidence <= 1).all()


def test_saved_config_reruns_the_same_parameters(fitted_run):
    out, _ = fitted_run
    args = build_parser().parse_args(["fit", "--config", str(out / "config.toml")])
    parameters = explicit_parameters(args)
    assert parameters["hidden_dims"] == (128, 128) and parameters["random_state"] == 0
    assert parameters["update_interval"] == 20


def test_predict_evaluate_and_plot_from_the_saved_model(fitted_run, tmp_path):
    out, _ = fitted_run
    predictions = tmp_path / "predictions.csv"
    run("predict", "--model", str(out / "model"), "--dataset", "digits", "--out", str(predictions), "--proba")
    assert read_column(predictions, "cluster") == read_column(out / "labels.csv", "cluster")
    with predictions.open() as stream:
        assert next(csv.reader(stream))[-1] == "q_9"
    result = run("evaluate", "--labels", str(predictions), "--dataset", "digits", "--json")
    metrics = json.loads((out / "metrics.json").read_text())
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(metrics["accuracy"])
    run("plot", "--model", str(out / "model"), "--dataset", "digits", "--out", str(tmp_path / "plots"),
        "--plot-points", "200")
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"embedding.png", "training.png", "confusion.png",
                                                               "manifest.json"}


def test_user_csv_with_labels_and_stdout_predictions(fitted_run, tmp_path):
    out, _ = fitted_run
    X, y = load_digits(return_X_y=True)
    data = tmp_path / "digits.csv"
    header = ",".join([f"p{i}" for i in range(64)] + ["digit"])
    np.savetxt(data, np.column_stack([X[:50] / 16.0, y[:50]]), delimiter=",", header=header, comments="")
    result = run("predict", "--model", str(out / "model"), "--data", str(data), "--label-column", "digit")
    lines = result.stdout.splitlines()
    assert lines[0] == "index,cluster,confidence" and len(lines) == 51


def test_datasets_lists_the_named_sets():
    result = run("datasets")
    for name in ("digits", "mnist", "fashion-mnist", "usps", "reuters10k"):
        assert name in result.stdout


def test_script_error_is_one_line_without_traceback(tmp_path):
    result = run("fit", "--method", "dec", "--data", str(tmp_path / "absent.npy"), check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "absent.npy" in result.stderr


# ----------------------------------------------------------------- errors, in process
def _write_csv(path: Path, rows: list[list]) -> Path:
    path.write_text("\n".join(",".join(map(str, row)) for row in rows) + "\n")
    return path


def expect_error(capsys, argv: list[str], *fragments: str) -> str:
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"decluster {argv[0]}: error: ") and error.count("\n") == 1, error
    for fragment in fragments:
        assert fragment in error, error
    return error


def test_missing_file(capsys, tmp_path):
    expect_error(capsys, ["fit", "--method", "dec", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")], "nope.csv")
    assert not (tmp_path / "o").exists()


def test_non_numeric_csv_cell(capsys, tmp_path):
    data = _write_csv(tmp_path / "bad.csv", [["a", "b"], [1, 2], [3, "x"]])
    expect_error(capsys, ["fit", "--method", "dec", "--data", str(data), "--out", str(tmp_path / "o")], "bad.csv", "'x'")


def test_nan_in_data(capsys, tmp_path):
    data = tmp_path / "nan.npy"
    values = np.ones((20, 3))
    values[4, 1] = np.nan
    np.save(data, values)
    expect_error(capsys, ["fit", "--method", "dec", "--data", str(data), "--out", str(tmp_path / "o")], "NaN")
    assert not (tmp_path / "o").exists()


def test_more_clusters_than_samples(capsys, tmp_path):
    data = tmp_path / "small.npy"
    np.save(data, np.random.default_rng(0).normal(size=(5, 3)))
    expect_error(capsys, ["fit", "--method", "dec", "--data", str(data), "--n-clusters", "8", "--out", str(tmp_path / "o")],
                 "n_clusters=8")


def test_bad_parameter_value(capsys, tmp_path):
    expect_error(capsys, ["fit", "--method", "dec", "--dropout", "1.5", "--out", str(tmp_path / "o")], "dropout")


def test_unknown_dataset(capsys, tmp_path):
    expect_error(capsys, ["fit", "--method", "dec", "--dataset", "imagenet", "--out", str(tmp_path / "o")], "imagenet", "mnist")


def test_bad_config_files(capsys, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("tol = = 3\n")
    expect_error(capsys, ["fit", "--method", "dec", "--config", str(broken)], "broken.toml")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("learning_speed = 3\n")
    expect_error(capsys, ["fit", "--method", "dec", "--config", str(unknown)], "learning_speed")


def test_config_and_flag_precedence(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('tol = 0.01\nhidden_dims = [32, 16]\npretrain = "end-to-end"\n')
    args = build_parser().parse_args(["fit", "--config", str(config), "--tol", "0.05"])
    assert explicit_parameters(args) == {"tol": 0.05, "hidden_dims": (32, 16), "pretrain": "end-to-end"}


def test_corrupt_model_folder(capsys, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{broken")
    expect_error(capsys, ["predict", "--model", str(model), "--dataset", "digits"], "config.json")


def test_wrong_feature_count_for_model(capsys, fitted_run, tmp_path):
    out, _ = fitted_run
    data = _write_csv(tmp_path / "three.csv", [[1, 2, 3], [4, 5, 6]])
    expect_error(capsys, ["predict", "--model", str(out / "model"), "--data", str(data)], "3 features")


def test_evaluate_length_mismatch(capsys, tmp_path):
    labels = _write_csv(tmp_path / "labels.csv", [["index", "cluster"], [0, 1], [1, 0]])
    truth = _write_csv(tmp_path / "truth.csv", [["label"], [1], [0], [1]])
    expect_error(capsys, ["evaluate", "--labels", str(labels), "--truth", str(truth)], "2 predicted", "3 true")


def test_usage_errors_exit_with_status_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--method", "dec", "--n-clusters", "many"])
    assert stop.value.code == 2
    with pytest.raises(SystemExit) as stop:
        main(["predict", "--dataset", "digits"])
    assert stop.value.code == 2
