"""Every kind of bad input named in the documentation raises the documented error."""

import numpy as np
import pytest

from decluster import DEC, IDEC, N2D
from decluster.estimators.validation import AutoOr, Integer, check_parameters
from decluster.training.settings import AUTO_FINETUNE_EPOCHS, AUTO_LAYER_EPOCHS


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "infinity"),
        (np.array([1.0, 2.0, 3.0]), "Expected 2D array"),
        (np.empty((0, 4)), "0 sample"),
        (np.empty((3, 0)), "0 feature"),
        (np.array([["a", "b"], ["c", "d"]]), "could not convert|dtype"),
        (np.array([[1.0 + 1j, 2.0]]), "Complex data not supported"),
    ],
)
def test_bad_training_data(X, message, make_dec):
    with pytest.raises(ValueError, match=message):
        make_dec(n_clusters=1).fit(X)


def test_fewer_samples_than_clusters(make_dec):
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=10"):
        make_dec().fit(np.zeros((3, 4)))


@pytest.mark.parametrize(
    "params, error",
    [
        ({"n_clusters": 0}, ValueError),
        ({"n_clusters": -2}, ValueError),
        ({"n_clusters": 2.5}, TypeError),
        ({"n_clusters": True}, TypeError),
        ({"alpha": 0.0}, ValueError),
        ({"alpha": 6.8e38}, ValueError),
        ({"tol": 1.5}, ValueError),
        ({"tol": float("nan")}, ValueError),
        ({"max_iter": 0}, ValueError),
        ({"batch_size": -1}, ValueError),
        ({"pretrain_batch_size": 0}, ValueError),
        ({"update_interval": 0}, ValueError),
        ({"dropout": 1.0}, ValueError),
        ({"lr": 0.0}, ValueError),
        ({"momentum": 1.0}, ValueError),
        ({"pretrain": "greedy"}, ValueError),
        ({"pretrain_optimizer": "rmsprop"}, ValueError),
        ({"pretrain_lr_schedule": "linear"}, ValueError),
        ({"layer_epochs": -1}, ValueError),
        ({"hidden_dims": (64, 0)}, ValueError),
        ({"hidden_dims": "500"}, TypeError),
        ({"embedding_dim": 0}, ValueError),
        ({"n_init": 0}, ValueError),
        ({"init": "random"}, ValueError),
        ({"device": "not-a-device"}, ValueError),
    ],
)
def test_bad_parameters_are_reported_at_fit(params, error, make_dec, digits_small):
    X, _ = digits_small
    with pytest.raises(error):
        make_dec(**params).fit(X[:20])


def test_wrong_feature_count_at_predict(fitted_dec):
    with pytest.raises(ValueError, match="X has 3 features, but DEC is expecting 64 features"):
        fitted_dec.predict(np.zeros((2, 3)))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "transform", "score"])
def test_bad_data_at_predict(fitted_dec, method):
    X = np.zeros((2, 64))
    X[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        getattr(fitted_dec, method)(X)


def test_constructor_only_stores_parameters():
    model = DEC(n_clusters=-5, pretrain="nonsense")
    assert model.n_clusters == -5 and model.pretrain == "nonsense"


@pytest.mark.parametrize("estimator", [DEC, IDEC, N2D])
def test_every_parameter_has_one_declared_constraint(estimator):
    assert set(estimator._parameter_checks) == set(estimator().get_params())


def test_undeclared_parameters_and_auto_values_are_checked():
    checks = {"epochs": AutoOr(Integer(0))}
    assert check_parameters({"epochs": "auto"}, checks) == {"epochs": "auto"}
    assert check_parameters({"epochs": np.int64(3)}, checks) == {"epochs": 3}
    with pytest.raises(ValueError, match="'auto' or a number"):
        check_parameters({"epochs": "many"}, checks)
    with pytest.raises(ValueError, match="epochs"):
        check_parameters({"epochs": -1}, checks)
    with pytest.raises(TypeError, match="no constraint declared for size"):
        check_parameters({"epochs": 1, "size": 2}, checks)


@pytest.mark.parametrize("budget, n_samples, epochs", [
    (AUTO_LAYER_EPOCHS, 70_000, 10),      # 274 batches: ceil(2500 / 274) = 10 < floor(1.5 * 274)
    (AUTO_FINETUNE_EPOCHS, 70_000, 30),   # ceil(8000 / 274) = 30
    (AUTO_LAYER_EPOCHS, 10_000, 60),      # 40 batches: ceil(62.5) = 63 > 1.5 * 40 = 60
    (AUTO_FINETUNE_EPOCHS, 10_000, 200),  # 8000 / 40 = 200 = 5 * 40
    (AUTO_LAYER_EPOCHS, 1_797, 12),       # 8 batches: 313 > floor(1.5 * 8) = 12
    (AUTO_FINETUNE_EPOCHS, 1_797, 40),    # 1000 > 5 * 8 = 40
    (AUTO_FINETUNE_EPOCHS, 178, 30),      # one batch: 8000 > max(30, 5)
    (AUTO_LAYER_EPOCHS, 178, 10),         # one batch: 2500 > max(10, 1)
    (AUTO_FINETUNE_EPOCHS, 1_000_000, 3),  # 3907 batches: ceil(2.05) = 3 steps' worth
])
def test_auto_epochs_by_hand(budget, n_samples, epochs):
    assert budget.epochs(n_samples, 256) == epochs


def test_auto_epochs_resolve_per_data_set_size():
    model = DEC()
    for n_samples, layer, finetune in ((70_000, 10, 30), (10_000, 60, 200), (1_797, 12, 40), (178, 10, 30)):
        settings = model._pretrain_settings(model._checked_params(), "float32", n_samples)
        assert (settings.layer_epochs, settings.finetune_epochs) == (layer, finetune)
    explicit = DEC(layer_epochs=2, finetune_epochs=5)
    settings = explicit._pretrain_settings(explicit._checked_params(), "float32", 10_000)
    assert (settings.layer_epochs, settings.finetune_epochs) == (2, 5)
