"""MergeIDEC: k found while the clustering phase trains, through the loop, checkpoints (kill and
resume), persistence and predict."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from decluster import IDEC, MergeIDEC
from decluster.io.model_folder import read_model
from decluster.training.checkpoint import CHECKPOINT_KIND

CHILD = Path(__file__).with_name("fit_child.py")
# Small, and long enough for merges before the kill and updates after it.
PARAMS = dict(estimator="MergeIDEC", hidden_dims=[64, 64], layer_epochs=4, finetune_epochs=6, pretrain_lr=3e-3,
              pretrain_batch_size=32, n_init=3, update_interval=15, max_iter=120, batch_size=64,
              device="cpu", random_state=3)
FAST = {name: value for name, value in PARAMS.items() if name != "estimator"} | {"hidden_dims": (64, 64)}


def run_child(data: Path, checkpoint_dir: Path | None, kill_at: str | None, resume: bool, out: Path):
    command = [sys.executable, str(CHILD), str(data), json.dumps(PARAMS), str(checkpoint_dir or "-"),
               kill_at or "-", "1" if resume else "0", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return MergeIDEC(**FAST).fit(X[:500])


def test_k_changes_while_it_trains(fitted, digits):
    X, _ = digits
    history = fitted.history_
    assert history.n_clusters[0] < 30  # started from 30 (500 rows // 10, capped at the range's 30): merged
    assert history.n_clusters == sorted(history.n_clusters, reverse=True)  # merging only ever lowers k
    assert fitted.n_clusters_ == history.n_clusters[-1] == len(fitted.cluster_centers_) >= 2
    assert fitted.labels_.max() < fitted.n_clusters_
    assert fitted.predict_proba(X[:500]).shape == (500, fitted.n_clusters_)
    np.testing.assert_array_equal(fitted.predict(X[:500]), fitted.labels_)
    assert fitted.k_selection_ is None


def test_a_known_k_is_reached_by_merging(digits):
    X, _ = digits
    model = MergeIDEC(n_clusters=7, **FAST).fit(X[:500])
    assert model.n_clusters_ == 7 == len(model.cluster_centers_)
    assert set(np.unique(model.labels_)) <= set(range(7))


def test_saved_and_loaded_with_the_found_k(fitted, digits, tmp_path):
    X, _ = digits
    fitted.save(tmp_path / "model")
    loaded = MergeIDEC.load(tmp_path / "model", device="cpu")
    assert loaded.n_clusters == "auto" and loaded.n_clusters_ == fitted.n_clusters_
    assert loaded.history_.n_clusters == fitted.history_.n_clusters
    np.testing.assert_array_equal(loaded.predict(X[:500]), fitted.labels_)


def test_parameters_are_idecs_by_inheritance():
    model = MergeIDEC(merge_threshold=0.1, gamma=0.2, n_init=4)
    params = model.get_params()
    assert set(IDEC().get_params()) | {"merge_threshold", "merge_neighbors"} == set(params)
    assert params["n_clusters"] == "auto" and params["gamma"] == 0.2 and params["n_init"] == 4
    copied = clone(model)
    assert copied.get_params() == params


@pytest.mark.parametrize("bad, message", [({"merge_threshold": 0.0}, "merge_threshold"),
                                          ({"merge_threshold": 1.5}, "merge_threshold"),
                                          ({"merge_neighbors": 0}, "merge_neighbors")])
def test_bad_merge_parameters_are_clear_errors(digits, bad, message):
    with pytest.raises(ValueError, match=message):
        MergeIDEC(**bad).fit(digits[0][:50])


def test_sigkill_after_a_merge_then_resume_gives_the_same_labels(digits, tmp_path):
    data = tmp_path / "digits.npy"
    np.save(data, digits[0][:500])
    reference, out, checkpoints = tmp_path / "reference.npy", tmp_path / "labels.npy", tmp_path / "checkpoints"
    assert run_child(data, None, None, False, reference).returncode == 0
    k_after_updates = json.loads(Path(f"{reference}.json").read_text())["history"]
    assert k_after_updates[0] < 30  # merged at the first update (iteration 15), long before the kill
    killed = run_child(data, checkpoints, "iteration 45:", False, out)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    saved = read_model(checkpoints, kind=CHECKPOINT_KIND).tensors
    centers = [tensor for name, tensor in saved.items() if name.endswith("centers") and "initial" not in name]
    assert centers and all(len(tensor) < 30 for tensor in centers)  # the checkpoint holds the merged k
    resumed = run_child(data, checkpoints, None, True, out)
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_array_equal(np.load(out), np.load(reference))
    assert json.loads(Path(f"{out}.json").read_text()) == json.loads(Path(f"{reference}.json").read_text())


def test_the_command_line_finds_k_even_with_labels(digits, tmp_path):
    from decluster.cli.commands import load_model, main

    X, y = digits
    data = tmp_path / "digits.csv"
    np.savetxt(data, np.column_stack([X[:500], y[:500]]), delimiter=",", fmt="%g")
    out = tmp_path / "run"
    flags = ["--hidden-dims", "64", "64", "--layer-epochs", "4", "--finetune-epochs", "6", "--pretrain-lr", "0.003",
             "--pretrain-batch-size", "32", "--n-init", "3", "--update-interval", "15", "--max-iter", "120",
             "--batch-size", "64", "--random-state", "3", "--device", "cpu"]
    assert main(["fit", "--method", "merge-idec", "--data", str(data), "--label-column", "-1", "--quiet",
                 "--no-plots", "--out", str(out), *flags]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    model = load_model(out / "model")
    assert type(model) is MergeIDEC and model.n_clusters == "auto"  # the labels did not set k
    assert metrics["n_clusters"] == model.n_clusters_ < 30 and "accuracy" in metrics
    assert 'method = "merge-idec"' in (out / "config.toml").read_text()
    predictions = tmp_path / "p.csv"
    assert main(["predict", "--model", str(out / "model"), "--data", str(data), "--label-column", "-1",
                 "--out", str(predictions)]) == 0
    assert predictions.read_text().count("\n") == 501  # a header and one line per row
