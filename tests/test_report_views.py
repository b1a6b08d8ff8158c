"""What each cluster holds: the image gallery, the table profiles, the per-cluster table and the sampling
that keeps them bounded on rows kept on disk."""

import csv
import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from decluster.data.npy_rows import NpyRows
from decluster.data.preprocessing import fit_scaling
from decluster.plotting import figure_png
from decluster.report import (
    cluster_profiles,
    cluster_table,
    cluster_views,
    clusters_csv,
    distinctive_features,
    index_clusters,
    plot_cluster_gallery,
    plot_profiles,
    read_rows,
    stratified_sample,
)
from decluster.report.gallery import check_image_shape, gallery_rows
from decluster.report.outputs import GALLERY_FILES


def _images_of(figure: Figure) -> list[np.ndarray]:
    return [np.asarray(ax.images[0].get_array()) for ax in figure.axes if ax.images]


# --------------------------------------------------------------------------- images
def test_gallery_rows_hold_the_surest_and_the_least_sure_members():
    labels = np.array([0, 0, 0, 0, 0, 1, 1])
    confidence = np.array([0.5, 0.9, 0.2, 0.7, 0.4, 0.6, 0.8])
    index = index_clusters(labels, confidence, 3)
    zero, one, two = gallery_rows(index, confidence, range(3), n_confident=2, n_doubtful=2)
    assert zero.confident.tolist() == [1, 3] and zero.doubtful.tolist() == [2, 4]  # least sure first
    assert zero.size == 5 and zero.mean_confidence == pytest.approx(0.54) and zero.min_confidence == 0.2
    assert one.confident.tolist() == [6, 5] and one.doubtful.tolist() == []  # none shown twice
    assert two.size == 0 and np.isnan(two.mean_confidence)


def test_grey_gallery_of_the_digits(digits):
    X, y = digits
    confidence = np.random.default_rng(0).uniform(0.3, 1.0, len(y))
    (page,) = plot_cluster_gallery(X, y, confidence, (8, 8), model_name="N2D")
    strips = _images_of(page)
    assert len(strips) == 20  # a confident and a doubtful strip per cluster
    assert all(strip.ndim == 3 and strip.shape[2] == 3 for strip in strips)
    grey = strips[0][:, :8]
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])  # grey: the three channels agree
    best = np.flatnonzero(y == 0)[np.argmax(confidence[y == 0])]
    np.testing.assert_allclose(grey[..., 0], X[best].reshape(8, 8) / X.max(), atol=1e-6)  # the surest zero, first
    texts = " ".join(text.get_text() for text in page.texts)
    assert "N2D clusters" in page.get_suptitle() and "clusters 0–9 of 10" in page.get_suptitle()
    assert "cluster 3" in texts and f"{np.sum(y == 3):,} rows" in texts and "confidence: mean" in texts


def test_colour_gallery_draws_the_channels():
    rng = np.random.default_rng(1)
    red, blue = np.zeros((4, 4, 3)), np.zeros((4, 4, 3))
    red[..., 0], blue[..., 2] = 1.0, 1.0
    X = np.stack([red, blue] * 10).reshape(20, -1) + rng.uniform(0, 0.05, (20, 48))
    labels = np.tile([0, 1], 10)
    (page,) = plot_cluster_gallery(X, labels, np.full(20, 0.9), (4, 4, 3))
    first_red, first_blue = _images_of(page)[0], _images_of(page)[2]
    assert first_red[..., 0].mean() > 0.5 > first_red[..., 2].mean()
    assert first_blue[..., 2].mean() > 0.5 > first_blue[..., 0].mean()


def test_many_clusters_go_on_pages_and_past_the_last_page_a_note():
    rng = np.random.default_rng(2)
    n_clusters = 130
    labels = np.arange(1300) % n_clusters
    labels[labels == 7] = 8  # an empty cluster
    X = rng.uniform(size=(1300, 9))
    pages = plot_cluster_gallery(X, labels, rng.uniform(size=1300), (3, 3), n_clusters=n_clusters)
    assert len(pages) == len(GALLERY_FILES) == 4
    assert "clusters 0–24 of 130 (page 1 of 4)" in pages[0].get_suptitle()
    assert "clusters 75–99 of 130 (page 4 of 4); clusters 100–129 are not drawn" in pages[-1].get_suptitle()
    assert "cluster 7\nempty" in [text.get_text() for text in pages[0].texts]
    hundred = plot_cluster_gallery(X, np.arange(1300) % 100, rng.uniform(size=1300), (3, 3))
    assert len(hundred) == 4 and "not drawn" not in hundred[-1].get_suptitle()


@pytest.mark.parametrize("shape, message", [((8, 9), "holds 72 values"), ((8,), "height, width"),
                                            ((0, 8, 8), "height, width")])
def test_image_shape_must_fit_the_rows(shape, message):
    with pytest.raises(ValueError, match=message):
        check_image_shape(shape, 64)
    assert check_image_shape((8, 8), 64) == (8, 8, 1)


def test_gallery_rejects_bad_labels(digits):
    X, y = digits
    with pytest.raises(ValueError, match="one length"):
        plot_cluster_gallery(X, y[:-1], np.ones(len(y)), (8, 8))
    with pytest.raises(ValueError, match="probabilities"):
        plot_cluster_gallery(X, y, np.full(len(y), 1.5), (8, 8))


# --------------------------------------------------------------------------- tables
@pytest.fixture(scope="module")
def planted():
    """600 rows of 6 features in 3 clusters that differ only on feature 4 ("pH"), in mixed units."""
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), 200)
    X = rng.normal(size=(600, 6)) * [1, 10, 100, 0.1, 1, 1000] + [0, 5, 50, 0, 7, -3]
    X[:, 4] += 3.0 * labels
    names = ["a", "b", "c", "d", "pH", "f"]
    return X, labels, names


def test_profiles_rank_the_planted_feature_first(planted):
    X, labels, names = planted
    profiles = cluster_profiles(X, labels, feature_names=names)
    assert profiles.ranking()[0] == 4 and profiles.separation[4] > 0.8
    assert profiles.separation[[0, 1, 2, 3, 5]].max() < 0.05
    np.testing.assert_allclose(profiles.means[:, 4], [X[labels == j, 4].mean() for j in range(3)])
    np.testing.assert_allclose(profiles.overall_mean, X.mean(axis=0))
    np.testing.assert_allclose(profiles.overall_std, X.std(axis=0))
    name, cluster_mean, overall, difference = distinctive_features(profiles, 2, top=1)[0]
    assert name == "pH" and cluster_mean == pytest.approx(X[labels == 2, 4].mean()) and difference > 1.0
    figure = plot_profiles(profiles, max_features=3, model_name="DEC")
    ax = figure.axes[0]
    assert [tick.get_text() for tick in ax.get_xticklabels()][0].startswith("pH")
    assert np.asarray(ax.images[0].get_array()).shape == (3, 3)
    assert "the 3 best separating of 6 features" in ax.get_title() and "DEC cluster profiles" in ax.get_title()


def test_profiles_are_in_the_data_units_when_a_scaling_is_undone(planted):
    X, labels, names = planted
    scaling = fit_scaling(X.astype(np.float32), "standard")
    profiles = cluster_profiles(scaling.apply(X.astype(np.float32)), labels, scaling=scaling)
    np.testing.assert_allclose(profiles.overall_mean, X.mean(axis=0), rtol=1e-4, atol=1e-3)
    assert profiles.feature_names == tuple(f"feature {i}" for i in range(6))


def test_profiles_draw_hostile_and_long_names_literally(planted):
    X, labels, _ = planted
    names = ["$x$ and $y$", "a\nb", "<script>", "w" * 80, "e", "f"]
    figure = plot_profiles(cluster_profiles(X, labels, feature_names=names))
    ticks = [tick.get_text().split("  (η²")[0] for tick in figure.axes[0].get_xticklabels()]
    assert {r"\$x\$ and \$y\$", "a b", "<script>", "w" * 27 + "…"} <= set(ticks)
    assert figure_png(figure, dpi=30).startswith(b"\x89PNG")


def test_a_constant_feature_separates_nothing():
    X = np.column_stack([np.full(40, 0.1), np.r_[np.zeros(20), np.ones(20)]])
    labels = np.r_[np.zeros(20, int), np.ones(20, int)]
    profiles = cluster_profiles(X, labels, n_clusters=2)
    assert profiles.separation[0] == 0.0 and profiles.separation[1] == pytest.approx(1.0)
    assert profiles.standardized[:, 0].tolist() == [0.0, 0.0]


def test_clusters_csv_lists_the_distinctive_features(planted):
    X, labels, names = planted
    confidence = np.linspace(0.5, 1.0, len(labels))
    views = cluster_views(X, labels, confidence, feature_names=names, true_labels=labels)
    assert list(views.figures) == ["profiles.png"]
    rows = list(csv.DictReader(io.StringIO(clusters_csv(views.table).decode())))
    assert [row["cluster"] for row in rows] == ["0", "1", "2"] and rows[0]["size"] == "200"
    assert {rows[0]["feature_1"], rows[2]["feature_1"]} == {"pH"}
    assert float(rows[2]["difference_sd_1"]) > 1.0 > -1.0 > float(rows[0]["difference_sd_1"])
    assert rows[1]["top_label"] == "1" and rows[1]["top_label_share"] == "1"
    assert float(rows[0]["mean_confidence"]) == pytest.approx(confidence[:200].mean(), rel=1e-5)


def test_the_table_of_images_has_no_feature_columns(digits):
    X, y = digits
    views = cluster_views(X, y, np.full(len(y), 0.8), image_shape=(8, 8))
    assert list(views.figures) == ["clusters.png"] and views.profiles is None
    header = clusters_csv(views.table).decode().splitlines()[0]
    assert header == "cluster,size,share,mean_confidence"
    assert [row.size for row in cluster_table(index_clusters(y, np.ones(len(y)), 10), np.ones(len(y)))] == \
        np.bincount(y).tolist()


# --------------------------------------------------------------------------- rows on disk
class CountingRows(NpyRows):
    """NpyRows that count the rows read."""

    read_rows_count = 0

    def read(self, start, stop):
        CountingRows.read_rows_count += stop - start
        return super().read(start, stop)


def test_rows_on_disk_are_sampled_within_bounds(tmp_path):
    rng = np.random.default_rng(4)
    n = 60_000
    np.save(tmp_path / "rows.npy", rng.normal(size=(n, 4)).astype(np.float32))
    opened = NpyRows.open(tmp_path / "rows.npy")
    rows = CountingRows(opened.parts, opened.start, opened.stop)
    CountingRows.read_rows_count = 0
    labels = rng.integers(0, 5, n)
    labels[:3] = 5  # a cluster of three rows, which a uniform sample would likely miss
    index = index_clusters(labels, rng.uniform(size=n), 6)
    views = cluster_views(rows, labels, rng.uniform(size=n), max_rows=1200)
    assert CountingRows.read_rows_count <= 1200 and views.profiles.n_sampled <= 1200
    assert np.isfinite(views.profiles.means[5]).all()  # the small cluster is in the sample
    sample = stratified_sample(index, 1200, random_state=0)
    np.testing.assert_array_equal(sample, np.sort(sample))
    np.testing.assert_array_equal(read_rows(rows, sample[:5]), np.load(tmp_path / "rows.npy")[sample[:5]])
