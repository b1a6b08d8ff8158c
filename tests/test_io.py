"""decluster.io: reads that never hang or follow links out, writes that never replace special files,
folder ownership and locks."""

import json
import os
import threading
from pathlib import Path

import pytest

from decluster import DEC
from decluster.io import FolderInUseError, folder_lock, read_json, read_regular_file, write_output
from decluster.io.folders import check_output_folder, claimed_output_folder, record_files
from decluster.io.model_folder import CONFIG_FILE, write_model


def _in_thread(function, timeout: float = 10.0):
    """Run ``function`` in a thread; return its result or exception; fail if it hangs."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - handed back to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "hung"
    return outcome


# ------------------------------------------------------------------ reading
def test_reading_a_fifo_neither_hangs_nor_succeeds(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    outcome = _in_thread(lambda: read_regular_file(tmp_path / "pipe"))
    assert isinstance(outcome.get("error"), ValueError) and "not a regular file" in str(outcome["error"])


def test_links_out_of_the_folder_are_refused_and_inner_links_followed(tmp_path):
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="leads out of"):
        read_regular_file(tmp_path / "zero", within=tmp_path)
    with pytest.raises(ValueError, match="symbolic link"):
        read_regular_file(tmp_path / "zero")
    (tmp_path / "real").write_bytes(b"abc")
    (tmp_path / "alias").symlink_to("real")
    assert read_regular_file(tmp_path / "alias", within=tmp_path) == b"abc"


def test_size_limit_is_checked_before_reading(tmp_path):
    (tmp_path / "big.json").write_bytes(b" " * 1000 + b"{}")
    with pytest.raises(ValueError, match="more than the 100 accepted"):
        read_json(tmp_path / "big.json", limit=100)


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"alpha": NaN}', "not a JSON number"),
    ('{"alpha": -Infinity}', "not a JSON number"),
    ("\xff\xfe", "not valid JSON"),
])
def test_json_that_python_would_accept_or_crash_on_is_refused(tmp_path, text, message):
    (tmp_path / "c.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=message):
        read_json(tmp_path / "c.json")


# ------------------------------------------------------------------ writing
def test_writing_into_a_fifo_streams_and_keeps_the_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, b"hello\n")
    reader.join(10)
    assert received == [b"hello\n"]
    assert fifo.is_fifo()


def test_writing_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "target.csv").write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to("target.csv")
    write_output(link, b"new")
    assert link.is_symlink() and (tmp_path / "target.csv").read_text() == "new"


def test_writing_to_a_device_writes_into_it():
    assert os.path.exists("/dev/null")
    before = os.stat("/dev/null")
    write_output("/dev/null", b"discarded")
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_rdev, after.st_mode) == (before.st_ino, before.st_rdev, before.st_mode)


def test_a_full_disk_error_names_the_file():
    with pytest.raises(OSError, match="/dev/full"):
        write_output("/dev/full", b"x" * 100_000)


def test_writing_onto_a_folder_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        write_output(tmp_path, b"x")


# ------------------------------------------------------------------ folders
def test_output_folder_rules(tmp_path):
    names = ["labels.csv", "metrics.json"]
    check_output_folder(tmp_path / "new", names)
    check_output_folder(tmp_path, names)  # empty
    (tmp_path / "labels.csv").write_text("mine")
    with pytest.raises(ValueError, match="did not write"):
        check_output_folder(tmp_path, names)
    check_output_folder(tmp_path, names, overwrite=True)
    (tmp_path / "labels.csv").write_text("written by decluster")
    record_files(tmp_path, ["labels.csv"])
    check_output_folder(tmp_path, names)
    (tmp_path / "notes.txt").write_text("the user's, never touched")
    check_output_folder(tmp_path, names)
    (tmp_path / "labels.csv").write_text("edited by the user")
    with pytest.raises(ValueError, match="labels.csv not written by decluster"):
        check_output_folder(tmp_path, names)


def test_a_failed_run_leaves_no_trace(tmp_path):
    out = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError), claimed_output_folder(out):
        assert (out / "manifest.json").is_file()
        raise RuntimeError("the fit failed")
    assert not (tmp_path / "a").exists()


def test_a_claimed_folder_refuses_a_second_run(tmp_path):
    with claimed_output_folder(tmp_path / "out"):
        outcome = _in_thread(lambda: folder_lock(tmp_path / "out", wait=False).__enter__())
        assert isinstance(outcome.get("error"), FolderInUseError)


def test_model_folder_cleanup_deletes_only_what_its_config_named(tmp_path):
    import torch

    folder = tmp_path / "m"
    write_model(folder, "K", {}, {"w": torch.zeros(2)})
    first = json.loads((folder / CONFIG_FILE).read_text())["weights"]
    (folder / "weights-mine.safetensors").write_bytes(b"user's")
    (folder / f".{first}.abc123.tmp").write_bytes(b"debris of a killed save")
    write_model(folder, "K", {}, {"w": torch.ones(2)})
    names = sorted(path.name for path in folder.iterdir())
    second = json.loads((folder / CONFIG_FILE).read_text())["weights"]
    assert names == sorted([CONFIG_FILE, second, "weights-mine.safetensors"])


def test_concurrent_saves_into_one_folder_always_leave_a_loadable_model(fitted_dec, tmp_path):
    other = DEC(**{**fitted_dec.get_params(), "random_state": 1})
    other.__dict__.update({k: v for k, v in fitted_dec.__dict__.items() if k.endswith("_")})
    other.cluster_centers_ = fitted_dec.cluster_centers_ + 1  # a different model, different weights file
    folder = tmp_path / "model"
    errors = []

    def save_many(model):
        try:
            for _ in range(15):
                model.save(folder)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=save_many, args=(model,)) for model in (fitted_dec, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    DEC.load(folder, device="cpu")
    assert len(list(Path(folder).glob("weights-*.safetensors"))) == 1
