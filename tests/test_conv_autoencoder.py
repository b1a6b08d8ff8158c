"""DCEC's convolutional autoencoder: shapes and padding for any image size; DEC, IDEC and N2D on it."""

import json
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from decluster import DEC, N2D
from decluster.cli.commands import main
from decluster.data.files import DatasetError, file_image_shape, load_features
from decluster.nn import architectures
from decluster.nn.conv_autoencoder import ConvAutoencoder, halved_sides


@pytest.mark.parametrize("shape, inner", [
    ((28, 28, 1), (4, 4)),    # 28 -> 14 -> 7 -> 4
    ((16, 16, 1), (2, 2)),    # USPS
    ((30, 30, 1), (4, 4)),    # 30 -> 15 -> 8 -> 4: not a multiple of 8
    ((8, 8, 1), (1, 1)),      # digits
    ((13, 21, 3), (2, 3)),    # odd, non-square, colour
    ((1, 1, 1), (1, 1)),
])
def test_every_image_size_is_encoded_and_reconstructed_at_its_own_size(shape, inner):
    assert (halved_sides(shape[0])[-1], halved_sides(shape[1])[-1]) == inner
    network = ConvAutoencoder(shape, embedding_dim=7, generator=torch.Generator().manual_seed(0))
    rows = torch.rand(3, math.prod(shape))
    assert network.encode(rows).shape == (3, 7)
    assert network(rows).shape == rows.shape
    flat = network.encoder[-1].in_features
    assert flat == 128 * inner[0] * inner[1]


def test_rows_are_read_channels_last():
    network = ConvAutoencoder((4, 4, 3), generator=torch.Generator().manual_seed(0))
    image = torch.zeros(1, 4, 4, 3)
    image[0, 1, 2, 0] = 1.0  # red at row 1, column 2
    as_image = network.encoder[0](image.reshape(1, -1))
    assert as_image.shape == (1, 3, 4, 4) and float(as_image[0, 0, 1, 2]) == 1.0 and float(as_image.sum()) == 1.0


def test_seeded_initialisation_is_reproducible_and_the_reconstruction_is_linear():
    first = ConvAutoencoder((8, 8, 1), generator=torch.Generator().manual_seed(3))
    again = ConvAutoencoder((8, 8, 1), generator=torch.Generator().manual_seed(3))
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert not isinstance(first.decoder[-2], torch.nn.ReLU)  # last transposed convolution, then reshape


def test_configs_are_checked_and_sized_without_building():
    config = ConvAutoencoder((28, 28, 1)).config()
    shapes = architectures.config_state_shapes(architectures.check_config(config))
    assert shapes == {name: tuple(t.shape) for name, t in ConvAutoencoder((28, 28, 1)).state_dict().items()}
    for bad in ({"kind": "rnn"}, {**config, "image_shape": [28, 28]}, {**config, "channels": [0, 1, 2]},
                {**config, "extra": 1}):
        with pytest.raises(ValueError):
            architectures.check_config(bad)


def test_dec_and_n2d_on_the_conv_autoencoder_fit_save_and_load(digits_small, make_dec, tmp_path):
    X, y = digits_small
    dec = make_dec(architecture="conv", image_shape=(8, 8), finetune_epochs=5).fit(X)
    assert list(dec.pretrain_losses_) == ["fine-tuning"]  # trained end to end
    assert dec.autoencoder_.config()["kind"] == "conv"
    dec.save(tmp_path / "dec")
    loaded = DEC.load(tmp_path / "dec", device="cpu")
    np.testing.assert_array_equal(loaded.predict(X), dec.labels_)
    assert json.loads((tmp_path / "dec" / "config.json").read_text())["autoencoder"]["kind"] == "conv"
    pytest.importorskip("umap")
    n2d = N2D(n_clusters=10, autoencoder=dec.autoencoder_, random_state=0, device="cpu").fit(X)
    n2d.save(tmp_path / "n2d")
    np.testing.assert_array_equal(N2D.load(tmp_path / "n2d", device="cpu").predict(X), n2d.labels_)


def test_conv_needs_an_image_shape(digits_small, make_dec):
    with pytest.raises(ValueError, match="architecture='conv' needs image_shape"):
        make_dec(architecture="conv").fit(digits_small[0])
    with pytest.raises(ValueError, match="architecture must be one of"):
        make_dec(architecture="rnn").fit(digits_small[0])


def test_a_crafted_conv_config_is_refused_at_load(digits_small, make_dec, tmp_path):
    make_dec(architecture="conv", image_shape=(8, 8), finetune_epochs=2, max_iter=20).fit(
        digits_small[0]).save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    config["autoencoder"]["image_shape"] = [4, 16, 1]  # the same features, other tensors
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="invalid model"):
        DEC.load(tmp_path / "m")


def test_command_line_autoencoder_conv(tmp_path):
    out = tmp_path / "conv"
    assert main(["fit", "--method", "dec", "--dataset", "digits", "--autoencoder", "conv", "--finetune-epochs", "2", "--max-iter",
                 "50", "--n-init", "2", "--quiet", "--no-plots", "--device", "cpu", "--random-state", "0",
                 "--out", str(out)]) == 0
    assert 'architecture = "conv"' in (out / "config.toml").read_text()


def test_image_arrays_in_npy_and_npz_files_become_rows_with_their_shape(tmp_path):
    images = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2)
    np.save(tmp_path / "colour.npy", images)
    np.savez(tmp_path / "grey.npz", X=images[..., 0], y=np.array([5, 7]))
    X, y = load_features(tmp_path / "colour.npy")
    assert X.shape == (2, 24) and y is None
    assert X[1, 2 * 4 + 1] == images[1, 1, 0, 1]  # row 1, column 0, channel 1: row-major, channels last
    assert file_image_shape(tmp_path / "colour.npy") == (3, 4, 2)
    X, y = load_features(tmp_path / "grey.npz")
    assert X.shape == (2, 12) and y.tolist() == [5, 7] and file_image_shape(tmp_path / "grey.npz") == (3, 4)
    np.save(tmp_path / "rows.npy", images.reshape(2, -1))
    assert file_image_shape(tmp_path / "rows.npy") is None
    with pytest.raises(DatasetError, match="no label column"):
        load_features(tmp_path / "colour.npy", label_column=0)


def test_command_line_reads_the_image_shape_from_an_image_file(tmp_path, capsys):
    digits = load_digits()
    np.save(tmp_path / "digits.npy", digits.images[:300].astype(np.float32))
    out = tmp_path / "run"
    assert main(["fit", "--method", "dec", "--data", str(tmp_path / "digits.npy"), "--n-clusters", "10", "--augment",
                 "--layer-epochs", "1", "--finetune-epochs", "1", "--max-iter", "20", "--n-init", "2", "--quiet",
                 "--no-plots", "--device", "cpu", "--out", str(out)]) == 0
    assert "image_shape = [8, 8]" in (out / "config.toml").read_text()
    assert main(["fit", "--method", "dec", "--data", str(tmp_path / "digits.npy"), "--image-shape", "4", "16", "--quiet",
                 "--out", str(tmp_path / "mismatch")]) == 1
    assert "does not match the images" in capsys.readouterr().err
    assert not (tmp_path / "mismatch").exists()
