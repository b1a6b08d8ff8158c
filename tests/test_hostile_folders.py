"""Model and checkpoint folders someone sent you: no hang, no huge allocation, no silent NaN, and
every edited JSON field refused with a ValueError naming the file."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save

from decluster import DEC
from decluster.exceptions import CheckpointError

CHILD = Path(__file__).with_name("fit_child.py")


def _weights(folder: Path) -> Path:
    return folder / json.loads((folder / "config.json").read_text())["weights"]


def _edit_config(folder: Path, edit) -> None:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


def _load_quickly(load):
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(result=_catch(load)), daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "loading hung"
    return outcome["result"]


def _catch(function):
    try:
        return function()
    except Exception as error:  # noqa: BLE001 - returned to the test
        return error


@pytest.fixture
def model_folder(fitted_dec, tmp_path):
    fitted_dec.save(tmp_path / "model")
    return tmp_path / "model"


def test_a_weights_fifo_does_not_hang(model_folder):
    weights = _weights(model_folder)
    weights.unlink()
    os.mkfifo(weights)
    error = _load_quickly(lambda: DEC.load(model_folder))
    assert isinstance(error, ValueError) and "not a regular file" in str(error)


def test_weights_linked_to_dev_zero_are_refused(model_folder):
    weights = _weights(model_folder)
    weights.unlink()
    weights.symlink_to("/dev/zero")
    error = _load_quickly(lambda: DEC.load(model_folder))
    assert isinstance(error, ValueError) and "leads out of" in str(error)


def test_declared_widths_are_checked_before_building_the_network(model_folder):
    payload = save({"cluster_centers": torch.zeros(10, 10)})
    name = f"weights-{hashlib.sha256(payload).hexdigest()[:16]}.safetensors"
    (model_folder / name).write_bytes(payload)
    _edit_config(model_folder, lambda c: c.update(dims=[64, 60000, 60000, 10], weights=name,
                                                  weights_sha256=hashlib.sha256(payload).hexdigest()))
    with pytest.raises(ValueError, match="expected float32 of shape"):
        DEC.load(model_folder)


def _resave(folder: Path, edit) -> None:
    """Edit the tensors and give the file a matching hash, as a deliberate tamperer would."""
    from safetensors.torch import load

    tensors = load(_weights(folder).read_bytes())
    edit(tensors)
    payload = save(tensors)
    digest = hashlib.sha256(payload).hexdigest()
    _weights(folder).unlink()
    (folder / f"weights-{digest[:16]}.safetensors").write_bytes(payload)
    _edit_config(folder, lambda c: c.update(weights=f"weights-{digest[:16]}.safetensors", weights_sha256=digest))


@pytest.mark.parametrize("edit, field", [
    (lambda t: t["encoder.0.weight"].fill_(float("nan")), "encoder.0.weight holds NaN"),
    (lambda t: t["cluster_centers"].fill_(float("inf")), "cluster_centers holds NaN or infinite"),
    (lambda t: t["labels"].fill_(99), "labels must lie in"),
])
def test_non_finite_or_out_of_range_tensors_are_refused(model_folder, edit, field):
    _resave(model_folder, edit)
    with pytest.raises(ValueError, match=field):
        DEC.load(model_folder)


@pytest.mark.parametrize("field, value", [
    ("alpha", 0), ("alpha", "nan"), ("alpha", -3), ("n_clusters", 0), ("tol", 2.0), ("precision", "fp8"),
    ("hidden_dims", "abc"), ("unknown_parameter", 1),
])
def test_every_parameter_is_validated_at_load(model_folder, field, value):
    _edit_config(model_folder, lambda c: c["params"].__setitem__(field, value))
    with pytest.raises(ValueError, match=r"config\.json: invalid model"):
        DEC.load(model_folder)


@pytest.mark.parametrize("field, value", [
    ("n_iter", -1), ("converged", "yes"), ("history", {"iterations": [1], "losses": [], "label_changes": []}),
    ("pretrain_losses", {"layer 1": ["x"]}), ("n_features_in", 3), ("dims", [64]),
])
def test_every_fitted_field_is_validated_at_load(model_folder, field, value):
    _edit_config(model_folder, lambda c: c.__setitem__(field, value))
    with pytest.raises(ValueError, match=field.split("_")[0]):
        DEC.load(model_folder)


def test_deeply_nested_or_huge_configs_are_refused(model_folder):
    (model_folder / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        DEC.load(model_folder)
    with (model_folder / "config.json").open("wb") as stream:
        stream.truncate(144 * 2**20)
    with pytest.raises(ValueError, match="more than the"):
        DEC.load(model_folder)


# ------------------------------------------------------------------ checkpoints
PARAMS = dict(n_clusters=10, hidden_dims=[32, 32], layer_epochs=3, finetune_epochs=2, n_init=1, max_iter=40,
              update_interval=10, device="cpu", precision="float32", random_state=0)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, digits_small):
    """A checkpoint written inside the first pretraining loop (the fit was SIGKILLed)."""
    folder = tmp_path_factory.mktemp("interrupted")
    np.save(folder / "X.npy", digits_small[0])
    result = subprocess.run([sys.executable, str(CHILD), str(folder / "X.npy"), json.dumps(PARAMS),
                             str(folder / "checkpoint"), "layer 1 epoch 2/", "0", str(folder / "labels.npy")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stderr
    return folder


def _resume(folder: Path, X):
    return DEC(**PARAMS).fit(X, checkpoint_dir=folder, resume=True, checkpoint_interval=1e9)


@pytest.mark.parametrize("path, value", [
    (("loop", "scheduler", "optimizer"), 5),
    (("loop", "scheduler", "last_epoch"), "x"),
    (("loop", "optimizer", "param_groups", 0, "lr"), "fast"),
    (("loop", "optimizer", "param_groups", 0, "params"), [5, 6]),
    (("loop", "optimizer", "entries"), [[99, ["step"]]]),
    (("loop", "cursor", "position"), -4),
    (("loop", "epoch"), -1),
    (("loop", "losses"), ["x"]),
    (("losses",), {"layer 1": "x"}),
    (("header", "seeds"), [1, 2]),
    (("stage",), 7),
])
def test_edited_checkpoint_json_is_refused_at_resume(interrupted, digits_small, tmp_path, path, value):
    folder = tmp_path / "checkpoint"
    shutil.copytree(interrupted / "checkpoint", folder)
    config = json.loads((folder / "config.json").read_text())
    parent = config
    for key in path[:-1]:
        parent = parent[key] if not isinstance(key, int) else parent[key]
    if path[-1] not in parent and isinstance(parent, dict) and path[-1] != "optimizer":
        pytest.skip(f"this checkpoint has no {path}")
    parent[path[-1]] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=str(folder)):
        _resume(folder, digits_small[0])


def test_the_untouched_checkpoint_resumes(interrupted, digits_small, tmp_path):
    shutil.copytree(interrupted / "checkpoint", tmp_path / "checkpoint")
    assert _resume(tmp_path / "checkpoint", digits_small[0]).labels_.shape == (400,)


def test_a_checkpoint_config_fifo_does_not_hang(digits_small, tmp_path):
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    os.mkfifo(folder / "config.json")
    error = _load_quickly(lambda: _resume(folder, digits_small[0]))
    assert isinstance(error, CheckpointError) and "not a regular file" in str(error)
