import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from decluster import DEC, StackedAutoencoder, cluster_accuracy


def test_fit_learns_clusters_of_digits(fitted_dec, digits_small):
    X, y = digits_small
    model = fitted_dec
    assert model.labels_.shape == (len(X),)
    assert model.cluster_centers_.shape == (10, 10)
    assert model.n_iter_ > 0
    assert model.n_features_in_ == 64
    assert set(model.pretrain_losses_) == {"layer 1", "layer 2", "layer 3", "fine-tuning"}
    assert set(model.phase_times_) == {"pretrain", "kmeans", "clustering"}
    assert len(model.history_.label_changes) == len(model.history_.losses) >= 1
    # far better than chance (0.1) even with this tiny network and schedule
    assert cluster_accuracy(y, model.labels_) > 0.6


def test_pretraining_lowers_reconstruction_error(fitted_dec):
    for stage, losses in fitted_dec.pretrain_losses_.items():
        assert losses[-1] < losses[0], stage


def test_end_to_end_pretraining(digits_small, make_dec):
    X, y = digits_small
    model = make_dec(pretrain="end-to-end").fit(X)
    assert list(model.pretrain_losses_) == ["fine-tuning"]
    assert cluster_accuracy(y, model.labels_) > 0.6


def test_bfloat16_training_learns_and_keeps_float32_labels(digits_small, make_dec):
    X, y = digits_small
    model = make_dec(precision="bfloat16").fit(X)
    assert cluster_accuracy(y, model.labels_) > 0.6
    assert model.encoder_[0].weight.dtype == torch.float32
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_predict_reproduces_training_labels(fitted_dec, digits_small):
    X, _ = digits_small
    np.testing.assert_array_equal(fitted_dec.predict(X), fitted_dec.labels_)


def test_predict_proba_rows_are_distributions(fitted_dec, digits_small):
    X, _ = digits_small
    q = fitted_dec.predict_proba(X)
    assert q.shape == (len(X), 10)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(q.argmax(axis=1), fitted_dec.labels_)


def test_transform_returns_the_embedding(fitted_dec, digits_small):
    X, _ = digits_small
    z = fitted_dec.transform(X[:5])
    assert z.shape == (5, 10) and z.dtype == np.float32


def test_score_is_the_negative_dec_objective(fitted_dec, digits_small):
    X, _ = digits_small
    q = fitted_dec.predict_proba(X).astype(np.float64)
    weight = q**2 / q.sum(axis=0)
    p = weight / weight.sum(axis=1, keepdims=True)
    kl = np.sum(p * np.log(p / q)) / len(X)
    assert fitted_dec.score(X) == pytest.approx(-kl, rel=1e-4)
    assert fitted_dec.score(X) < 0.0


def test_same_seed_same_labels(digits_small, make_dec):
    X, _ = digits_small
    first = make_dec(random_state=3).fit(X)
    second = make_dec(random_state=3).fit(X)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_array_equal(first.cluster_centers_, second.cluster_centers_)


def test_fit_leaves_global_rng_and_input_untouched(digits_small, make_dec):
    X, _ = digits_small
    X_before = X.copy()
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    make_dec(max_iter=40).fit(X)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    np.testing.assert_array_equal(X, X_before)


def test_given_autoencoder_is_copied_not_trained(fitted_dec, digits_small, make_dec):
    X, y = digits_small
    autoencoder = fitted_dec.autoencoder_
    before = {name: value.clone() for name, value in autoencoder.state_dict().items()}
    model = make_dec(autoencoder=autoencoder).fit(X)
    assert model.pretrain_losses_ == {}
    assert model.autoencoder_ is not autoencoder
    for name, value in autoencoder.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert cluster_accuracy(y, model.labels_) > 0.6


def test_given_autoencoder_must_match_the_data(digits_small, make_dec):
    X, _ = digits_small
    with pytest.raises(ValueError, match="expects 32 input features"):
        make_dec(autoencoder=StackedAutoencoder([32, 8, 4])).fit(X)
    with pytest.raises(TypeError, match="StackedAutoencoder"):
        make_dec(autoencoder=torch.nn.Linear(64, 10)).fit(X)


def test_max_iter_raises_convergence_warning(digits_small, make_dec):
    X, _ = digits_small
    with pytest.warns(ConvergenceWarning):
        model = make_dec(tol=0.0, max_iter=30).fit(X)
    assert model.n_iter_ == 30 and not model.converged_


def test_clone_copies_parameters_not_state(fitted_dec):
    copy = clone(fitted_dec)
    assert copy.get_params() == fitted_dec.get_params()
    assert not hasattr(copy, "labels_")


def test_works_in_a_pipeline_after_a_scaler(digits_small, make_dec):
    X, y = digits_small
    pipeline = make_pipeline(MinMaxScaler(), make_dec())
    labels = pipeline.fit_predict(X * 16.0)
    assert cluster_accuracy(y, labels) > 0.6
    np.testing.assert_array_equal(pipeline.predict(X * 16.0), labels)


def test_works_in_grid_search_with_a_scorer(digits_small, make_dec):
    X, y = digits_small
    search = GridSearchCV(make_dec(max_iter=60), {"alpha": [1.0, 2.0]}, scoring="adjusted_rand_score", cv=2)
    search.fit(X, y)
    assert search.best_params_["alpha"] in (1.0, 2.0)
    assert np.isfinite(search.best_score_)


def test_methods_need_a_fitted_model(digits_small):
    X, _ = digits_small
    for method in ("predict", "predict_proba", "transform", "score", "save"):
        with pytest.raises(NotFittedError):
            getattr(DEC(), method)(X if method != "save" else "unused")
