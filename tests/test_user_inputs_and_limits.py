"""A user's file is never replaced, no input exhausts memory, every check comes before training,
and messages name what is wrong (one case per fault a user found)."""

import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from decluster import DEC
from decluster.cli.commands import main
from decluster.cli.runconfig import MAX_CONFIG_BYTES, MAX_CONFIG_LIST
from decluster.data.files import DatasetError, load_features
from decluster.nn import architectures
from decluster.training import memory
from decluster.training.memory import (
    InsufficientMemoryError,
    MemoryEstimate,
    check_fit_memory,
    estimate_fit_memory,
    format_bytes,
)

SCRIPT = Path(sys.executable).parent / "decluster"
TINY = ["--quiet", "--no-plots", "--n-clusters", "3", "--hidden-dims", "8", "--embedding-dim", "2",
        "--layer-epochs", "1", "--finetune-epochs", "1", "--n-init", "1", "--max-iter", "4",
        "--update-interval", "2", "--device", "cpu", "--random-state", "0"]
X5 = np.random.default_rng(0).random((40, 5), dtype=np.float32)


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any training starts."""
    monkeypatch.setattr(DEC, "fit", lambda *a, **k: pytest.fail("training started"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A folder holding X.npy (40 x 5) and a fit of it in run/ (model, labels, config)."""
    folder = tmp_path_factory.mktemp("run")
    np.save(folder / "X.npy", X5)
    assert main(["fit", "--method", "dec", "--data", str(folder / "X.npy"), "--out", str(folder / "run"), *TINY]) == 0
    return folder


def _one_error(capsys, command: str = "fit") -> str:
    error = capsys.readouterr().err
    assert error.startswith(f"decluster {command}: error:") and len(error.splitlines()) == 1, error
    return error


# ------------------------------------------------------------------ a user's file is never replaced
def test_predict_never_replaces_a_file_decluster_did_not_write(run, tmp_path, capsys):
    notes = tmp_path / "notes.csv"
    notes.write_text("mine\n")
    argv = ["predict", "--model", str(run / "run" / "model"), "--data", str(run / "X.npy"), "--out", str(notes)]
    assert main(argv) == 1
    assert "--overwrite" in _one_error(capsys, "predict") and notes.read_text() == "mine\n"
    assert main([*argv, "--overwrite"]) == 0
    assert notes.read_text().startswith("index,cluster,confidence\n")


def test_predict_replaces_its_own_file_but_not_once_changed(run, tmp_path, capsys):
    out = tmp_path / "labels.csv"
    argv = ["predict", "--model", str(run / "run" / "model"), "--data", str(run / "X.npy"), "--out", str(out)]
    assert main(argv) == 0 and main(argv) == 0  # the second replaces the file the first recorded
    assert json.loads((tmp_path / "manifest.json").read_text())["files"].keys() == {"labels.csv"}
    out.write_text(out.read_text() + "my note\n")
    assert main(argv) == 1 and out.read_text().endswith("my note\n")
    _one_error(capsys, "predict")


def test_predict_leaves_someone_elses_manifest_alone(run, tmp_path):
    (tmp_path / "manifest.json").write_text('{"mine": true}')
    out = tmp_path / "labels.csv"
    argv = ["predict", "--model", str(run / "run" / "model"), "--data", str(run / "X.npy"), "--out", str(out)]
    assert main(argv) == 0 and out.is_file()
    assert (tmp_path / "manifest.json").read_text() == '{"mine": true}'
    assert main(argv) == 1  # so the file cannot be proven decluster's: replaced only with --overwrite


def test_a_closed_pipe_on_standard_output_ends_quietly(run, tmp_path):
    big = tmp_path / "big.npy"
    np.save(big, np.random.default_rng(1).random((200_000, 5), dtype=np.float32))  # far more than a pipe holds
    reader = subprocess.Popen([str(SCRIPT), "predict", "--model", str(run / "run" / "model"), "--data", str(big)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout.readline() == b"index,cluster,confidence\n"
    reader.stdout.close()  # as `| head -1` does
    stderr = reader.stderr.read()
    assert reader.wait(timeout=120) == 128 + signal.SIGPIPE and stderr == b""


# ------------------------------------------------------------------ no input exhausts memory
def test_the_memory_estimate_matches_hand_computed_bytes():
    # dims 4-3-2: encoder 4*3+3 + 3*2+2 = 23 weights, decoder 2*3+3 + 3*4+4 = 25; 48 weights x 4 copies x 4 bytes
    estimate = estimate_fit_memory({"kind": "mlp", "dims": [4, 3, 2]}, n_samples=10, n_clusters=2, batch_size=5)
    assert estimate == MemoryEstimate(network=768, activations=5 * (4 + 2 * 5) * 3 * 4,
                                      assignments=10 * (2 * 2 + 2) * 4, data=0)
    assert estimate.total == 768 + 840 + 240
    assert estimate_fit_memory({"kind": "mlp", "dims": [4, 3, 2]}, 10, 2, 5, data_on_device=True).data == 160
    assert format_bytes(999) == "999 bytes" and format_bytes(1_234_567) == "1,234,567 bytes (1.23 MB)"


def test_the_memory_check_names_the_parameter_and_the_bytes():
    estimate = MemoryEstimate(network=10, activations=1, assignments=5_000, data=0)
    check_fit_memory(estimate, 5_011, {"n_clusters": 7})
    check_fit_memory(estimate, None, {"n_clusters": 7})  # unknown free memory: no refusal
    with pytest.raises(InsufficientMemoryError, match=r"n_clusters=7 needs 5,000 bytes .*5,011 bytes .* 5,010 bytes"):
        check_fit_memory(estimate, 5_010, {"n_clusters": 7})


def test_a_huge_network_is_refused_before_it_is_allocated(monkeypatch):
    monkeypatch.setattr(architectures, "build", lambda *a, **k: pytest.fail("the network was built"))
    with pytest.raises(InsufficientMemoryError, match=r"hidden_dims=\(1000000000,\).* bytes"):
        DEC(hidden_dims=(10**9,), device="cpu").fit(X5)
    with pytest.raises(MemoryError):  # also a MemoryError, for code that catches those
        DEC(n_clusters=3, embedding_dim=10**12, device="cpu").fit(X5)


def test_a_huge_network_flag_is_one_line(run, tmp_path, capsys):
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(tmp_path / "o"), "--quiet",
                 "--hidden-dims", "1000000000"]) == 1
    error = _one_error(capsys)
    assert "hidden_dims" in error and "bytes" in error and not (tmp_path / "o").exists()


@pytest.mark.parametrize("config", ["/dev/zero", "fifo", "big", "long list"])
def test_config_files_are_read_only_when_regular_and_small(run, tmp_path, capsys, no_training, config):
    path = {"/dev/zero": Path("/dev/zero"), "fifo": tmp_path / "c.toml", "big": tmp_path / "big.toml",
            "long list": tmp_path / "list.toml"}[config]
    if config == "fifo":
        os.mkfifo(path)  # nobody writes to it: reading it would block forever
    if config == "big":
        path.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    if config == "long list":
        path.write_text(f"hidden_dims = [{', '.join(['8'] * (MAX_CONFIG_LIST + 1))}]\n")
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(tmp_path / "o"), "--config", str(path)]) == 1
    assert str(path) in _one_error(capsys)


@pytest.mark.parametrize("line, expected", [
    ("hidden_dims = 16", "hidden_dims must be a list of integers"),
    ("hidden_dims = [16, -1]", "hidden_dims[1]"),
    ("tol = 'small'", "tol must be a number"),
    ("n_clusters = 2.5", "n_clusters must be \"auto\" or an integer"),
    ("augment = 1", "augment must be true or false"),
    ("autoencoder_from = 3", "autoencoder_from must be the path of a model folder"),
    ("scale = 'log'", "scale must be one of"),
])
def test_config_values_are_checked_naming_the_field_and_the_file(run, tmp_path, capsys, no_training, line, expected):
    config = tmp_path / "bad.toml"
    config.write_text(line + "\n")
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(tmp_path / "o"), "--config", str(config)]) == 1
    error = _one_error(capsys)
    assert str(config) in error and expected in error


# ------------------------------------------------------------------ checks before training
@pytest.mark.parametrize("value", ["0", "-5"])
def test_plot_points_are_checked_when_the_command_is_read(run, tmp_path, capsys, no_training, value):
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(tmp_path / "o"), "--plot-points", value])
    assert stop.value.code == 2 and "--plot-points" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("checkpoint", ["o/model", "o/model/inner", "o", ".", "o/labels.csv", "o/manifest.json"])
def test_outputs_nested_in_one_another_are_refused_before_training(run, tmp_path, capsys, no_training, checkpoint,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", "o", "--checkpoint-dir", checkpoint]) == 1
    error = _one_error(capsys)
    assert "--checkpoint-dir" in error and "not a decluster checkpoint" not in error
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_out_and_checkpoint_dir_the_same_new_folder(run, tmp_path, capsys, no_training):
    out = tmp_path / "x6"
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(out), "--checkpoint-dir", str(out)]) == 1
    assert "overlap" in _one_error(capsys) and not out.exists()


def test_image_shape_must_hold_the_rows(run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(architectures, "build", lambda *a, **k: pytest.fail("the network was built"))
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(tmp_path / "o"), "--image-shape", "2", "2"]) == 1
    assert "image_shape (2, 2, 1) holds 4 values" in _one_error(capsys) and not (tmp_path / "o").exists()


def test_image_shape_is_checked_in_python_before_training(monkeypatch):
    monkeypatch.setattr(architectures, "build", lambda *a, **k: pytest.fail("the network was built"))
    with pytest.raises(ValueError, match="image_shape"):
        DEC(image_shape=(2, 2), device="cpu").fit(X5)


# ------------------------------------------------------------------ a reused autoencoder is what is recorded
def test_autoencoder_from_records_the_network_it_uses(run, tmp_path):
    out = tmp_path / "again"
    flags = [flag for flag in TINY if flag not in ("8",)]
    flags.remove("--hidden-dims")
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(out), "--autoencoder-from",
                 str(run / "run" / "model"), *flags]) == 0
    config = (out / "config.toml").read_text()
    assert "hidden_dims = [8]" in config and "embedding_dim = 2" in config and "autoencoder_from = " in config
    assert json.loads((out / "metrics.json").read_text())["autoencoder_from"] == str(run / "run" / "model")
    rerun = tmp_path / "rerun"
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(rerun), "--config", str(out / "config.toml"),
                 "--quiet", "--no-plots"]) == 0
    first, second = (DEC.load(folder / "model") for folder in (out, rerun))
    assert first.autoencoder_.config() == second.autoencoder_.config() == {"kind": "mlp", "dims": [5, 8, 2]}
    assert (out / "labels.csv").read_bytes() == (rerun / "labels.csv").read_bytes()


def test_autoencoder_from_refuses_a_conflicting_network_flag(run, tmp_path, capsys, no_training):
    assert main(["fit", "--method", "dec", "--data", str(run / "X.npy"), "--out", str(tmp_path / "o"), "--autoencoder-from",
                 str(run / "run" / "model"), "--hidden-dims", "32"]) == 1
    error = _one_error(capsys)
    assert "--hidden-dims 32 conflicts" in error and "hidden_dims 8" in error


# ------------------------------------------------------------------ labels that are not classes
def test_continuous_labels_warn_and_neither_choose_k_nor_score(tmp_path):
    rows = np.random.default_rng(2).random((200, 4))
    data = tmp_path / "table.csv"
    data.write_text("a,b,c,d,target\n" + "".join(",".join(f"{v:.6f}" for v in row) + f",{i * 0.37 + 0.1:.4f}\n"
                                                 for i, row in enumerate(rows)))
    flags = [flag for flag in TINY if flag not in ("--n-clusters", "3")]
    with pytest.warns(UserWarning, match="look continuous"):
        assert main(["fit", "--method", "dec", "--data", str(data), "--label-column", "target", "--out", str(tmp_path / "o"),
                     *flags]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["n_clusters"] == 10 and "accuracy" not in metrics and metrics["n_features"] == 4


def _header_only_npy(shape: tuple[int, ...]) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return header.getvalue()


def test_an_archive_that_unpacks_beyond_memory_is_refused_before_unpacking(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:  # 4 TB declared, a few bytes stored
        archive.writestr("X.npy", _header_only_npy((10**7, 10**5)) + bytes(1000))
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("the archive was unpacked"))
    with pytest.raises(DatasetError, match=r"bomb.npz: its arrays take 4,000,000,000,000 bytes"):
        load_features(bomb)


def test_a_label_column_split_off_an_npy_beyond_memory_is_refused(tmp_path, monkeypatch):
    data = tmp_path / "big.npy"
    np.save(data, np.zeros((100, 5), dtype=np.float32))
    monkeypatch.setattr(memory, "host_memory_available", lambda: 1_000)  # 2,000 bytes would be copied
    with pytest.raises(DatasetError, match=r"copies 2,000 bytes \(2 kB\) into memory, more than the 1,000 bytes \(1 kB\) free"):
        load_features(data, label_column=0)
    assert load_features(data)[0].shape == (100, 5)  # without a label column it stays on disk
