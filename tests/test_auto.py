"""method="auto": the rule, the refinement check, scikit-learn compatibility and the command line."""

import json
import warnings

import numpy as np
import pytest
import torch
from cli_helpers import run_cli
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from decluster import DEC, IDEC, N2D, AutoCluster, CheckpointError, RefinementWarning, cluster_accuracy
from decluster.estimators import auto
from decluster.estimators.auto import check_refinement, choose_recipe, n2d_centers

PARAMS = dict(n_clusters=10, n_clusters_range=(2, 30), device="cpu", precision="auto", random_state=0,
              verbose=False)


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return X.astype(np.float32), y


# ----------------------------------------------------------------- the rule
def test_a_table_gets_dec_with_its_defaults():
    recipe = choose_recipe(178, 13, {**PARAMS, "image_shape": None, "refine": True})
    assert recipe.name == "dec" and [stage.method for stage in recipe.stages] == ["dec"]
    assert set(recipe.stages[0].params) == set(PARAMS)  # nothing but the data's and the run's settings
    assert "178 rows" in recipe.describe() and recipe.describe().startswith("method='auto' chose dec: ")


def test_images_get_n2d_with_augmentation_and_refinement_only_when_asked():
    recipe = choose_recipe(70_000, 784, {**PARAMS, "image_shape": (28, 28), "refine": False})
    assert recipe.name == "n2d" and len(recipe.stages) == 1 and "70,000 images of 28 x 28" in recipe.reason
    params = recipe.stages[0].params
    assert params["augment"] is True and params["image_shape"] == (28, 28)
    assert "layer_epochs" not in params  # pretraining as "auto" gives it: shorter cost ACC
    refined = choose_recipe(70_000, 784, {**PARAMS, "image_shape": (28, 28), "refine": True})
    assert refined.name == "n2d+idec" and [stage.method for stage in refined.stages] == ["n2d", "idec"]
    idec = refined.stages[1].params
    assert idec["max_iter"] == 12_032 and idec["augment"]  # 44 passes of 256 rows over 70,000
    assert choose_recipe(1797, 64, {**PARAMS, "image_shape": (8, 8), "refine": True}).stages[1].params[
        "max_iter"] == 309
    assert json.loads(json.dumps(refined.as_dict()))["stages"][0]["params"]["image_shape"] == [28, 28]


# ----------------------------------------------------------------- the refinement check
def test_a_refinement_that_keeps_the_clusters_is_accepted_whatever_their_names():
    check = check_refinement(np.array([0, 0, 1, 1, 2, 2]), np.array([1, 1, 0, 0, 2, 2]), 3)
    assert check.accepted and check.agreement == pytest.approx(1.0) and check.shrunk_clusters == ()


def test_a_refinement_that_empties_a_cluster_is_refused():
    check = check_refinement(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 1, 1, 1]), 3)
    assert not check.accepted and check.shrunk_clusters == (2,) and "fell below" in check.reason


def test_a_refinement_that_reshuffles_the_points_is_refused():
    # Same sizes, a third of each cluster moved. By hand: pairs together in both 1 + 1 = 2, in the
    # start 3 + 3 = 6, in the refinement 6, of 15; ARI = (2 - 6 * 6 / 15) / (6 - 6 * 6 / 15) = -1/9.
    check = check_refinement(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 1, 1, 0, 1]), 2)
    assert not check.accepted and check.agreement == pytest.approx(-1 / 9) and check.shrunk_clusters == ()
    assert "agrees with its start by ARI -0.111" in check.reason


# ----------------------------------------------------------------- scikit-learn
def test_clone_pipeline_and_grid_search_on_a_table(wine):
    X, y = wine
    model = AutoCluster(3, random_state=0, device="cpu")
    assert clone(model).get_params() == model.get_params()
    pipeline = make_pipeline(StandardScaler(), model).fit(X)
    fitted = pipeline[-1]
    assert fitted.recipe_.name == "dec" and isinstance(fitted.estimator_, DEC)
    assert cluster_accuracy(y, fitted.labels_) > 0.85
    np.testing.assert_array_equal(pipeline.predict(X), fitted.labels_)
    assert fitted.transform(StandardScaler().fit_transform(X)).shape == (len(X), 10)
    assert X.dtype == np.float32 and model.get_params()["n_clusters"] == 3  # the caller's objects unchanged
    search = GridSearchCV(make_pipeline(StandardScaler(), AutoCluster(random_state=0, device="cpu")),
                          {"autocluster__n_clusters": [2, 3]}, cv=2).fit(X)
    assert search.best_params_["autocluster__n_clusters"] in (2, 3)


def test_images_below_the_refinement_threshold_get_n2d(digits):
    X, y = digits
    model = AutoCluster(10, image_shape=(8, 8), random_state=0, device="cpu").fit(X)
    assert model.recipe_.name == "n2d" and isinstance(model.estimator_, N2D)
    assert model.refinement_ is None and model.start_ is None and model.refined_ is None
    assert model.estimator_.augment and model.estimator_.layer_epochs == "auto"
    np.testing.assert_array_equal(model.predict(X[:50]), model.labels_[:50])
    assert cluster_accuracy(y, model.labels_) > 0.75  # 0.92 on this CPU (seeds 0 to 2 on the benchmarks page)
    assert set(model.phase_times_) == {"n2d.pretrain", "n2d.manifold", "n2d.mixture"}


@pytest.fixture(scope="module")
def refined_digits(digits_small):
    """The n2d+idec recipe (``refine=True``) on 400 digits. So few rows
    leave the autoencoder undertrained (N2D ACC 0.22 here) and IDEC gathers nearly every point in
    one cluster: the refinement check must refuse it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = AutoCluster(10, image_shape=(8, 8), refine=True, random_state=0, device="cpu").fit(digits_small[0])
    return model, caught


def test_idec_refines_from_n2d_s_clusters_and_autoencoder(refined_digits):
    model, _ = refined_digits
    assert model.recipe_.name == "n2d+idec"
    assert isinstance(model.start_, N2D) and isinstance(model.refined_, IDEC)
    np.testing.assert_allclose(model.refined_.init, n2d_centers(model.start_), rtol=1e-6)
    assert model.refined_.n_iter_ <= 69 and {"n2d.pretrain", "idec.given", "idec.clustering"} <= set(model.phase_times_)
    # the refinement trained a copy of N2D's encoder, not N2D's own
    assert not torch.equal(model.start_.autoencoder_.encoder[0].weight, model.refined_.encoder_[0].weight)


def test_a_refinement_that_collapses_clusters_is_not_kept(refined_digits):
    model, caught = refined_digits
    assert not model.refinement_.accepted and model.refinement_.shrunk_clusters
    assert model.estimator_ is model.start_
    np.testing.assert_array_equal(model.labels_, model.start_.labels_)
    assert any(issubclass(w.category, RefinementWarning) and "not kept" in str(w.message) for w in caught)


# ----------------------------------------------------------------- given centroids (init as an array)
def test_dec_starts_from_given_centroids(fitted_dec, digits_small, make_dec):
    X, _ = digits_small
    centers = fitted_dec.cluster_centers_.copy()
    model = make_dec(autoencoder=fitted_dec.autoencoder_, init=centers.tolist(), max_iter=1).fit(X)
    assert "given" in model.phase_times_ and model.n_iter_ == 1
    np.testing.assert_array_equal(centers, fitted_dec.cluster_centers_)
    with pytest.raises(ValueError, match=r"shape \(n_clusters, embedding_dim\) = \(10, 10\)"):
        make_dec(init=centers[:3]).fit(X)
    with pytest.raises(ValueError, match="finite"):
        make_dec(init=np.full((10, 10), np.nan)).fit(X)
    with pytest.raises(TypeError, match="'kmeans', 'manifold' or an array"):
        make_dec(init=object()).fit(X)


def test_given_centroids_survive_save_and_load(tmp_path, fitted_dec, digits_small, make_dec):
    X, _ = digits_small
    model = make_dec(autoencoder=fitted_dec.autoencoder_, init=fitted_dec.cluster_centers_, max_iter=1).fit(X)
    model.save(tmp_path / "model")
    loaded = DEC.load(tmp_path / "model")
    np.testing.assert_allclose(np.asarray(loaded.init), fitted_dec.cluster_centers_, rtol=1e-6)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# ----------------------------------------------------------------- command line
def test_fit_chooses_auto_says_so_and_its_config_repeats_it(tmp_path, wine):
    X, y = wine
    data = tmp_path / "wine.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header=",".join(
        [f"f{i}" for i in range(X.shape[1])] + ["label"]), comments="")
    status, _, err = run_cli(["fit", "--data", str(data), "--label-column", "label", "--out", str(tmp_path / "a"),
                              "--no-plots", "--random-state", "0", "--device", "cpu"])
    assert status == 0, err
    assert "method='auto' chose dec: a table of 178 rows and 13 features" in err
    config = (tmp_path / "a" / "config.toml").read_text()
    assert 'method = "auto"' in config and "# dec: n_clusters = 3" in config
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["recipe"]["name"] == "dec" and metrics["refinement"] is None and metrics["accuracy"] > 0.85
    status, _, err = run_cli(["fit", "--data", str(data), "--label-column", "label", "--out", str(tmp_path / "b"),
                              "--no-plots", "--config", str(tmp_path / "a" / "config.toml")])
    assert status == 0, err
    assert (tmp_path / "a" / "labels.csv").read_bytes() == (tmp_path / "b" / "labels.csv").read_bytes()


def test_a_method_flag_under_auto_is_refused_with_a_hint(tmp_path):
    status, _, err = run_cli(["fit", "--out", str(tmp_path / "a"), "--layer-epochs", "2"])
    assert status == 1 and "--layer-epochs does not apply to --method auto" in err and "name a --method" in err


def test_each_stage_checkpoints_in_its_own_folder_and_resumes(tmp_path, wine):
    X = StandardScaler().fit_transform(wine[0]).astype(np.float32)
    first = AutoCluster(3, random_state=0, device="cpu").fit(X, checkpoint_dir=tmp_path / "ckpt")
    assert [entry.name for entry in (tmp_path / "ckpt").iterdir()] == ["dec"]
    auto.check_stage_folders(tmp_path / "ckpt")  # a folder of stage checkpoints may be reused
    resumed = AutoCluster(3, random_state=0, device="cpu").fit(X, checkpoint_dir=tmp_path / "ckpt", resume=True)
    np.testing.assert_array_equal(first.labels_, resumed.labels_)
    (tmp_path / "ckpt" / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="notes.txt"):
        auto.check_stage_folders(tmp_path / "ckpt")
