"""N2D: autoencoder embedding, UMAP, Gaussian mixture; new points placed from their neighbours;
DEC and IDEC started from N2D's clusters (``init="manifold"``)."""

import builtins

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.mixture import GaussianMixture

import decluster.estimators.dec as dec_module
from decluster import DEC, IDEC, N2D, cluster_accuracy
from decluster.nn.manifold import (
    UMAP_INSTALL_HINT,
    centers_from_posterior,
    manifold_centers,
    mixture_log_posterior,
    place_on_manifold,
)

pytest.importorskip("umap")


PRETRAIN_ONLY = ("init", "n_init", "update_interval", "max_iter", "batch_size", "lr", "momentum", "tol",
                 "alpha")


def _n2d(make_dec, **overrides) -> N2D:
    params = {k: v for k, v in make_dec().get_params().items() if k not in PRETRAIN_ONLY}
    return N2D(**{**params, **overrides})


def test_placing_points_by_hand():
    reference = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    manifold = np.array([[1.0, 5.0], [3.0, 7.0], [100.0, 100.0]])
    placed = place_on_manifold(np.array([[2.0, 0.0], [1.0, 0.0]]), reference, manifold, n_neighbors=2)
    np.testing.assert_allclose(placed[0], [3.0, 7.0])  # a reference point keeps its own coordinates
    np.testing.assert_allclose(placed[1], [2.0, 6.0])  # equidistant from two: their mean


def test_mixture_posterior_matches_scikit_learn():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (50, 3)), rng.normal(4, 0.5, (50, 3))])
    mixture = GaussianMixture(2, covariance_type="full", random_state=0).fit(points)
    mine = np.exp(mixture_log_posterior(points, mixture.weights_, mixture.means_, mixture.covariances_))
    np.testing.assert_allclose(mine, mixture.predict_proba(points), atol=1e-10)


def test_mixture_posterior_by_hand():
    # one dimension, two equal-weight unit Gaussians at -1 and 1: p(2 | x=0) = 1/2, p(2 | x=1) = 1/(1+e^-2)
    log_p = mixture_log_posterior(np.array([[0.0], [1.0]]), np.array([0.5, 0.5]), np.array([[-1.0], [1.0]]),
                                  np.ones((2, 1, 1)))
    np.testing.assert_allclose(np.exp(log_p[:, 1]), [0.5, 1 / (1 + np.exp(-2.0))])


def test_centers_from_posterior_by_hand():
    embedding = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [12.0, 14.0], [5.0, 5.0]])
    # most probable components 0, 0, 1, 1, 1; component 2 is nobody's, and point 4 is its likeliest
    log_posterior = np.log(np.array([[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1],
                                     [0.2, 0.5, 0.3]]))
    np.testing.assert_allclose(centers_from_posterior(embedding, log_posterior),
                               [[1.0, 0.0], [9.0, 29 / 3], [5.0, 5.0]], rtol=1e-6)


@pytest.fixture(scope="module")
def fitted_n2d(digits_small, make_dec):
    return _n2d(make_dec).fit(digits_small[0])


def test_n2d_clusters_digits_and_predicts_its_own_labels(fitted_n2d, digits_small):
    X, y = digits_small
    assert cluster_accuracy(y, fitted_n2d.labels_) > 0.75
    assert (fitted_n2d.predict(X) == fitted_n2d.labels_).mean() >= 0.99
    proba = fitted_n2d.predict_proba(X[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert fitted_n2d.manifold_.shape == (400, 10) and fitted_n2d.embedding_.shape == (400, 10)


def test_n2d_places_new_points_consistently(fitted_n2d, digits):
    X, _ = digits
    new = X[400:600]
    assert (fitted_n2d.predict(new) == fitted_n2d.predict(new)).all()
    assert 0 <= fitted_n2d.score(new) <= 1


def test_n2d_save_load_round_trip_without_pickle(fitted_n2d, digits_small, tmp_path):
    fitted_n2d.save(tmp_path / "model")
    loaded = N2D.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict(digits_small[0]), fitted_n2d.labels_)
    assert clone(loaded).get_params()["n_neighbors"] == 20


@pytest.mark.parametrize("edit, message", [
    (lambda t: t["weights"].mul_(-1), "weights must be positive"),
    (lambda t: t["covariances"].mul_(-1), "positive definite"),
    (lambda t: t.update(manifold=t["manifold"][:, :3].contiguous()), "manifold"),
])
def test_n2d_load_refuses_crafted_tensors(fitted_n2d, tmp_path, edit, message):
    import hashlib
    import json

    from safetensors.torch import load, save

    folder = tmp_path / "model"
    fitted_n2d.save(folder)
    config = json.loads((folder / "config.json").read_text())
    tensors = load((folder / config["weights"]).read_bytes())
    edit(tensors)
    payload = save(tensors)
    digest = hashlib.sha256(payload).hexdigest()
    (folder / config["weights"]).unlink()
    (folder / f"weights-{digest[:16]}.safetensors").write_bytes(payload)
    config.update(weights=f"weights-{digest[:16]}.safetensors", weights_sha256=digest)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        N2D.load(folder)


def test_n2d_reuses_a_pretrained_autoencoder(fitted_n2d, digits_small, make_dec):
    X, y = digits_small
    model = _n2d(make_dec, autoencoder=fitted_n2d.autoencoder_).fit(X)
    assert model.pretrain_losses_ == {} and cluster_accuracy(y, model.labels_) > 0.75
    assert torch.equal(model.autoencoder_.encoder[0].weight, fitted_n2d.autoencoder_.encoder[0].weight)


@pytest.fixture
def without_umap(monkeypatch):
    """Imports of umap fail, as where umap-learn is not installed."""
    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap" or name.startswith("umap."):
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)


def test_without_umap_n2d_says_how_to_install_it(without_umap, digits_small, make_dec):
    with pytest.raises(ImportError, match="pip install umap-learn") as error:
        _n2d(make_dec).fit(digits_small[0])
    assert str(error.value) == UMAP_INSTALL_HINT


@pytest.mark.parametrize("estimator", [DEC, IDEC])
def test_without_umap_init_manifold_says_how_to_install_it_before_training(without_umap, monkeypatch, digits_small,
                                                                            estimator):
    monkeypatch.setattr(dec_module.DEC, "_pretrain", lambda *args: pytest.fail("trained before the check"))
    with pytest.raises(ImportError, match="init='manifold' need umap-learn") as error:
        estimator(10, init="manifold", random_state=0, device="cpu").fit(digits_small[0])
    assert str(error.value) == UMAP_INSTALL_HINT


def test_dec_init_manifold_starts_from_the_mean_embedding_of_n2ds_clusters(fitted_n2d, digits_small, make_dec,
                                                                           monkeypatch):
    X, y = digits_small
    started = []

    def recording(*args, **kwargs):
        started.append(manifold_centers(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(dec_module, "manifold_centers", recording)
    model = make_dec(init="manifold", autoencoder=fitted_n2d.autoencoder_, max_iter=300).fit(X)
    # the same autoencoder and random_state: DEC's UMAP and mixture are N2D's, so its centroids
    # start at the mean embedding of each of N2D's clusters
    expected = np.stack([fitted_n2d.embedding_[fitted_n2d.labels_ == j].mean(axis=0) for j in range(10)])
    assert len(started) == 1
    np.testing.assert_allclose(started[0], expected, rtol=1e-4, atol=1e-5)
    assert set(model.phase_times_) == {"pretrain", "manifold", "clustering"}
    assert cluster_accuracy(y, model.labels_) > 0.75


@pytest.mark.parametrize("name, value", [("n_neighbors", 1), ("min_dist", -0.5), ("n_components", 0),
                                         ("n_clusters", "x"), ("n_init", 0)])
def test_bad_n2d_parameters(digits_small, name, value):
    with pytest.raises((ValueError, TypeError)):
        N2D(**{name: value}).fit(digits_small[0])


def test_dec_and_n2d_are_different_kinds_on_disk(fitted_n2d, tmp_path):
    fitted_n2d.save(tmp_path / "model")
    with pytest.raises(ValueError, match="not a 'DEC' model"):
        DEC.load(tmp_path / "model")


N2D_PARAMS = dict(estimator="N2D", n_clusters=10, hidden_dims=[64, 64], layer_epochs=2, finetune_epochs=4,
                  pretrain_batch_size=64, device="cpu", precision="float32", random_state=3)


def test_n2d_sigkill_in_pretraining_then_resume_gives_the_same_labels(digits, kill_and_resume):
    config, reference, resumed = kill_and_resume(N2D_PARAMS, digits[0][:500], "fine-tuning epoch 2/4")
    assert config["stage"] == "fine-tuning" and config["loop"] is not None
    np.testing.assert_array_equal(resumed, reference)
