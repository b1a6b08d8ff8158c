"""Generated hostile files and folders: crafted model and checkpoint folders, odd output paths,
folders holding the user's files, concurrent writers.

Invariants: loading either fails with a ``ValueError`` or gives a model whose predictions are
finite; no read hangs; a command either succeeds or prints one error line; no file that
decluster did not write is ever changed or deleted; no temporary file is left behind.
"""

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load, save

from decluster import DEC
from decluster.cli.commands import main
from decluster.data.preprocessing import InputSpec, fit_scaling
from decluster.estimators.persistence import save_model
from decluster.exceptions import CheckpointError

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def fuzz(examples: int):
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


SMALL_X = np.random.default_rng(0).random((30, 6), dtype=np.float32)
SMALL = dict(n_clusters=3, hidden_dims=[8], embedding_dim=2, layer_epochs=3, finetune_epochs=1, n_init=1,
             max_iter=4, update_interval=2, device="cpu", precision="float32", random_state=0)
TINY_FLAGS = ["--quiet", "--no-plots", "--n-clusters", "3", "--hidden-dims", "8", "--embedding-dim", "2",
              "--layer-epochs", "1", "--finetune-epochs", "1", "--n-init", "1", "--max-iter", "4",
              "--update-interval", "2", "--device", "cpu", "--random-state", "0"]

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
              st.sampled_from(["nan", "inf", "-inf", "", "float32"])),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6)


def _leaves(value, path=()):
    """Every path into a JSON value (objects, lists and their entries)."""
    yield path
    if isinstance(value, dict):
        for key, entry in value.items():
            yield from _leaves(entry, (*path, key))
    elif isinstance(value, list):
        for index, entry in enumerate(value):
            yield from _leaves(entry, (*path, index))


def _replace(config, path, value):
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value


def _run_cli(argv):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
    return status, stderr.getvalue()


def _assert_outcome(status, stderr):
    assert "Traceback" not in stderr
    if status != 0:
        errors = [line for line in stderr.splitlines() if ": error: " in line]
        assert status in (1, 2) and len(errors) == 1, stderr


def _snapshot(folder: Path) -> dict[str, tuple[str, bytes | str]]:
    """Kind and content of every entry under ``folder`` (links by target, FIFOs by kind)."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            entries[name] = ("link", os.readlink(path))
        elif path.is_fifo():
            entries[name] = ("fifo", "")
        elif path.is_file():
            entries[name] = ("file", path.read_bytes())
        else:
            entries[name] = ("dir", "")
    return entries


def _no_debris(folder: Path) -> None:
    assert not [p for p in folder.rglob("*.tmp")], list(folder.rglob("*.tmp"))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    model = DEC(**SMALL).fit(SMALL_X)
    folder = tmp_path_factory.mktemp("tiny") / "model"
    save_model(model, folder, input_spec=InputSpec(fit_scaling(SMALL_X, "standard"), "label", "auto"))
    return folder


def _loads_cleanly_or_refuses(folder: Path) -> None:
    try:
        model = DEC.load(folder, device="cpu")
    except ValueError:
        return
    proba = model.predict_proba(SMALL_X)
    assert np.isfinite(proba).all() and proba.shape == (30, model.n_clusters)


# ------------------------------------------------------------------ crafted model folders
@fuzz(250)
@given(st.data(), json_values)
def test_crafted_model_config_fields(tiny_model, data, value):
    config = json.loads((tiny_model / "config.json").read_text())
    path = data.draw(st.sampled_from([p for p in _leaves(config) if p and p[0] not in ("weights", "weights_sha256")]))
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "model"
        shutil.copytree(tiny_model, copy)
        _replace(config, path, value)
        (copy / "config.json").write_text(json.dumps(config))
        _loads_cleanly_or_refuses(copy)


tensor_edits = st.sampled_from(["nan", "inf", "huge", "shrink", "grow", "float64", "int", "drop", "extra", "zero-d"])


def _edit_tensor(tensor: torch.Tensor, edit: str) -> torch.Tensor | None:
    flat = tensor.reshape(-1)
    return {"nan": lambda: tensor.float().fill_(float("nan")), "inf": lambda: tensor.float().fill_(float("inf")),
            "huge": lambda: tensor.float().fill_(3e38), "shrink": lambda: flat[:-1].clone(),
            "grow": lambda: torch.cat([flat, flat[:1]]), "float64": lambda: tensor.double(),
            "int": lambda: tensor.long(), "drop": lambda: None, "extra": lambda: tensor.clone(),
            "zero-d": lambda: torch.tensor(1.0)}[edit]()


@fuzz(200)
@given(st.data(), tensor_edits)
def test_crafted_model_tensors_with_matching_hashes(tiny_model, data, edit):
    config = json.loads((tiny_model / "config.json").read_text())
    tensors = load((tiny_model / config["weights"]).read_bytes())
    name = data.draw(st.sampled_from(sorted(tensors)))
    edited = _edit_tensor(tensors[name], edit)
    if edited is None:
        del tensors[name]
    else:
        tensors[name if edit != "extra" else f"{name}.copy"] = edited.contiguous()
    payload = save(tensors)
    digest = hashlib.sha256(payload).hexdigest()
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "model"
        shutil.copytree(tiny_model, copy)
        (copy / config["weights"]).unlink()
        (copy / f"weights-{digest[:16]}.safetensors").write_bytes(payload)
        config.update(weights=f"weights-{digest[:16]}.safetensors", weights_sha256=digest)
        (copy / "config.json").write_text(json.dumps(config))
        _loads_cleanly_or_refuses(copy)


special_files = st.sampled_from(["fifo", "dev-zero", "outside", "folder", "empty", "dangling", "self-loop"])


def _make_special(path: Path, kind: str, scratch: Path) -> None:
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        outside = scratch / "outside.json"
        outside.write_text("{}")
        target = {"dev-zero": "/dev/zero", "outside": str(outside), "dangling": str(scratch / "missing"),
                  "self-loop": str(path)}[kind]
        path.symlink_to(target)


@fuzz(60)
@given(st.sampled_from(["config", "weights"]), special_files)
def test_special_files_in_a_model_folder_never_hang(tiny_model, which, kind):
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "model"
        shutil.copytree(tiny_model, copy)
        target = copy / "config.json" if which == "config" else next(copy.glob("weights-*"))
        _make_special(target, kind, Path(scratch))
        outcome = []
        thread = threading.Thread(target=lambda: outcome.append(_refused(copy)), daemon=True)
        thread.start()
        thread.join(20)
        assert outcome == [True]


def _refused(folder: Path) -> bool:
    try:
        DEC.load(folder, device="cpu")
    except ValueError:
        return True
    return False


# ------------------------------------------------------------------ crafted checkpoints
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint written inside the first pretraining loop of a SIGKILLed fit."""
    folder = tmp_path_factory.mktemp("interrupted")
    np.save(folder / "X.npy", SMALL_X)
    child = Path(__file__).with_name("fit_child.py")
    result = subprocess.run([sys.executable, str(child), str(folder / "X.npy"), json.dumps(SMALL),
                             str(folder / "checkpoint"), "layer 1 epoch 2/", "0", str(folder / "labels.npy")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -9, result.stderr
    return folder / "checkpoint"


@fuzz(200)
@given(st.data(), json_values)
def test_crafted_checkpoint_fields(checkpoint, data, value):
    config = json.loads((checkpoint / "config.json").read_text())
    path = data.draw(st.sampled_from([p for p in _leaves(config) if p and p[0] not in ("weights", "weights_sha256")]))
    _replace(config, path, value)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "checkpoint"
        shutil.copytree(checkpoint, copy)
        (copy / "config.json").write_text(json.dumps(config))
        try:
            model = DEC(**SMALL).fit(SMALL_X, checkpoint_dir=copy, resume=True, checkpoint_interval=1e9)
        except CheckpointError:
            return
        assert model.labels_.shape == (30,)


@pytest.mark.parametrize("path, value", [
    (("loop", "scheduler", "base_lrs", 0), 8_557_971_109),  # found by the fuzz test above
    (("loop", "scheduler", "_last_lr", 0), 1.0),
    (("loop", "scheduler", "last_epoch"), -5),
])
def test_a_crafted_scheduler_is_refused(checkpoint, tmp_path, path, value):
    config = json.loads((checkpoint / "config.json").read_text())
    _replace(config, path, value)
    copy = tmp_path / "checkpoint"
    shutil.copytree(checkpoint, copy)
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="scheduler"):
        DEC(**SMALL).fit(SMALL_X, checkpoint_dir=copy, resume=True, checkpoint_interval=1e9)


# ------------------------------------------------------------------ output paths
out_kinds = st.sampled_from(["stdout", "dev-null", "fifo", "link-to-file", "dangling-link", "the-input",
                             "hard-link-to-input", "in-model", "the-model", "a-folder", "under-a-file",
                             "unwritable", "new-nested", "existing-file"])


def _predict_out(kind: str, scratch: Path, data: Path, model: Path, name: str) -> str:
    (scratch / "plain.csv").write_text("old")
    (scratch / "dir").mkdir(exist_ok=True)
    if kind in ("fifo",):
        os.mkfifo(scratch / "pipe")
        threading.Thread(target=lambda: (scratch / "pipe").read_bytes(), daemon=True).start()
    if kind == "link-to-file":
        (scratch / "link.csv").symlink_to("plain.csv")
    if kind == "dangling-link":
        (scratch / "dangling.csv").symlink_to("nowhere.csv")
    if kind == "hard-link-to-input":
        os.link(data, scratch / "hard.npy")
    return {"stdout": "-", "dev-null": "/dev/null", "fifo": str(scratch / "pipe"), "link-to-file": str(scratch / "link.csv"),
            "dangling-link": str(scratch / "dangling.csv"), "the-input": str(data), "hard-link-to-input": str(scratch / "hard.npy"),
            "in-model": str(model / "config.json"), "the-model": str(model), "a-folder": str(scratch / "dir"),
            "under-a-file": str(scratch / "plain.csv" / "x.csv"), "unwritable": "/proc/decluster.csv",
            "new-nested": str(scratch / "a" / name / f"{name}.csv"), "existing-file": str(scratch / "plain.csv")}[kind]


file_names = st.text(alphabet="abcXYZ019_-. ", min_size=1, max_size=8).filter(lambda n: n.strip(".") != "")


@fuzz(200)
@given(out_kinds, st.booleans(), file_names, st.booleans())
def test_predict_output_paths(tiny_model, kind, proba, name, overwrite):
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model, data = scratch / "model", scratch / "x.npy"
        shutil.copytree(tiny_model, model)
        np.save(data, SMALL_X)
        out = _predict_out(kind, scratch, data, model, name)
        protected = {"model": _snapshot(model), "data": data.read_bytes()}
        status, stderr = _run_cli(["predict", "--model", str(model), "--data", str(data), "--out", out,
                                   *(["--proba"] if proba else []), *(["--overwrite"] if overwrite else [])])
        _assert_outcome(status, stderr)
        assert protected == {"model": _snapshot(model), "data": data.read_bytes()}
        assert Path("/dev/null").is_char_device()
        if kind == "fifo":
            assert (scratch / "pipe").is_fifo()
        if kind == "link-to-file":
            assert (scratch / "link.csv").is_symlink()
        if kind in ("link-to-file", "existing-file"):  # the user's file: replaced only with --overwrite
            assert (status == 0) == overwrite
            assert ((scratch / "plain.csv").read_text() == "old") == (not overwrite)
        _no_debris(scratch)


user_names = st.sampled_from(["labels.csv", "metrics.json", "config.toml", "notes.txt", "model/config.json",
                              "model/weights-mine.safetensors", "checkpoint/config.json", "checkpoint/notes.txt",
                              "manifest.json", "embedding.png"])


@fuzz(80)
@given(st.lists(user_names, max_size=3, unique=True), st.booleans())
def test_fit_never_deletes_or_silently_replaces_user_files(names, overwrite):
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        out, data = scratch / "out", scratch / "x.npy"
        np.save(data, SMALL_X)
        for name in names:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(b"the user's " + name.encode())
        before = _snapshot(out) if out.exists() else {}
        status, stderr = _run_cli(["fit", "--method", "dec", "--data", str(data), "--out", str(out), *TINY_FLAGS,
                                   *(["--overwrite"] if overwrite else [])])
        _assert_outcome(status, stderr)
        after = _snapshot(out) if out.exists() else {}
        if status != 0 or not names:
            assert after == before or not names
        else:
            assert overwrite
            assert all(name in after for name in before)  # replaced perhaps, never deleted
        _no_debris(scratch)


@fuzz(25)
@given(st.integers(min_value=2, max_value=4), st.integers(min_value=1, max_value=4))
def test_concurrent_saves(tiny_model, n_threads, n_saves):
    base = DEC.load(tiny_model, device="cpu")
    models = []
    for index in range(n_threads):
        model = DEC.load(tiny_model, device="cpu")
        model.cluster_centers_ = base.cluster_centers_ + index
        models.append(model)
    with tempfile.TemporaryDirectory() as scratch:
        folder, errors = Path(scratch) / "model", []

        def save_repeatedly(model):
            try:
                for _ in range(n_saves):
                    model.save(folder)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=save_repeatedly, args=(model,)) for model in models]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        DEC.load(folder, device="cpu")
        assert len(list(folder.glob("weights-*.safetensors"))) == 1
        _no_debris(folder)
