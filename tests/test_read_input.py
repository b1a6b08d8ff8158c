"""``read_input``: the one reader of data files that the command line and Python share, and the
command line on Parquet, Feather, compressed CSV and Parquet folders."""

import csv
import gzip
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from sklearn.datasets import load_wine

from decluster import DEC
from decluster.cli.commands import main
from decluster.data import InputData, read_input
from decluster.data.errors import DatasetError
from decluster.data.npy_rows import NpyRows

TINY = ["--quiet", "--no-plots", "--method", "dec", "--hidden-dims", "16", "--embedding-dim", "3", "--layer-epochs",
        "2", "--finetune-epochs", "3", "--n-init", "2", "--max-iter", "20", "--update-interval", "5",
        "--device", "cpu", "--random-state", "0"]
WINE_X, WINE_Y = load_wine(return_X_y=True)


def _wine_frame(with_label: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame(WINE_X, columns=[f"f{j}" for j in range(WINE_X.shape[1])])
    if with_label:
        frame["label"] = WINE_Y
    return frame


def _write(frame: pd.DataFrame, folder, kind: str):
    if kind == "parquet":
        path = folder / "wine.parquet"
        frame.to_parquet(path)
    elif kind == "feather":
        path = folder / "wine.feather"
        feather.write_feather(pa.Table.from_pandas(frame, preserve_index=False), path)
    elif kind == "folder":
        path = folder / "wine-parts"
        path.mkdir()
        for number, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
            frame.iloc[part].to_parquet(path / f"part-{number}.parquet")
    else:
        path = folder / f"wine.{kind}"
        text = frame.to_csv(index=False).encode()
        path.write_bytes(gzip.compress(text) if kind == "csv.gz" else text)
    return path


def _clusters(path) -> list[int]:
    with open(path, newline="") as stream:
        return [int(row["cluster"]) for row in csv.DictReader(stream)]


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    """``decluster fit --data`` on the wine table (with its labels) as each kind of file."""
    folder = tmp_path_factory.mktemp("wine")
    runs = {}
    for kind in ("parquet", "feather", "folder", "csv", "csv.gz"):
        data, out = _write(_wine_frame(), folder, kind), folder / f"out-{kind}"
        assert main(["fit", "--data", str(data), "--label-column", "label", "--out", str(out), *TINY]) == 0
        runs[kind] = data, out
    return runs


def test_the_command_line_fits_parquet_feather_compressed_csv_and_parquet_folders(fits):
    labels = {kind: _clusters(out / "labels.csv") for kind, (_, out) in fits.items()}
    assert labels["feather"] == labels["parquet"] == labels["folder"]  # the same float32 values
    assert labels["csv.gz"] == labels["csv"]
    for kind, (data, out) in fits.items():
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["n_samples"] == 178 and metrics["n_features"] == 13 and metrics["n_clusters"] == 3, kind
        assert metrics["scale"] == "standard" and "accuracy" in metrics and metrics["data"] == str(data)
        spec = DEC.load(out / "model", device="cpu").input_spec_
        assert spec.label_column == "label" and spec.scaling.kind == "standard"


@pytest.mark.parametrize("kind", ["parquet", "folder", "csv.gz"])
def test_read_input_like_a_model_is_what_predict_writes(fits, tmp_path, kind):
    data, out = fits[kind]
    model = DEC.load(out / "model", device="cpu")
    assert main(["predict", "--model", str(out / "model"), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 0
    read = read_input(data, like=model)
    assert read.label_column == "label" and np.array_equal(read.y, WINE_Y)
    assert model.predict(read.X).tolist() == _clusters(tmp_path / "p.csv") == _clusters(out / "labels.csv")
    np.testing.assert_allclose(read.X, model.input_spec_.scaling.apply(WINE_X.astype(np.float32)), rtol=1e-5)
    features_only = _write(_wine_frame(with_label=False), tmp_path, kind)  # no label column: read without one
    again = read_input(features_only, like=model)
    assert again.y is None and again.label_column is None and np.array_equal(again.X, read.X)


def test_a_wrong_width_is_named_by_the_model(fits, tmp_path):
    _, out = fits["parquet"]
    narrow = _write(_wine_frame(with_label=False).iloc[:, :5], tmp_path, "parquet")
    with pytest.raises(ValueError, match="X has 5 features, but DEC is expecting 13 features"):
        read_input(narrow, like=DEC.load(out / "model", device="cpu"))


def test_what_read_input_returns_for_each_kind_of_input(tmp_path, digits):
    X = digits[0][:50]
    np.save(tmp_path / "rows.npy", X)
    (tmp_path / "shards").mkdir()
    np.save(tmp_path / "shards" / "0.npy", X[:20].reshape(20, 8, 8))
    np.save(tmp_path / "shards" / "1.npy", X[20:].reshape(30, 8, 8))
    np.savez(tmp_path / "images.npz", X=X.reshape(50, 8, 8), y=np.arange(50) % 3)
    (tmp_path / "table.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    data = read_input(tmp_path / "rows.npy")
    assert isinstance(data, InputData) and isinstance(data.X, NpyRows) and data.feature_names is None
    shards = read_input(tmp_path / "shards")
    assert isinstance(shards.X, NpyRows) and shards.X.shape == (50, 64) and shards.image_shape == (8, 8)
    images = read_input(tmp_path / "images.npz")
    assert images.image_shape == (8, 8) and images.y.tolist() == (np.arange(50) % 3).tolist()
    table = read_input(tmp_path / "table.csv", label_column="label", header=True)
    assert table.feature_names == ["a", "b"] and table.y.tolist() == [0, 1] and table.header is True
    assert table.source == str(tmp_path / "table.csv") and table.label_column == "label"
    split = read_input(tmp_path / "rows.npy", label_column=-1)  # a label column copies the rest into memory
    assert isinstance(split.X, np.ndarray) and split.X.shape == (50, 63)
    with pytest.raises(DatasetError, match="shards: is a folder of .npy shards, which have no label column"):
        read_input(tmp_path / "shards", label_column=0)


def test_a_model_saved_from_python_gets_the_data_as_they_are(tmp_path, fitted_dec, digits):
    np.save(tmp_path / "rows.npy", digits[0][:40])
    data = read_input(tmp_path / "rows.npy", like=fitted_dec)
    assert np.array_equal(np.concatenate(list(data.X.blocks())), digits[0][:40])


def test_the_command_line_predicts_on_a_parquet_folder_with_one_line_errors(fits, tmp_path, capsys):
    data, out = fits["folder"]
    assert main(["predict", "--model", str(out / "model"), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 0
    assert _clusters(tmp_path / "p.csv") == _clusters(out / "labels.csv")
    broken = tmp_path / "broken"
    broken.mkdir()
    _wine_frame().to_parquet(broken / "0.parquet")
    _wine_frame().rename(columns={"f0": "g0"}).to_parquet(broken / "1.parquet")
    assert main(["predict", "--model", str(out / "model"), "--data", str(broken)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "1.parquet: other columns" in error
