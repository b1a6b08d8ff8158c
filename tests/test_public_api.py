"""The public API: what ``decluster.__all__`` lists, and the old import paths that still work."""

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import decluster

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def test_every_public_name_exists():
    missing = [name for name in decluster.__all__ if not hasattr(decluster, name)]
    assert missing == []


def test_the_api_reference_lists_every_public_name():
    text = API_PAGE.read_text()
    public = [name for name in decluster.__all__ if not name.startswith("__")]
    absent = [name for name in public if name not in text]
    assert absent == []


@pytest.mark.parametrize("old, new, name", [
    ("decluster.datasets", "decluster.data.datasets", "load_dataset"),
    ("decluster.preprocessing", "decluster.data.preprocessing", "InputSpec"),
])
def test_old_module_paths_work_with_a_deprecation_warning(old, new, name):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} has moved to {new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_the_warning_names_the_importing_line(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text("from decluster.datasets import load_dataset\n")
    result = subprocess.run([sys.executable, "-W", "always::DeprecationWarning", str(script)],
                            capture_output=True, text=True, check=True)
    assert f"{script}:1: DeprecationWarning: decluster.datasets has moved" in result.stderr


def test_new_paths_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        importlib.import_module("decluster.data.datasets")
        importlib.import_module("decluster.data.preprocessing")
