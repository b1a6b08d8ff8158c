"""Checkpoints: a fit killed anywhere resumes to exactly the same labels; signals; divergence."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from decluster import DEC
from decluster.data.batching import BatchCursor
from decluster.exceptions import CheckpointError, DivergenceError, FitInterrupted
from decluster.io.model_folder import read_model
from decluster.training.checkpoint import (
    CHECKPOINT_KIND,
    LoopState,
    _differences,
    optimizer_state,
    restore_optimizer,
)

CHILD = Path(__file__).with_name("fit_child.py")
SCRIPT = Path(sys.executable).parent / "decluster"
# Small but long enough to be killed in the middle of each phase.
PARAMS = dict(n_clusters=10, hidden_dims=[64, 64], layer_epochs=4, finetune_epochs=6, pretrain_lr=3e-3,
              pretrain_batch_size=32, n_init=3, update_interval=15, max_iter=120, batch_size=64,
              device="cpu", random_state=3)


def checkpoint_stage(folder: Path) -> str:
    return json.loads((folder / "config.json").read_text())["stage"]


def run_child(data: Path, checkpoint_dir: Path | None, kill_at: str | None, resume: bool, out: Path):
    command = [sys.executable, str(CHILD), str(data), json.dumps(PARAMS), str(checkpoint_dir or "-"),
               kill_at or "-", "1" if resume else "0", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory, digits):
    path = tmp_path_factory.mktemp("data") / "digits.npy"
    np.save(path, digits[0][:500])
    return path


@pytest.fixture(scope="module")
def uninterrupted_labels(data_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "labels.npy"
    result = run_child(data_file, None, None, False, out)
    assert result.returncode == 0, result.stderr
    return np.load(out)


@pytest.mark.parametrize("kill_at, stage", [
    ("layer 2 epoch 2/4", "layer 2"),          # greedy layer-wise pretraining
    ("fine-tuning epoch 3/6", "fine-tuning"),  # end-to-end fine-tuning
    ("iteration 45:", "clustering"),            # KL refinement, between two updates of P
])
def test_sigkill_then_resume_gives_the_same_labels(data_file, uninterrupted_labels, tmp_path, kill_at, stage):
    checkpoints, out = tmp_path / "checkpoints", tmp_path / "labels.npy"
    killed = run_child(data_file, checkpoints, kill_at, False, out)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists()
    assert checkpoint_stage(checkpoints) == stage  # it died in the middle of that stage
    resumed = run_child(data_file, checkpoints, None, True, out)
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_array_equal(np.load(out), uninterrupted_labels)


def test_checkpointing_does_not_change_the_result(digits_small, make_dec, tmp_path):
    X, _ = digits_small
    plain = make_dec(max_iter=60).fit(X)
    checkpointed = make_dec(max_iter=60).fit(X, checkpoint_dir=tmp_path, checkpoint_interval=0)
    np.testing.assert_array_equal(plain.labels_, checkpointed.labels_)
    assert checkpoint_stage(tmp_path) == "clustering"
    # the final checkpoint resumes to the finished model at once
    again = make_dec(max_iter=60).fit(X, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(plain.labels_, again.labels_)
    np.testing.assert_array_equal(plain.cluster_centers_, again.cluster_centers_)
    assert again.pretrain_losses_ == plain.pretrain_losses_ and again.history_ == plain.history_
    assert again.n_iter_ == plain.n_iter_


def test_batch_cursor_continues_exactly():
    cursor = BatchCursor(10, 4, torch.Generator().manual_seed(0))
    for _ in range(4):
        cursor.next()
    tensors, values = cursor.state()
    generator_state = cursor.generator.get_state()
    expected = [cursor.next().tolist() for _ in range(5)]
    copy = BatchCursor(10, 4, torch.Generator())
    copy.generator.set_state(generator_state)
    copy.restore(tensors, values)
    assert [copy.next().tolist() for _ in range(5)] == expected
    with pytest.raises(ValueError):
        BatchCursor(11, 4, torch.Generator()).restore(tensors, values)


@pytest.mark.parametrize("make", [lambda p: torch.optim.Adam(p, lr=0.1), lambda p: torch.optim.SGD(p, 0.1, 0.9)])
def test_optimizer_state_round_trips_without_pickle(make):
    def step(parameter, optimizer):
        optimizer.zero_grad()
        (parameter ** 2).sum().backward()
        optimizer.step()

    weight = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = make([weight])
    step(weight, optimizer)
    saved = optimizer_state(optimizer)
    json.dumps(saved.values)  # plain JSON
    twin = torch.nn.Parameter(weight.detach().clone())
    restored = make([twin])
    copies = {name: value.clone() for name, value in saved.tensors.items()}  # as if read from a file
    restore_optimizer(restored, LoopState(copies, json.loads(json.dumps(saved.values))))
    step(weight, optimizer)
    step(twin, restored)
    assert torch.equal(weight, twin)


def test_resume_refuses_other_parameters_or_data(digits_small, make_dec, tmp_path):
    X, _ = digits_small
    make_dec(max_iter=20).fit(X, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="parameter lr"):
        make_dec(max_iter=20, lr=0.02).fit(X, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="data"):
        make_dec(max_iter=20).fit(X[::-1], checkpoint_dir=tmp_path, resume=True)


def test_resume_from_a_checkpoint_older_than_a_parameter(digits_small, make_dec, tmp_path):
    """A checkpoint written before ``init`` existed lacks it: it resumes a fit that keeps the default."""
    X, _ = digits_small
    first = make_dec(max_iter=20).fit(X, checkpoint_dir=tmp_path)
    config_file = tmp_path / "config.json"
    config = json.loads(config_file.read_text())
    del config["header"]["params"]["init"]
    config_file.write_text(json.dumps(config))
    resumed = make_dec(max_iter=20).fit(X, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.labels_, first.labels_)


def test_a_missing_parameter_counts_as_its_default():
    defaults = {"init": "kmeans", "lr": 0.01}
    assert _differences({"params": {"init": "kmeans"}}, {"params": {}}, defaults) == []
    assert _differences({"params": {"init": "manifold"}}, {"params": {}}, defaults) == ["parameter init"]
    assert _differences({"params": {"lr": 0.02}}, {"params": {"lr": 0.01}}, defaults) == ["parameter lr"]


def test_resume_needs_a_checkpoint(digits_small, make_dec, tmp_path):
    X, _ = digits_small
    with pytest.raises(CheckpointError, match="no checkpoint"):
        make_dec().fit(X, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="checkpoint_dir"):
        make_dec().fit(X, resume=True)
    with pytest.raises(TypeError):
        make_dec().fit(X, checkpoint_dir=3)
    with pytest.raises(ValueError, match="checkpoint_interval"):
        make_dec().fit(X, checkpoint_dir=tmp_path, checkpoint_interval=-1)


def test_checkpoint_folder_must_not_hold_a_model(fitted_dec, digits_small, make_dec, tmp_path):
    fitted_dec.save(tmp_path / "model")
    with pytest.raises(CheckpointError, match="not a decluster checkpoint"):
        make_dec().fit(digits_small[0], checkpoint_dir=tmp_path / "model")
    assert DEC.load(tmp_path / "model").n_iter_ == fitted_dec.n_iter_  # untouched


def test_corrupt_checkpoint_is_a_clear_error(digits_small, make_dec, tmp_path):
    X, _ = digits_small
    make_dec(max_iter=20).fit(X, checkpoint_dir=tmp_path)
    weights = next(tmp_path.glob("weights-*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="unusable checkpoint"):
        make_dec(max_iter=20).fit(X, checkpoint_dir=tmp_path, resume=True)


def test_pretraining_divergence_names_the_step_and_keeps_the_last_checkpoint(digits_small, make_dec, tmp_path):
    X, _ = digits_small
    model = make_dec(pretrain="end-to-end", pretrain_optimizer="sgd", pretrain_lr=1e4, pretrain_lr_schedule="constant")
    with pytest.raises(DivergenceError, match=r"fine-tuning, epoch \d+, batch \d+") as caught:
        model.fit(X, checkpoint_dir=tmp_path, checkpoint_interval=0)
    assert caught.value.checkpoint_dir == tmp_path
    saved = read_model(tmp_path, CHECKPOINT_KIND)
    assert all(torch.isfinite(t).all() for t in saved.tensors.values() if t.is_floating_point())


def test_clustering_divergence_names_the_iteration(digits_small, make_dec):
    with pytest.raises(DivergenceError, match=r"clustering, iteration \d+"):
        make_dec(lr=1e12, momentum=0.0).fit(digits_small[0])


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_signal_writes_a_checkpoint_and_says_how_to_resume(tmp_path, number):
    out = tmp_path / "out"
    flags = ["fit", "--method", "dec", "--out", str(out), "--quiet", "--no-plots", "--hidden-dims", "64", "64", "--layer-epochs", "20",
             "--finetune-epochs", "20", "--n-init", "2", "--max-iter", "40", "--update-interval", "20",
             "--device", "cpu", "--random-state", "0"]
    process = subprocess.Popen([str(SCRIPT), *flags, "--checkpoint-interval", "0"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint" / "config.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    process.send_signal(number)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert process.returncode == 128 + number
    assert "checkpoint saved in" in stderr and "--resume" in stderr and "Traceback" not in stderr
    assert not (out / "labels.csv").exists()
    assert checkpoint_stage(out / "checkpoint").startswith("layer")
    resumed = subprocess.run([str(SCRIPT), *flags, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "labels.csv").is_file()


def test_fit_interrupted_is_a_keyboard_interrupt(tmp_path):
    error = FitInterrupted(tmp_path, signal.SIGTERM)
    assert isinstance(error, KeyboardInterrupt) and "SIGTERM" in str(error) and str(tmp_path) in str(error)
