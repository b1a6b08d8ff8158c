"""``decluster fit --method dec|idec|n2d``, reusing a pretrained autoencoder, and loading any method."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from decluster import DEC, IDEC, N2D
from decluster.cli.commands import build_parser, load_model, main

pytest.importorskip("umap")

TINY = ["--quiet", "--no-plots", "--hidden-dims", "64", "--layer-epochs", "2", "--finetune-epochs", "5",
        "--random-state", "0", "--device", "cpu"]
CLUSTERING = ["--max-iter", "200", "--n-init", "2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("methods")
    for method in ("dec", "idec", "n2d"):
        extra = [] if method == "n2d" else CLUSTERING
        assert main(["fit", "--method", method, "--out", str(root / method), *TINY, *extra]) == 0
    return root


@pytest.mark.parametrize("method, cls", [("dec", DEC), ("idec", IDEC), ("n2d", N2D)])
def test_each_method_saves_its_own_kind_and_predicts_its_labels(runs, method, cls, tmp_path):
    model = load_model(runs / method / "model")
    assert type(model) is cls
    predictions = tmp_path / "p.csv"
    assert main(["predict", "--model", str(runs / method / "model"), "--dataset", "digits",
                 "--out", str(predictions)]) == 0
    assert predictions.read_text() == (runs / method / "labels.csv").read_text()
    metrics = json.loads((runs / method / "metrics.json").read_text())
    assert metrics["method"] == method and metrics["accuracy"] > 0.2
    assert f'method = "{method}"' in (runs / method / "config.toml").read_text()


def test_plot_works_for_n2d(runs, tmp_path):
    assert main(["plot", "--model", str(runs / "n2d" / "model"), "--dataset", "digits", "--out", str(tmp_path),
                 "--plot-points", "200", "--quiet"]) == 0
    assert (tmp_path / "embedding.png").is_file() and (tmp_path / "training.png").is_file()


def test_a_flag_of_another_method_is_refused(tmp_path, capsys):
    assert main(["fit", "--method", "dec", "--gamma", "0.2", "--out", str(tmp_path / "o"), *TINY]) == 1
    assert "--gamma does not apply to --method dec" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_autoencoder_from_skips_pretraining(runs, tmp_path):
    out = tmp_path / "reuse"
    assert main(["fit", "--method", "idec", "--autoencoder-from", str(runs / "dec" / "model"), "--out", str(out),
                 *TINY, *CLUSTERING]) == 0
    reused, source = IDEC.load(out / "model"), DEC.load(runs / "dec" / "model")
    assert reused.pretrain_losses_ == {}
    assert torch.equal(reused.autoencoder_.encoder[0].weight, source.autoencoder_.encoder[0].weight)


def test_another_method_may_replace_the_model_in_its_own_folder(tmp_path):
    out = str(tmp_path / "out")
    assert main(["fit", "--method", "dec", "--out", out, *TINY, *CLUSTERING]) == 0
    assert main(["fit", "--method", "n2d", "--out", out, *TINY]) == 0
    assert type(load_model(Path(out) / "model")) is N2D
    assert len(list((Path(out) / "model").glob("weights-*.safetensors"))) == 1


def test_config_toml_repeats_the_method(runs):
    args = build_parser().parse_args(["fit", "--config", str(runs / "idec" / "config.toml")])
    from decluster.cli.runconfig import explicit_parameters, run_options

    assert run_options(args)["method"] == "idec" and explicit_parameters(args)["gamma"] == 0.1


def test_help_names_each_methods_default():
    text = build_parser()._subparsers._group_actions[0].choices["fit"].format_help()
    assert "idec 0.001" in " ".join(text.split()) and "idec only" in " ".join(text.split())


def test_augment_on_a_named_image_data_set_knows_its_shape(tmp_path):
    out = tmp_path / "aug"
    assert main(["fit", "--method", "dec", "--dataset", "digits", "--augment", "--out", str(out), *TINY, *CLUSTERING]) == 0
    config = (out / "config.toml").read_text()
    assert "augment = true" in config and "image_shape = [8, 8]" in config
    model = DEC.load(out / "model", device="cpu")
    assert model.augment is True and tuple(model.image_shape) == (8, 8)


def test_augment_of_a_file_needs_its_image_shape(tmp_path, capsys, digits):
    data = tmp_path / "images.npy"
    np.save(data, digits[0][:200])
    assert main(["fit", "--method", "dec", "--data", str(data), "--augment", "--out", str(tmp_path / "o"), *TINY]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "needs image_shape" in error
    assert main(["fit", "--method", "dec", "--data", str(data), "--augment", "--image-shape", "8", "8", "--n-clusters", "10",
                 "--out", str(tmp_path / "o2"), *TINY, *CLUSTERING]) == 0


def test_init_manifold_through_the_command_line(tmp_path, capsys):
    out = tmp_path / "manifold"
    assert main(["fit", "--method", "dec", "--init", "manifold", "--out", str(out), *TINY, *CLUSTERING]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["seconds"]) == {"pretrain", "manifold", "clustering"} and metrics["accuracy"] > 0.2
    assert 'init = "manifold"' in (out / "config.toml").read_text()
    assert DEC.load(out / "model").init == "manifold"
    assert main(["fit", "--method", "n2d", "--init", "manifold", "--out", str(tmp_path / "n2d"), *TINY]) == 1
    assert "--init does not apply to --method n2d" in capsys.readouterr().err
