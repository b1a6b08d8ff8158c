"""Faults a new user met: NumPy parameters, failed fits, emulated bfloat16, resuming elsewhere,
progress bars in log files."""

import io
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

import decluster.estimators.base as estimator_module
from decluster import DEC
from decluster.exceptions import CheckpointError, DivergenceError
from decluster.training.device import resolve_precision
from decluster.training.progress import progress

SMALL = dict(n_clusters=3, hidden_dims=(8,), embedding_dim=2, layer_epochs=1, finetune_epochs=1, n_init=1,
             max_iter=4, update_interval=2, device="cpu", precision="float32", random_state=0)
X = np.random.default_rng(0).random((30, 6), dtype=np.float32)


def test_numpy_integer_parameters_save_and_checkpoint(tmp_path):
    params = dict(SMALL, n_clusters=np.int64(3), hidden_dims=(np.int64(8),), embedding_dim=np.int32(2),
                  max_iter=np.int64(4), tol=np.float64(1e-3), random_state=np.int64(0))
    model = DEC(**params).fit(X, checkpoint_dir=tmp_path / "checkpoint")
    model.save(tmp_path / "model")
    assert (DEC.load(tmp_path / "model").predict(X) == model.labels_).all()
    resumed = DEC(**params).fit(X, checkpoint_dir=tmp_path / "checkpoint", resume=True)
    assert (resumed.labels_ == model.labels_).all()


def test_a_failed_fit_leaves_an_unfitted_estimator(digits_small, make_dec):
    model = make_dec(lr=1e12, momentum=0.0)
    with pytest.raises(DivergenceError):
        model.fit(digits_small[0])
    with pytest.raises(NotFittedError):
        model.predict(digits_small[0])


def test_a_failed_refit_forgets_the_earlier_fit():
    model = DEC(**SMALL).fit(X)
    model.set_params(n_clusters=1000)
    with pytest.raises(ValueError):
        model.fit(X)
    with pytest.raises(NotFittedError):
        model.predict(X)


@pytest.mark.parametrize("capability, expected", [((7, 5), "float32"), ((6, 1), "float32"), ((8, 0), "bfloat16"),
                                                  ((9, 0), "bfloat16")])
def test_auto_precision_uses_only_native_bfloat16_on_gpus(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # counts emulation
    assert resolve_precision("auto", torch.device("cuda")) == expected


def test_resume_in_another_arithmetic_is_refused_clearly(tmp_path, monkeypatch):
    params = dict(SMALL, precision="auto")
    DEC(**params).fit(X, checkpoint_dir=tmp_path)
    resolved = resolve_precision("auto", torch.device("cpu"))
    other = "bfloat16" if resolved == "float32" else "float32"
    monkeypatch.setattr(estimator_module, "resolve_precision", lambda spec, device: other)
    with pytest.raises(CheckpointError, match=f"written on 'cpu' in '{resolved}'.*runs on 'cpu' in '{other}'"):
        DEC(**params).fit(X, checkpoint_dir=tmp_path, resume=True)


def test_progress_is_one_log_line_per_phase_when_stderr_is_not_a_terminal(monkeypatch, caplog):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with caplog.at_level(logging.INFO, logger="decluster.progress"):
        with progress("layer 1", 100, verbose=True) as bar:
            for _ in range(100):
                bar.update()
    written = sys.stderr.getvalue()  # no bar (a log handler left by another test may copy the line here)
    assert "\r" not in written and "%|" not in written and "100/100" not in written
    assert [record.getMessage().split(":")[0] for record in caplog.records] == ["layer 1"]


def test_command_line_progress_in_a_log_file_has_no_carriage_returns(tmp_path):
    log = tmp_path / "log.txt"
    with log.open("w") as stream:
        subprocess.run([str(Path(sys.executable).parent / "decluster"), "fit", "--method", "dec", "--out", str(tmp_path / "out"),
                        "--no-plots", "--hidden-dims", "16", "--layer-epochs", "2", "--finetune-epochs", "2",
                        "--n-init", "1", "--max-iter", "30", "--device", "cpu", "--random-state", "0"],
                       stderr=stream, stdout=subprocess.DEVNULL, timeout=300, check=True)
    text = log.read_text()
    assert "\r" not in text
    assert [line.split(":")[2].strip() for line in text.splitlines() if "done in" in line] == [
        "layer 1", "layer 2", "fine-tuning", "DEC clustering"]
