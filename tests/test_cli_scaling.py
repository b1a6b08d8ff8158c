"""``decluster fit --scale`` and the model's memory of how its data file was read (label column, header)."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_wine

from decluster import DEC
from decluster.cli.commands import build_parser, main
from decluster.cli.runconfig import explicit_parameters, run_options
from decluster.data.preprocessing import fit_scaling

TINY = ["--quiet", "--no-plots", "--hidden-dims", "16", "--embedding-dim", "3", "--layer-epochs", "2",
        "--finetune-epochs", "3", "--n-init", "2", "--max-iter", "20", "--update-interval", "5",
        "--device", "cpu", "--random-state", "0"]
WINE_X, WINE_Y = load_wine(return_X_y=True)  # 178 samples, 13 features from ~0.1 to ~1,700


def _write_table(path: Path, X: np.ndarray, y: np.ndarray | None = None, *, header: bool = True,
                 label_first: bool = False) -> Path:
    names = [f"f{i}" for i in range(X.shape[1])]
    columns = [X] if y is None else ([y[:, None], X] if label_first else [X, y[:, None]])
    names = names if y is None else (["label", *names] if label_first else [*names, "label"])
    np.savetxt(path, np.hstack(columns), delimiter=",", fmt="%.6g", header=",".join(names) if header else "",
               comments="")
    return path


def _fit(out: Path, *args: str) -> Path:
    assert main(["fit", "--method", "dec", "--out", str(out), *TINY, *args]) == 0
    return out


def _predict(model: Path, data: Path, out: Path, *args: str) -> list[list[str]]:
    assert main(["predict", "--model", str(model), "--data", str(data), "--out", str(out), *args]) == 0
    return _rows(out)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as stream:
        return list(csv.reader(stream))


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wine")
    data = _write_table(folder / "wine.csv", WINE_X, WINE_Y)
    return data, _fit(folder / "out", "--data", str(data), "--label-column", "label")


def test_default_scaling_of_a_data_file_is_standard_and_saved(wine_run):
    data, out = wine_run
    assert json.loads((out / "metrics.json").read_text())["scale"] == "standard"
    assert 'scale = "standard"' in (out / "config.toml").read_text()
    spec = DEC.load(out / "model", device="cpu").input_spec_
    assert spec.label_column == "label" and spec.header == "auto" and spec.scaling.kind == "standard"
    expected = fit_scaling(WINE_X.astype(np.float32), "standard")
    np.testing.assert_allclose(spec.scaling.offset, expected.offset, rtol=1e-6)
    np.testing.assert_allclose(spec.scaling.factor, expected.factor, rtol=1e-6)


def test_predict_on_the_training_file_reproduces_the_labels(wine_run, tmp_path):
    data, out = wine_run
    assert _predict(out / "model", data, tmp_path / "again.csv") == _rows(out / "labels.csv")


def test_predict_on_a_file_without_the_label_column(wine_run, tmp_path):
    data, out = wine_run
    for header in (True, False):
        features = _write_table(tmp_path / f"features-{header}.csv", WINE_X, header=header)
        assert _predict(out / "model", features, tmp_path / "p.csv") == _rows(out / "labels.csv")


def test_predict_scales_as_the_fit_did(wine_run, tmp_path):
    data, out = wine_run
    model = DEC.load(out / "model", device="cpu")
    scaled = model.input_spec_.scaling.apply(WINE_X.astype(np.float32))
    clusters = [int(row[1]) for row in _predict(out / "model", data, tmp_path / "p.csv")[1:]]
    assert clusters == model.predict(scaled).tolist()
    assert clusters != model.predict(WINE_X.astype(np.float32)).tolist()  # raw units would differ


def test_plot_reads_and_scales_the_training_file(wine_run, tmp_path):
    data, out = wine_run
    assert main(["plot", "--quiet", "--model", str(out / "model"), "--data", str(data),
                 "--out", str(tmp_path / "plots"), "--plot-points", "100"]) == 0
    assert (tmp_path / "plots" / "confusion.png").is_file()  # the labels came from the saved column


def test_label_column_by_index_without_header(tmp_path):
    data = _write_table(tmp_path / "wine.csv", WINE_X, WINE_Y, header=False, label_first=True)
    out = _fit(tmp_path / "out", "--data", str(data), "--label-column", "0", "--header", "no", "--scale", "minmax")
    spec = DEC.load(out / "model", device="cpu").input_spec_
    assert spec.label_column == 0 and spec.header is False and spec.scaling.kind == "minmax"
    labels = _rows(out / "labels.csv")
    assert _predict(out / "model", data, tmp_path / "same.csv") == labels
    features = _write_table(tmp_path / "features.csv", WINE_X, header=False)
    assert _predict(out / "model", features, tmp_path / "features-out.csv") == labels


def test_wrong_width_is_still_one_clear_error(wine_run, tmp_path, capsys):
    data, out = wine_run
    wide = _write_table(tmp_path / "wide.csv", np.hstack([WINE_X, WINE_X[:, :3]]))
    assert main(["predict", "--model", str(out / "model"), "--data", str(wide)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "16 features" in error and "13" in error


def test_named_data_sets_are_not_rescaled_by_default(tmp_path):
    out = _fit(tmp_path / "out", "--dataset", "digits", "--max-iter", "5")
    assert json.loads((out / "metrics.json").read_text())["scale"] == "none"
    spec = DEC.load(out / "model", device="cpu").input_spec_
    assert spec.scaling.kind == "none" and spec.label_column is None


def test_config_file_reproduces_the_scaling(wine_run, tmp_path):
    _, out = wine_run
    args = build_parser().parse_args(["fit", "--config", str(out / "config.toml")])
    assert run_options(args) == {"scale": "standard", "method": "dec"} and "scale" not in explicit_parameters(args)
    args = build_parser().parse_args(["fit", "--config", str(out / "config.toml"), "--scale", "minmax"])
    assert run_options(args) == {"scale": "minmax", "method": "dec"}
    assert run_options(build_parser().parse_args(["fit"])) == {"scale": "auto", "method": "auto"}


def test_bad_scale_values(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('scale = "log"\n')
    assert main(["fit", "--method", "dec", "--config", str(config), "--out", str(tmp_path / "o")]) == 1
    error = capsys.readouterr().err
    assert "run.toml" in error and "scale must be one of" in error and not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--method", "dec", "--scale", "log"])
    assert stop.value.code == 2
