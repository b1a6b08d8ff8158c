import copy
import json
import os
import pickle

import numpy as np
import pytest

from decluster import DEC
from decluster.io.files import atomic_write_bytes
from decluster.io.model_folder import CONFIG_FILE


@pytest.fixture
def saved(fitted_dec, tmp_path):
    folder = tmp_path / "model"
    fitted_dec.save(folder)
    return folder


def _weights(folder):
    (path,) = folder.glob("weights-*.safetensors")
    return path


def test_save_load_predicts_identically(fitted_dec, saved, digits):
    X, _ = digits
    loaded = DEC.load(saved, device="cpu")
    np.testing.assert_array_equal(loaded.predict(X), fitted_dec.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted_dec.predict_proba(X))
    np.testing.assert_array_equal(loaded.labels_, fitted_dec.labels_)
    assert loaded.get_params() == fitted_dec.get_params()
    assert loaded.history_ == fitted_dec.history_
    assert loaded.n_iter_ == fitted_dec.n_iter_


def test_saved_folder_holds_json_and_safetensors(saved):
    config = json.loads((saved / CONFIG_FILE).read_text())
    assert config["format"] == "decluster-model" and config["format_version"] == 1
    assert config["params"]["n_clusters"] == 10
    assert _weights(saved).name == config["weights"]


def test_loading_never_unpickles(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr("torch.load", refuse)
    DEC.load(saved, device="cpu")


def test_resave_replaces_the_model_and_removes_old_weights(fitted_dec, saved, make_dec, digits_small):
    X, _ = digits_small
    other = make_dec(random_state=1, max_iter=40).fit(X)
    other.save(saved)
    assert len(list(saved.glob("weights-*.safetensors"))) == 1
    np.testing.assert_array_equal(DEC.load(saved).predict(X), other.predict(X))


def test_crash_while_saving_leaves_the_old_model(fitted_dec, saved, make_dec, digits_small, monkeypatch):
    X, _ = digits_small
    other = make_dec(random_state=1, max_iter=40).fit(X)
    real_replace = os.replace

    def crash_on_config(source, target):
        if str(target).endswith(CONFIG_FILE):
            raise OSError("simulated crash")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash_on_config)
    with pytest.raises(OSError, match="simulated crash"):
        other.save(saved)
    monkeypatch.undo()
    assert not list(saved.glob(".*.tmp"))
    np.testing.assert_array_equal(DEC.load(saved).predict(X), fitted_dec.predict(X))


def test_atomic_write_cleans_up_after_a_failed_write(tmp_path, monkeypatch):
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"data")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="no such model folder"):
        DEC.load(tmp_path / "absent")


def test_folder_without_config(tmp_path):
    with pytest.raises(ValueError, match=CONFIG_FILE):
        DEC.load(tmp_path)


def test_truncated_weights(saved):
    weights = _weights(saved)
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match=weights.name):
        DEC.load(saved)


def test_missing_weights(saved):
    weights = _weights(saved)
    weights.unlink()
    with pytest.raises(ValueError, match=weights.name):
        DEC.load(saved)


@pytest.mark.parametrize("content", [b"\x80\x04garbage", b"{not json", b"[1, 2]", b'{"format": "other"}'])
def test_foreign_config(saved, content):
    (saved / CONFIG_FILE).write_bytes(content)
    with pytest.raises(ValueError, match=CONFIG_FILE):
        DEC.load(saved)


def test_newer_format_version(saved):
    config = json.loads((saved / CONFIG_FILE).read_text())
    config["format_version"] = 99
    (saved / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="format version 99"):
        DEC.load(saved)


def test_weights_name_cannot_leave_the_folder(saved):
    config = json.loads((saved / CONFIG_FILE).read_text())
    config["weights"] = "../elsewhere.safetensors"
    (saved / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="invalid weights file name"):
        DEC.load(saved)


def test_inconsistent_config(saved):
    config = json.loads((saved / CONFIG_FILE).read_text())
    config["dims"] = [64, 3, 10]
    (saved / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="invalid model"):
        DEC.load(saved)


def test_saving_onto_a_file_is_refused(fitted_dec, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a folder"):
        fitted_dec.save(path)


def _replace_weights(folder, payload: bytes) -> None:
    """Swap in a weights file whose SHA-256 matches, as a deliberate tamperer would."""
    import hashlib

    config = json.loads((folder / CONFIG_FILE).read_text())
    _weights(folder).unlink()
    name = "weights-0123456789abcdef.safetensors"
    (folder / name).write_bytes(payload)
    config.update(weights=name, weights_sha256=hashlib.sha256(payload).hexdigest())
    (folder / CONFIG_FILE).write_text(json.dumps(config))


def _edited_tensors(folder, edit) -> bytes:
    from safetensors.torch import load, save

    tensors = load(_weights(folder).read_bytes())
    edit(tensors)
    return save(tensors)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.pop("encoder.0.weight"), "encoder.0.weight is missing"),
    (lambda t: t.update(extra=t["labels"].clone()), "unexpected tensors"),
    (lambda t: t.update({"encoder.0.bias": t["encoder.0.bias"][:-1]}), "encoder.0.bias is torch.float32 of shape"),
    (lambda t: t.update(cluster_centers=t["cluster_centers"][:, :3].contiguous()), "cluster_centers"),
    (lambda t: t.update(labels=t["labels"].float()), "labels"),
])
def test_tampered_tensors_are_refused(saved, edit, message):
    _replace_weights(saved, _edited_tensors(saved, edit))
    with pytest.raises(ValueError, match=message):
        DEC.load(saved)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("where", ["weights", "config"])
def test_crafted_pickle_in_a_model_folder_never_runs(saved, tmp_path, where):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker))
    assert not marker.exists()
    if where == "weights":
        _replace_weights(saved, payload)
    else:
        (saved / CONFIG_FILE).write_bytes(payload)
    with pytest.raises(ValueError):
        DEC.load(saved)
    assert not marker.exists()
    pickle.loads(payload)  # the payload is live: unpickling it does create the marker
    assert marker.exists()


# ----------------------------------------------------------------- the fitted k
@pytest.fixture
def fewer_clusters(fitted_dec, digits_small):
    """``fitted_dec`` as a method that merges clusters leaves it: a centroid dropped, the points relabelled."""
    model = copy.deepcopy(fitted_dec)
    model.cluster_centers_ = np.ascontiguousarray(model.cluster_centers_[:-1])
    model.n_clusters_ = len(model.cluster_centers_)
    model.labels_ = model.predict(digits_small[0])
    return model


def test_a_changed_k_is_saved_and_loaded(fewer_clusters, digits_small, tmp_path):
    fewer_clusters.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / CONFIG_FILE).read_text())
    assert config["n_clusters"] == 9 and config["params"]["n_clusters"] == 10
    loaded = DEC.load(tmp_path / "model")
    assert loaded.n_clusters == 10 and loaded.n_clusters_ == 9 and loaded.cluster_centers_.shape == (9, 10)
    np.testing.assert_array_equal(loaded.labels_, fewer_clusters.labels_)
    predicted = loaded.predict(digits_small[0])
    assert predicted.min() >= 0 and predicted.max() < 9 and loaded.predict_proba(digits_small[0]).shape == (400, 9)


def _edit_config(folder, **fields) -> None:
    config = json.loads((folder / CONFIG_FILE).read_text())
    config.update(fields)
    (folder / CONFIG_FILE).write_text(json.dumps({name: value for name, value in config.items() if value is not None}))


@pytest.mark.parametrize("value, message", [(0, r"n_clusters = 0 is out of range"), ("9", "must be an integer"),
                                            (True, "must be an integer"), (8, "cluster_centers is torch.float32"),
                                            (10, "cluster_centers is torch.float32")])
def test_the_saved_k_is_checked(fewer_clusters, tmp_path, value, message):
    fewer_clusters.save(tmp_path / "model")
    _edit_config(tmp_path / "model", n_clusters=value)
    with pytest.raises(ValueError, match=message):
        DEC.load(tmp_path / "model")


def test_a_folder_saved_before_the_k_was_saved_takes_the_parameter(fitted_dec, fewer_clusters, saved, tmp_path):
    _edit_config(saved, n_clusters=None)
    assert DEC.load(saved).n_clusters_ == 10
    fewer_clusters.save(tmp_path / "fewer")
    _edit_config(tmp_path / "fewer", n_clusters=None)  # then 9 centroids contradict n_clusters=10
    with pytest.raises(ValueError, match="cluster_centers is torch.float32 of shape"):
        DEC.load(tmp_path / "fewer")
