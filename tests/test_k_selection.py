"""Choosing k: the silhouette criterion on blobs of known k; n_clusters="auto" through DEC, N2D,
saving, resuming, clone, GridSearchCV and the command line."""

import json
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV

from decluster import DEC, N2D, ClusterSizeWarning
from decluster.cli.commands import main
from decluster.estimators.base import shrunken_clusters, warn_if_clusters_shrank
from decluster.k_selection import KSelection, candidate_range, select_n_clusters


@pytest.mark.parametrize("true_k", [3, 5, 8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_silhouette_finds_the_number_of_separated_blobs(true_k, seed):
    corners = 10.0 * ((np.arange(true_k)[:, None] >> np.arange(6)) & 1)  # vertices of a cube, 10 apart
    X, _ = make_blobs(n_samples=600, centers=corners, cluster_std=1.0, random_state=seed)
    selection = select_n_clusters(X, 2, 12, random_state=seed)
    assert selection.n_clusters == true_k
    assert selection.candidates == tuple(range(2, 13)) and len(selection.scores) == 11
    assert max(selection.scores) == selection.scores[true_k - 2]


def test_candidates_are_cut_to_what_the_sample_can_score():
    assert candidate_range(2, 30, 1000) == tuple(range(2, 31))
    assert candidate_range(1, 30, 6) == (2, 3, 4, 5)
    with pytest.raises(ValueError, match="no number of clusters"):
        candidate_range(5, 8, 4)


def test_selection_is_seeded_and_uses_a_sample_of_the_points():
    X, _ = make_blobs(n_samples=3000, centers=4, n_features=3, center_box=(-20, 20), random_state=0)
    first = select_n_clusters(X, 2, 6, random_state=3, sample_size=500)
    assert first == select_n_clusters(X, 2, 6, random_state=3, sample_size=500)
    assert first.n_clusters == 4
    assert first != select_n_clusters(X, 2, 6, random_state=3)  # all 3,000 points score otherwise


def test_identical_points_score_lowest_and_json_round_trip():
    X = np.zeros((20, 2))
    X[10:] = 5.0
    selection = select_n_clusters(X, 2, 4, random_state=0)
    assert selection.n_clusters == 2 and selection.scores[0] == pytest.approx(1.0)
    assert selection.to_json() == {"criterion": "silhouette", "n_clusters": 2, "candidates": [2, 3, 4],
                                   "scores": list(selection.scores)}
    assert isinstance(selection, KSelection)


# ----------------------------------------------------------------- through the estimators
AUTO = dict(n_clusters="auto", n_clusters_range=(5, 12), hidden_dims=[64, 64], layer_epochs=2, finetune_epochs=10,
            pretrain_batch_size=64, n_init=2, update_interval=30, max_iter=90, batch_size=64, device="cpu",
            precision="float32", random_state=0)


@pytest.fixture(scope="module")
def auto_dec(digits_small):
    return DEC(**AUTO).fit(digits_small[0])


def test_dec_chooses_k_on_its_embedding_and_clusters_with_it(auto_dec, digits_small):
    selection = auto_dec.k_selection_
    assert selection.candidates == tuple(range(5, 13))
    assert auto_dec.n_clusters_ == selection.n_clusters == selection.candidates[int(np.argmax(selection.scores))]
    assert auto_dec.cluster_centers_.shape == (auto_dec.n_clusters_, 10)
    assert auto_dec.predict_proba(digits_small[0]).shape == (400, auto_dec.n_clusters_)
    assert auto_dec.n_clusters == "auto"  # the parameter is left as given


def test_a_fixed_k_has_no_selection(fitted_dec):
    assert fitted_dec.n_clusters_ == 10 and fitted_dec.k_selection_ is None


def test_the_choice_is_saved_and_checked_at_load(auto_dec, tmp_path):
    auto_dec.save(tmp_path / "model")
    loaded = DEC.load(tmp_path / "model")
    assert loaded.k_selection_ == auto_dec.k_selection_ and loaded.n_clusters_ == auto_dec.n_clusters_
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    config["k_selection"]["n_clusters"] = 99
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="not among the candidates"):
        DEC.load(tmp_path / "model")


def test_the_saved_k_must_be_the_choice(auto_dec, tmp_path):
    auto_dec.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["n_clusters"] == auto_dec.n_clusters_
    config["n_clusters"] = auto_dec.n_clusters_ + 1
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"n_clusters = {auto_dec.n_clusters_ + 1} is not the k_selection's choice"):
        DEC.load(tmp_path / "model")


@pytest.mark.parametrize("bad, match", [(("2", 5), "instance of int"), ((1, 5), r"n_clusters_range\[0\]"),
                                        ((6, 5), r"n_clusters_range\[1\] == 5, must be >= 6"),
                                        ((3,), "two integers")])
def test_the_range_is_validated(bad, match, digits_small):
    with pytest.raises((ValueError, TypeError), match=match):
        DEC(**{**AUTO, "n_clusters_range": bad}).fit(digits_small[0])


def test_too_few_samples_for_any_k_of_the_range(digits_small):
    with pytest.raises(ValueError, match="no number of clusters"):
        DEC(**{**AUTO, "n_clusters_range": (8, 12)}).fit(digits_small[0][:6])


def test_auto_in_clone_and_grid_search(digits_small):
    model = clone(DEC(**{**AUTO, "max_iter": 30}))
    assert model.get_params()["n_clusters"] == "auto" and model.get_params()["n_clusters_range"] == (5, 12)
    search = GridSearchCV(model, {"n_clusters": ["auto", 4]}, cv=2).fit(digits_small[0][:200])
    assert search.best_params_["n_clusters"] in ("auto", 4)
    assert search.best_estimator_.n_clusters_ >= 4


def test_sigkill_then_resume_keeps_the_chosen_k_and_the_labels(digits, kill_and_resume):
    config, reference, resumed = kill_and_resume(AUTO, digits[0][:500], "iteration 60:")
    assert config["stage"] == "clustering"
    np.testing.assert_array_equal(resumed, reference)


def test_n2d_chooses_k_on_its_manifold(digits_small):
    pytest.importorskip("umap")
    shared = {name: value for name, value in AUTO.items() if name in N2D().get_params()}
    model = N2D(**{**shared, "n_clusters_range": (6, 12), "n_init": 2}).fit(digits_small[0])
    assert 6 <= model.n_clusters_ <= 12 and model.manifold_.shape == (400, 10)
    assert model.weights_.shape == (model.n_clusters_,) and model.labels_.max() < model.n_clusters_


def test_command_line_auto_writes_the_choice_and_its_picture(tmp_path):
    out = tmp_path / "run"
    assert main(["fit", "--method", "dec", "--dataset", "digits", "--n-clusters", "auto", "--n-clusters-range", "8", "12",
                 "--hidden-dims", "64", "64", "--layer-epochs", "2", "--finetune-epochs", "10", "--max-iter", "60",
                 "--n-init", "2", "--quiet", "--device", "cpu", "--random-state", "0", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    selection = metrics["k_selection"]
    assert metrics["n_clusters"] == selection["n_clusters"] and 8 <= metrics["n_clusters"] <= 12
    assert selection["candidates"] == [8, 9, 10, 11, 12] and len(selection["scores"]) == 5
    assert (out / "k-selection.png").stat().st_size > 0
    assert 'n_clusters = "auto"' in (out / "config.toml").read_text()


# ----------------------------------------------------------------- clusters that shrink
def test_shrunken_clusters_by_hand():
    initial, final = np.array([100, 40, 10, 50]), np.array([130, 9, 0, 13])
    assert shrunken_clusters(initial, final).tolist() == [1, 2]  # 9 < 40/4; 0; but 13 >= 50/4
    assert shrunken_clusters(None, final).tolist() == [2]  # without initial sizes: empty ones only


def test_one_warning_line_names_the_smallest_shrunken_clusters():
    labels = np.array([0] * 130 + [1] * 9 + [3] * 13)
    with pytest.warns(ClusterSizeWarning) as caught:
        warn_if_clusters_shrank("DEC", labels, 4, np.array([100, 40, 10, 2]))
    message = str(caught[0].message)
    assert len(caught) == 1 and "\n" not in message
    assert message.startswith("DEC: 2 of 4 clusters ended empty or below 0.25 of their initial size "
                              "(cluster 2: 0 points (10 at initialisation), cluster 1: 9 points (40 at initialisation))")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_clusters_shrank("N2D", np.array([0, 1, 1, 2]), 3)  # nothing empty: silent
