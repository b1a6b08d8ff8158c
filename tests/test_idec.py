"""IDEC: DEC's clustering with the decoder's reconstruction loss kept (Guo et al., IJCAI 2017)."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from decluster import DEC, IDEC, cluster_accuracy
from decluster.objectives import idec_loss, mean_squared_error


def test_mean_squared_error_by_hand():
    output = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    assert float(mean_squared_error(output, target)) == pytest.approx((0 + 4 + 9 + 0) / 4)  # 3.25


def test_idec_loss_weights_the_clustering_loss_by_gamma():
    assert float(idec_loss(torch.tensor(2.0), torch.tensor(0.5), 0.1)) == pytest.approx(0.5 + 0.1 * 2.0)


@pytest.fixture(scope="module")
def fitted_idec(digits_small, make_dec):
    params = {name: value for name, value in make_dec().get_params().items() if name != "lr"}
    return IDEC(**params).fit(digits_small[0])


def test_idec_learns_digits_and_refines_encoder_and_decoder(fitted_idec, digits_small):
    X, y = digits_small
    assert cluster_accuracy(y, fitted_idec.labels_) > 0.7
    pretrained = fitted_idec.autoencoder_
    for refined, original in ((fitted_idec.encoder_, pretrained.encoder), (fitted_idec.decoder_, pretrained.decoder)):
        assert not torch.equal(refined[0].weight, original[0].weight)
    assert (fitted_idec.predict(X) == fitted_idec.labels_).all()


def test_idec_parameters_and_clone(fitted_idec):
    params = clone(fitted_idec).get_params()
    assert params["gamma"] == 0.1 and params["clustering_optimizer"] == "adam"
    assert IDEC().get_params()["lr"] == 1e-3 and set(DEC().get_params()) < set(IDEC().get_params())


@pytest.mark.parametrize("name, value", [("gamma", -1.0), ("gamma", "x"), ("clustering_optimizer", "rmsprop")])
def test_bad_idec_parameters(digits_small, name, value):
    with pytest.raises((ValueError, TypeError)):
        IDEC(**{name: value, "hidden_dims": (8,), "layer_epochs": 1, "finetune_epochs": 1}).fit(digits_small[0])


def test_idec_save_load_round_trip(fitted_idec, digits_small, tmp_path):
    fitted_idec.save(tmp_path / "model")
    loaded = IDEC.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict(digits_small[0]), fitted_idec.labels_)
    assert torch.equal(loaded.decoder_[0].weight, fitted_idec.decoder_[0].weight)
    with pytest.raises(ValueError, match="not a 'DEC' model"):
        DEC.load(tmp_path / "model")


def test_one_pretrained_autoencoder_serves_dec_and_idec(fitted_idec, digits_small, make_dec):
    X, y = digits_small
    dec = make_dec(autoencoder=fitted_idec.autoencoder_).fit(X)
    idec = IDEC(**{**make_dec().get_params(), "lr": 1e-3, "autoencoder": fitted_idec.autoencoder_}).fit(X)
    assert dec.pretrain_losses_ == {} and idec.pretrain_losses_ == {}
    assert min(cluster_accuracy(y, dec.labels_), cluster_accuracy(y, idec.labels_)) > 0.7


PARAMS = dict(estimator="IDEC", n_clusters=10, hidden_dims=[64, 64], layer_epochs=2, finetune_epochs=3,
              pretrain_batch_size=64, n_init=2, update_interval=30, max_iter=150, batch_size=64, device="cpu",
              precision="float32", random_state=3)


def test_idec_sigkill_in_clustering_then_resume_gives_the_same_labels(digits, kill_and_resume):
    config, reference, resumed = kill_and_resume(PARAMS, digits[0][:500], "iteration 60:")
    assert config["stage"] == "clustering" and config["loop"] is not None
    np.testing.assert_array_equal(resumed, reference)
