"""``decluster fit`` writes the report beside its other outputs; ``decluster report`` writes it for any data."""

import csv
import json
import shutil

import numpy as np
import pytest

from decluster import N2D
from decluster.cli.commands import main
from decluster.report import model_figures

TINY = ["--quiet", "--layer-epochs", "2", "--finetune-epochs", "5", "--max-iter", "100", "--hidden-dims", "32",
        "--embedding-dim", "3", "--n-init", "2", "--random-state", "0", "--device", "cpu", "--plot-points", "150"]
HOSTILE = "<script>alert(1)</script>"
REPORT_FILES = {"report.html", "clusters.csv", "profiles.png", "embedding.png", "training.png"}


def _table(path, rows: int = 240, seed: int = 0):
    """A CSV of 5 features in 3 groups that differ only on "proline" and on a feature named hostilely; no labels."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(3), rows // 3)
    X = rng.normal(size=(len(groups), 5)) * [1, 2, 0.5, 1, 3] + [10, 0, 5, 1, 2]
    X[:, 3] = 700 + 400 * groups + rng.normal(scale=30, size=len(groups))
    X[:, 1] += 6 * groups
    names = ["alcohol", HOSTILE, "ash", "proline", "hue"]
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(names)
        writer.writerows(X.round(4).tolist())
    return path


@pytest.fixture(scope="module")
def table_fit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    data = _table(folder / "wine <b>.csv")
    out = folder / "out"
    assert main(["fit", "--method", "dec", "--data", str(data), "--n-clusters", "3", "--out", str(out), *TINY]) == 0
    return data, out


def test_fit_on_a_table_writes_the_report_and_records_it(table_fit):
    _, out = table_fit
    assert REPORT_FILES <= {path.name for path in out.iterdir()}
    assert "confusion.png" not in {path.name for path in out.iterdir()}  # no labels
    recorded = json.loads((out / "manifest.json").read_text())["files"]
    assert REPORT_FILES <= set(recorded)
    rows = list(csv.DictReader((out / "clusters.csv").open()))
    assert len(rows) == 3 and sum(int(row["size"]) for row in rows) == 240
    extremes = [row for row in rows if abs(float(row["difference_sd_1"])) > 1]
    assert len(extremes) == 2 and {row["feature_1"] for row in extremes} <= {"proline", HOSTILE}
    assert all({row["feature_1"], row["feature_2"]} == {"proline", HOSTILE} for row in extremes)
    proline = [float(row[f"cluster_mean_{rank}"]) for row in extremes for rank in (1, 2)
               if row[f"feature_{rank}"] == "proline"]
    assert sorted(proline) == pytest.approx([700, 1500], abs=60)  # in the file's units, not scaled


def test_the_fit_report_escapes_the_users_names(table_fit):
    _, out = table_fit
    page = (out / "report.html").read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "wine &lt;b&gt;.csv" in page and "<b>" not in page
    assert "decluster fit" in page and "scale" in page and "pretrain" in page


def test_fit_never_replaces_a_report_the_user_changed(table_fit, tmp_path, capsys):
    data, out = table_fit
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "report.html").write_text("my edits")
    assert main(["fit", "--method", "dec", "--data", str(data), "--n-clusters", "3", "--out", str(copy), *TINY]) == 1
    assert "report.html not written by decluster (or changed since)" in capsys.readouterr().err
    assert (copy / "report.html").read_text() == "my edits"


def test_no_plots_writes_no_report(table_fit, tmp_path):
    data, _ = table_fit
    out = tmp_path / "bare"
    assert main(["fit", "--method", "dec", "--data", str(data), "--n-clusters", "3", "--out", str(out), "--no-plots",
                 *TINY]) == 0
    assert not ({"report.html", "clusters.csv"} & {path.name for path in out.iterdir()})


def test_report_on_new_data(table_fit, tmp_path, capsys):
    _, out = table_fit
    new = _table(tmp_path / "new.csv", rows=90, seed=1)
    target = tmp_path / "reports" / "new.html"
    before = (out / "report.html").read_bytes()
    assert main(["report", "--model", str(out / "model"), "--data", str(new), "--out", str(target), "--quiet",
                 "--plot-points", "60"]) == 0
    page = target.read_text()
    assert "decluster report" in page and "90 rows in 3 clusters by DEC" in page and "proline" in page
    assert "new.csv" in page and page.count('src="data:image/png;base64,') == 3  # profiles, embedding, training
    assert (out / "report.html").read_bytes() == before  # the fit's own report is left alone
    assert json.loads((target.parent / "manifest.json").read_text())["files"].keys() == {"new.html"}
    assert main(["report", "--model", str(out / "model"), "--data", str(new), "--out", str(target), "--quiet",
                 "--plot-points", "60"]) == 0  # its own file: replaced
    assert f"wrote {target}" in capsys.readouterr().out


def test_report_output_safety(table_fit, tmp_path, capsys):
    data, out = table_fit
    mine = tmp_path / "mine.html"
    mine.write_text("my notes")
    base = ["report", "--model", str(out / "model"), "--data", str(data), "--quiet"]
    for target, message in ((mine, "was not written by decluster"), (out / "model" / "r.html", "inside the model"),
                            (data, "is an input"), (tmp_path, "is a folder"), (tmp_path / "manifest.json", "record")):
        assert main([*base, "--out", str(target)]) == 1
        assert message in capsys.readouterr().err
    assert mine.read_text() == "my notes"
    assert main([*base, "--out", str(mine), "--overwrite", "--plot-points", "60"]) == 0
    assert mine.read_text().startswith("<!DOCTYPE html>")


def test_report_of_images_shows_the_gallery(tmp_path, digits):
    X, y = digits
    images = tmp_path / "images.npy"
    np.save(images, X[:300].reshape(300, 8, 8))
    out = tmp_path / "out"
    assert main(["fit", "--method", "dec", "--data", str(images), "--n-clusters", "5", "--out", str(out),
                 "--no-plots", *TINY]) == 0
    target = tmp_path / "images.html"
    assert main(["report", "--model", str(out / "model"), "--data", str(images), "--out", str(target),
                 "--quiet", "--plot-points", "60"]) == 0
    page = target.read_text()
    assert "What is in each cluster" in page and "images of</th><td>8 × 8" in page


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_n2d_pictures_fit_the_method(digits):
    pytest.importorskip("umap")
    X, y = digits
    model = N2D(n_clusters=4, hidden_dims=(32,), embedding_dim=4, layer_epochs=2, finetune_epochs=3, n_init=1,
                device="cpu", random_state=0).fit(X[:200])
    figures = model_figures(model, X[:200], model.labels_, model_name="N2D", max_points=100)
    training = figures["training.png"]
    assert training.get_suptitle() == "N2D training"
    assert [ax.get_title() for ax in training.axes] == ["autoencoder pretraining"]
    assert figures["embedding.png"].axes[0].get_title().startswith("N2D embedding")
