"""The command line never destroys a file it did not write, and checks its outputs before training."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from decluster import DEC
from decluster.cli.commands import main

SCRIPT = Path(sys.executable).parent / "decluster"
TINY = ["--quiet", "--no-plots", "--layer-epochs", "1", "--finetune-epochs", "1", "--max-iter", "20",
        "--hidden-dims", "32", "32", "64", "--n-init", "1", "--random-state", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, fitted_dec, digits_small):
    """A folder with digits as .npy and .csv, and a saved model."""
    folder = tmp_path_factory.mktemp("inputs")
    X, y = digits_small
    np.save(folder / "digits.npy", X[:200])
    rows = [",".join(f"{v:g}" for v in row) + f",{label}" for row, label in zip(X[:200], y[:200])]
    (folder / "digits.csv").write_text("\n".join(rows) + "\n")
    fitted_dec.save(folder / "model")
    return folder


def fit(*args: str) -> int:
    return main(["fit", "--method", "dec", *args, *TINY])


def test_output_over_its_own_input_is_refused(inputs, tmp_path, capsys):
    d2 = tmp_path / "d2"
    d2.mkdir()
    data = (inputs / "digits.csv").read_bytes()
    (d2 / "labels.csv").write_bytes(data)
    assert fit("--data", str(d2 / "labels.csv"), "--label-column", "-1", "--out", str(d2)) == 1
    assert "is an input and would be overwritten" in capsys.readouterr().err
    assert (d2 / "labels.csv").read_bytes() == data and sorted(os.listdir(d2)) == ["labels.csv"]


def test_predict_onto_its_own_input_is_refused(inputs, tmp_path, capsys):
    data = tmp_path / "digits.npy"
    data.write_bytes((inputs / "digits.npy").read_bytes())
    before = data.read_bytes()
    assert main(["predict", "--model", str(inputs / "model"), "--data", str(data), "--out", str(data)]) == 1
    assert "is an input" in capsys.readouterr().err and data.read_bytes() == before


def _foreign_output_folder(root: Path) -> dict[str, bytes]:
    (root / "model").mkdir(parents=True)
    files = {"model/config.json": b'{"my":1}', "model/weights-mine.safetensors": b"mine", "labels.csv": b"a,b\n1,2\n"}
    for name, payload in files.items():
        (root / name).write_bytes(payload)
    return files


def test_a_folder_holding_the_users_files_is_refused(inputs, tmp_path, capsys):
    files = _foreign_output_folder(tmp_path / "p")
    assert fit("--data", str(inputs / "digits.npy"), "--out", str(tmp_path / "p")) == 1
    assert "decluster did not write" in capsys.readouterr().err
    assert {name: (tmp_path / "p" / name).read_bytes() for name in files} == files


def test_overwrite_replaces_same_named_files_but_deletes_nothing(inputs, tmp_path):
    _foreign_output_folder(tmp_path / "p")
    assert fit("--data", str(inputs / "digits.npy"), "--out", str(tmp_path / "p"), "--overwrite") == 0
    assert (tmp_path / "p" / "model" / "weights-mine.safetensors").read_bytes() == b"mine"
    DEC.load(tmp_path / "p" / "model")


def test_a_checkpoint_folder_holding_the_users_files_is_refused(inputs, tmp_path, capsys):
    user = tmp_path / "userdir"
    user.mkdir()
    (user / "notes.txt").write_text("notes")
    (user / "weights-backup.safetensors").write_bytes(b"backup")
    code = fit("--data", str(inputs / "digits.npy"), "--out", str(tmp_path / "out"), "--checkpoint-dir", str(user))
    assert code == 1 and "not a decluster checkpoint" in capsys.readouterr().err
    assert sorted(os.listdir(user)) == ["notes.txt", "weights-backup.safetensors"]
    assert not (tmp_path / "out").exists()


def test_a_second_fit_into_its_own_folder_is_allowed_unless_a_result_was_edited(inputs, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert fit("--data", str(inputs / "digits.npy"), "--out", out) == 0
    assert fit("--data", str(inputs / "digits.npy"), "--out", out) == 0
    (tmp_path / "out" / "labels.csv").write_text("my edits")
    assert fit("--data", str(inputs / "digits.npy"), "--out", out) == 1
    assert "labels.csv not written by decluster" in capsys.readouterr().err
    assert (tmp_path / "out" / "labels.csv").read_text() == "my edits"


@pytest.mark.parametrize("where", ["a file", "a read-only place", "a file as checkpoint folder"])
def test_unwritable_outputs_are_found_before_training(inputs, tmp_path, capsys, monkeypatch, where):
    monkeypatch.setattr(DEC, "fit", lambda *a, **k: pytest.fail("training started"))
    (tmp_path / "afile").write_text("x")
    out = {"a file": tmp_path / "afile", "a read-only place": Path("/proc/decluster-test")}.get(where, tmp_path / "o")
    extra = ["--checkpoint-dir", str(tmp_path / "afile")] if where == "a file as checkpoint folder" else []
    assert fit("--data", str(inputs / "digits.npy"), "--out", str(out), *extra) == 1
    error = capsys.readouterr().err
    assert error.startswith("decluster fit: error:") and len(error.splitlines()) == 1


def _predict(inputs: Path, out: str, extra: tuple[str, ...] = (), **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), "predict", "--model", str(inputs / "model"), "--data",
                           str(inputs / "digits.npy"), "--out", out, *extra], capture_output=True, timeout=120,
                          **kwargs)


def test_predict_streams_into_fifos_devices_and_standard_output(inputs, tmp_path):
    expected = _predict(inputs, str(tmp_path / "plain.csv")).returncode == 0 and (tmp_path / "plain.csv").read_bytes()
    assert expected.startswith(b"index,cluster,confidence\n")
    assert _predict(inputs, "-").stdout == expected
    assert _predict(inputs, "/dev/null").returncode == 0 and Path("/dev/null").is_char_device()
    substituted = subprocess.run(
        ["bash", "-c", f'"{SCRIPT}" predict --model "{inputs / "model"}" --data "{inputs / "digits.npy"}" '
                       f'--out >(gzip > "{tmp_path / "x.csv.gz"}"); status=$?; wait; exit $status'],
        capture_output=True, timeout=120)
    assert substituted.returncode == 0, substituted.stderr
    for _ in range(100):
        try:
            if gzip.decompress((tmp_path / "x.csv.gz").read_bytes()) == expected:
                break
        except (OSError, EOFError):
            pass
        subprocess.run(["sleep", "0.1"])
    assert gzip.decompress((tmp_path / "x.csv.gz").read_bytes()) == expected
    (tmp_path / "link.csv").symlink_to("plain.csv")
    (tmp_path / "plain.csv").write_text("old")  # no longer the file decluster wrote: replaced only when asked
    refused = _predict(inputs, str(tmp_path / "link.csv"))
    assert refused.returncode == 1 and b"--overwrite" in refused.stderr
    assert (tmp_path / "plain.csv").read_text() == "old"
    assert _predict(inputs, str(tmp_path / "link.csv"), extra=["--overwrite"]).returncode == 0
    assert (tmp_path / "link.csv").is_symlink() and (tmp_path / "plain.csv").read_bytes() == expected


CHILD = """
import os, signal, sys
import decluster.io.files as files
real_fsync, calls = files.os.fsync, []
def fsync(fd):
    real_fsync(fd)
    if sys.argv[1] in os.readlink(f"/proc/self/fd/{fd}") and not calls:
        calls.append(fd)
        os.kill(os.getpid(), signal.SIGTERM)
files.os.fsync = fsync
from decluster.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_sigterm_during_the_final_save_finishes_it_and_says_so(inputs, tmp_path):
    out = tmp_path / "out"
    args = ["fit", "--method", "dec", "--data", str(inputs / "digits.npy"), "--out", str(out), *TINY]
    result = subprocess.run([sys.executable, "-c", CHILD, "/model/.weights-", *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 128 + 15, result.stderr
    assert result.stderr.count("\n") == 1 and "interrupted by SIGTERM" in result.stderr
    assert "--resume" in result.stderr
    assert not [name for name in os.listdir(out / "model") if name.endswith(".tmp")]
    DEC.load(out / "model")
    config = json.loads((out / "model" / "config.json").read_text())
    assert (out / "model" / config["weights"]).is_file()
