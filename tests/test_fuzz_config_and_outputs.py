"""Generated configuration files and output layouts.

Invariants: ``read_config`` returns values that the methods' own checks accept, or raises one
``ValueError`` that names the file; it never reads more than its size limit. Output folders that
pass the layout check never hold or lie inside one another or an output file.
"""

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from decluster.cli.commands import FIT_FILES, MODEL_FOLDER, UsageError, _check_output_layout
from decluster.cli.runconfig import MAX_CONFIG_LIST, config_text, estimator_defaults, read_config
from decluster.estimators.methods import METHODS
from decluster.io.folders import MANIFEST_FILE

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = [*estimator_defaults(), "scale", "method", "autoencoder_from", "learning_speed", "hidden-dims", ""]

scalars = st.one_of(st.integers(min_value=-10**20, max_value=10**20), st.floats(allow_nan=True),
                    st.booleans(), st.text(max_size=6), st.sampled_from(["auto", "mlp", "conv", "standard", "dec"]))
values = st.one_of(scalars, st.lists(st.integers(min_value=-3, max_value=600), max_size=MAX_CONFIG_LIST + 3),
                   st.lists(scalars, max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), scalars, max_size=2))


def _toml(value) -> str:
    """``value`` as a TOML value (tables inline, floats as TOML spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value > 0 else "-inf") if abs(value) == float("inf") \
            else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_toml(item)}" for key, item in value.items()) + "}"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _check_of(name: str):
    return next(cls._parameter_checks[name] for cls in METHODS.values() if name in cls._parameter_checks)


def _read_or_refuse(path: Path):
    try:
        return read_config(path)
    except ValueError as error:
        assert str(error).startswith(str(path)) or str(os.path.realpath(path)) in str(error), error
        assert "\n" not in str(error)
        return None


@FUZZ
@given(st.dictionaries(st.sampled_from([name for name in NAMES if name]), values, max_size=4))
def test_generated_config_files_are_read_checked_or_refused_naming_the_file(document):
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "run.toml"
        path.write_text("".join(f"{name} = {_toml(value)}\n" for name, value in document.items()), encoding="utf-8")
        config = _read_or_refuse(path)
        event("refused" if config is None else "read")
        if config is None:
            return
        for name, value in config.items():
            if name not in ("scale", "method", "autoencoder_from"):
                _check_of(name)(value, name)  # what the config gives, the methods accept
        parameters = {name: value for name, value in config.items() if name not in ("scale", "method")}
        path.write_text(config_text(parameters, {k: v for k, v in config.items() if k in ("scale", "method")}))
        assert read_config(path) == config  # and what decluster writes back reads the same


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=60).map(str.encode))
def test_random_bytes_as_a_config_file_are_refused_in_one_line_or_read(payload):
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "c.toml"
        path.write_bytes(payload)
        _read_or_refuse(path)


parts = st.sampled_from(["a", "b", MODEL_FOLDER, "checkpoint", "labels.csv", MANIFEST_FILE, "."])
relative_paths = st.lists(parts, min_size=1, max_size=4).map(lambda names: os.path.join(*names))


def _inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it, compared by normalised components."""
    path_parts, folder_parts = Path(os.path.normpath(path)).parts, Path(os.path.normpath(folder)).parts
    return path_parts[:len(folder_parts)] == folder_parts


@FUZZ
@given(relative_paths, relative_paths | st.none())
def test_generated_output_layouts_never_nest_one_output_in_another(out, checkpoint):
    with tempfile.TemporaryDirectory() as scratch:
        out, root = Path(scratch) / out, Path(scratch)
        checkpoint_dir = out / "checkpoint" if checkpoint is None else root / checkpoint
        files = [out / name for name in (*FIT_FILES, MANIFEST_FILE)]
        folders = {"the model folder": out / MODEL_FOLDER, "--checkpoint-dir": checkpoint_dir}
        clash = (_inside(str(checkpoint_dir), str(out / MODEL_FOLDER)) or _inside(str(out / MODEL_FOLDER),
                                                                                  str(checkpoint_dir))
                 or any(_inside(str(f), str(checkpoint_dir)) or _inside(str(checkpoint_dir), str(f)) for f in files))
        if clash:
            with pytest.raises(UsageError, match="--checkpoint-dir"):
                _check_output_layout(files, folders)
            return
        _check_output_layout(files, folders)
        for folder in folders.values():  # what passes can be written: no output replaces another
            folder.mkdir(parents=True)
            (folder / "config.json").write_text("{}")
        for path in files:
            path.write_text("x")
        assert all((folder / "config.json").read_text() == "{}" for folder in folders.values())
