"""The image-recipe benchmark runs only the methods that a seed's record lacks (no training here)."""

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "image_recipes.py"


@pytest.fixture
def recipes(tmp_path, monkeypatch):
    """The benchmark module, its results folder in ``tmp_path``, and the ``run.py`` calls it makes."""
    spec = importlib.util.spec_from_file_location("image_recipes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path)
    calls = []

    def fake_run(command, check):
        methods = command[command.index("--method") + 1:command.index("--set")]
        path = Path(command[command.index("--json") + 1])
        path.write_text(json.dumps({"seed": 0, "methods": {method: {} for method in methods}}))
        calls.append(methods)

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    return module, calls


def arguments(methods):
    return argparse.Namespace(benchmark="mnist", init="kmeans", set=[], method=methods, device="cpu", data_dir=None)


def test_first_run_writes_the_seed_record(recipes, tmp_path):
    module, calls = recipes
    paths = module.run_recipe(arguments(["dec", "n2d"]), "mlp", True, 0)
    assert paths == [tmp_path / "images-mnist" / "mlp-aug-seed0.json"]
    assert calls == [["dec", "n2d"]]


def test_held_methods_are_not_run_again(recipes):
    module, calls = recipes
    module.run_recipe(arguments(["dec", "n2d"]), "mlp", True, 0)
    assert module.run_recipe(arguments(["n2d"]), "mlp", True, 0)[0].name == "mlp-aug-seed0.json"
    assert calls == [["dec", "n2d"]]


def test_missing_methods_get_a_record_of_their_own(recipes):
    module, calls = recipes
    module.run_recipe(arguments(["dec", "n2d"]), "mlp", True, 0)
    paths = module.run_recipe(arguments(["dec", "idec"]), "mlp", True, 0)
    assert [path.name for path in paths] == ["mlp-aug-seed0.json", "mlp-aug-idec-seed0.json"]
    assert calls == [["dec", "n2d"], ["idec"]]
    assert module.run_recipe(arguments(["idec"]), "mlp", True, 0) == paths
    assert len(calls) == 2
