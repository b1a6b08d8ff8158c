import importlib.util
import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from matplotlib.figure import Figure

from decluster import ClusteringHistory, cluster_accuracy, plotting
from decluster.plotting import (
    figure_png,
    has_training_curves,
    matched_confusion,
    plot_confusion,
    plot_embedding,
    plot_training_curves,
    save_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def blobs():
    """300 points in 8-D around 4 well separated centres."""
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=6.0, size=(4, 8))
    labels = rng.integers(0, 4, size=300)
    return centers[labels] + rng.normal(size=(300, 8)), labels, centers


class FakeReducer:
    """Stands in for t-SNE/UMAP: records its input and returns the first two columns."""

    def __init__(self):
        self.calls = []

    def __call__(self, data, method, random_state):
        self.calls.append((data.copy(), method))
        return data[:, :2] * 2.0


@pytest.fixture
def fake_reducer(monkeypatch):
    reducer = FakeReducer()
    monkeypatch.setattr(plotting, "_reduce_to_plane", reducer)
    return reducer


def _legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def _png_size(path):
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


# --------------------------------------------------------------------------- embedding map
def test_embedding_map_with_real_tsne(blobs):
    X, labels, centers = blobs
    figure = plot_embedding(X, labels, centers, method="tsne", max_points=120, random_state=0)
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("t-SNE 1", "t-SNE 2")
    assert "coloured by cluster" in ax.get_title() and "t-SNE of a random 120 of 300 points" in ax.get_title()
    assert ax.get_title().startswith("DEC embedding")
    assert ax.get_legend().get_title().get_text() == "cluster"
    assert _legend_texts(ax) == ["0", "1", "2", "3", "centroid"]
    points, triangles = ax.collections
    assert points.get_offsets().shape == (120, 2)
    assert triangles.get_offsets().shape == (4, 2)
    assert np.all(np.isfinite(triangles.get_offsets()))


def test_centroids_are_reduced_together_with_the_sample(blobs, fake_reducer):
    X, labels, centers = blobs
    figure = plot_embedding(X, labels, centers, method="tsne", max_points=50)
    ((data, method),) = fake_reducer.calls
    assert method == "tsne" and data.shape == (54, 8)
    np.testing.assert_array_equal(data[50:], centers)
    _, triangles = figure.axes[0].collections
    np.testing.assert_allclose(triangles.get_offsets(), centers[:, :2] * 2.0)


def test_sample_is_seeded_and_at_most_max_points(blobs, fake_reducer):
    X, labels, centers = blobs
    first = plot_embedding(X, labels, centers, method="tsne", max_points=40, random_state=3)
    second = plot_embedding(X, labels, centers, method="tsne", max_points=40, random_state=3)
    other = plot_embedding(X, labels, centers, method="tsne", max_points=40, random_state=4)
    offsets = [figure.axes[0].collections[0].get_offsets() for figure in (first, second, other)]
    assert offsets[0].shape == (40, 2)
    np.testing.assert_array_equal(offsets[0], offsets[1])
    assert not np.array_equal(offsets[0], offsets[2])


def test_true_labels_colour_the_points_and_say_so(blobs, fake_reducer):
    X, labels, centers = blobs
    names = np.array(["ant", "bee", "cat", "dog"])[labels]
    ax = plot_embedding(X, labels, centers, true_labels=names, method="tsne").axes[0]
    assert "coloured by true label" in ax.get_title()
    assert ax.get_legend().get_title().get_text() == "true label"
    assert _legend_texts(ax) == ["ant", "bee", "cat", "dog", "centroid"]


def test_two_dimensional_embedding_is_drawn_without_reduction(blobs, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a 2-D embedding must not be reduced")

    monkeypatch.setattr(plotting, "_reduce_to_plane", refuse)
    X, labels, centers = blobs
    figure = plot_embedding(X[:, :2], labels, centers[:, :2], method="umap")
    ax = figure.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("embedding 1", "embedding 2")
    assert "drawn as is" in ax.get_title()
    points, triangles = ax.collections
    np.testing.assert_array_equal(np.sort(points.get_offsets(), axis=0), np.sort(X[:, :2], axis=0))
    np.testing.assert_array_equal(triangles.get_offsets(), centers[:, :2])


def test_auto_falls_back_to_tsne_without_umap(blobs, fake_reducer, monkeypatch):
    monkeypatch.setattr(plotting, "_umap_class", lambda: None)
    X, labels, _ = blobs
    ax = plot_embedding(X, labels).axes[0]
    assert fake_reducer.calls[0][1] == "tsne"
    assert ax.get_xlabel() == "t-SNE 1"
    assert len(ax.collections) == 1  # no centroids given


def test_auto_prefers_umap_when_installed(blobs, monkeypatch):
    class FakeUMAP:
        def __init__(self, n_components, n_neighbors, random_state, n_jobs=-1):
            assert n_components == 2

        def fit_transform(self, data):
            return data[:, :2]

    monkeypatch.setattr(plotting, "_umap_class", lambda: FakeUMAP)
    X, labels, centers = blobs
    ax = plot_embedding(X, labels, centers).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("UMAP 1", "UMAP 2")
    assert "UMAP of 300 points and 4 centroids" in ax.get_title()


def test_umap_requested_but_missing_is_a_clear_error(blobs, monkeypatch):
    monkeypatch.setattr(plotting, "_umap_class", lambda: None)
    X, labels, _ = blobs
    with pytest.raises(ImportError, match="umap-learn"):
        plot_embedding(X, labels, method="umap")


@pytest.mark.skipif(importlib.util.find_spec("umap") is not None, reason="umap is installed")
def test_umap_missing_in_this_environment(blobs):
    X, labels, _ = blobs
    with pytest.raises(ImportError, match="method='tsne'"):
        plot_embedding(X, labels, method="umap")


def test_many_clusters_get_a_colorbar(fake_reducer):
    rng = np.random.default_rng(1)
    labels = np.arange(400) % 30
    figure = plot_embedding(rng.normal(size=(400, 5)), labels, rng.normal(size=(30, 5)), method="tsne")
    ax, colorbar_ax = figure.axes
    assert colorbar_ax.get_ylabel() == "cluster"
    assert _legend_texts(ax) == ["centroid"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="pca"), "method"),
        (dict(labels=np.zeros(5)), "labels"),
        (dict(true_labels=np.zeros(5)), "true_labels"),
        (dict(centers=np.zeros((4, 3))), "centers"),
        (dict(max_points=0), "max_points"),
        (dict(embedding=np.zeros((0, 8))), "non-empty"),
        (dict(embedding=np.full((300, 8), np.nan)), "finite"),
    ],
)
def test_embedding_rejects_bad_input(blobs, kwargs, message):
    X, labels, centers = blobs
    arguments = dict(embedding=X, labels=labels, centers=centers) | kwargs
    with pytest.raises(ValueError, match=message):
        plot_embedding(**arguments)


# --------------------------------------------------------------------------- training curves
def _history():
    return ClusteringHistory(iterations=[20, 40, 60, 80], losses=[0.3, 0.2, 0.15, 0.12],
                             label_changes=[0.05, 0.01, 0.002, 0.0])


def test_training_curves_panels():
    losses = {"layer 1": [0.08, 0.04, 0.03], "layer 2": [0.02, 0.01], "fine-tuning": [0.03, 0.02, 0.015, 0.01]}
    figure = plot_training_curves(losses, _history(), tol=0.001)
    assert isinstance(figure, Figure)
    pretrain_ax, kl_ax, change_ax = figure.axes
    assert pretrain_ax.get_title() == "autoencoder pretraining"
    assert pretrain_ax.get_ylabel().startswith("reconstruction error")
    assert "KL" in kl_ax.get_title() and kl_ax.get_xlabel() == "clustering iteration"
    assert change_ax.get_yscale() == "log"
    curves = {line.get_label(): line.get_xdata()
              for line in pretrain_ax.get_lines() if not line.get_label().startswith("_")}
    assert list(curves) == ["layer 1", "layer 2", "fine-tuning"]
    np.testing.assert_array_equal(curves["layer 2"], [4, 5])  # epochs continue across stages
    np.testing.assert_array_equal(curves["fine-tuning"], [6, 7, 8, 9])
    assert _legend_texts(pretrain_ax) == ["layer 1", "layer 2", "fine-tuning"]
    assert _legend_texts(change_ax) == ["fraction changed", "none changed (drawn at bottom)", "tol = 0.001"]
    np.testing.assert_array_equal(kl_ax.get_lines()[0].get_xdata(), [20, 40, 60, 80])


def test_training_curves_are_titled_after_the_method():
    figure = plot_training_curves({"layer 1": [0.1, 0.05]}, _history(), model_name="IDEC")
    assert figure.get_suptitle() == "IDEC training"
    assert plot_training_curves({"layer 1": [0.1]}, None).get_suptitle() == "DEC training"


def test_n2d_training_curves_draw_the_pretraining_panel_only():
    figure = plot_training_curves({"layer 1": [0.1, 0.05], "fine-tuning": [0.04]}, None, model_name="N2D")
    assert figure.get_suptitle() == "N2D training"
    assert [ax.get_title() for ax in figure.axes] == ["autoencoder pretraining"]
    assert not any(text.get_text().startswith("no data") for ax in figure.axes for text in ax.texts)


def test_training_curves_of_a_reused_autoencoder_draw_the_clustering_panels_only():
    figure = plot_training_curves({}, _history(), tol=0.001)
    assert len(figure.axes) == 2 and "KL" in figure.axes[0].get_title()


@pytest.mark.parametrize(
    "history", [ClusteringHistory(), None, {"iterations": [], "losses": [], "label_changes": []}]
)
def test_training_curves_without_data_are_refused(history):
    assert not has_training_curves({"layer 1": []}, history)
    with pytest.raises(ValueError, match="no training curves"):
        plot_training_curves({"layer 1": []}, history, tol=0.001)
    assert has_training_curves({"layer 1": [0.1]}, history)


def test_training_curves_accept_a_history_dict_and_no_tol():
    history = {"iterations": [10, 20], "losses": [0.2, 0.1], "label_changes": [0.1, 0.01]}
    figure = plot_training_curves({"end-to-end": [0.1, 0.05]}, history)
    assert _legend_texts(figure.axes[2]) == ["fraction changed"]  # pretraining, KL, changes


def test_training_curves_reject_ragged_history():
    with pytest.raises(ValueError, match="equal length"):
        plot_training_curves({}, {"iterations": [1, 2], "losses": [0.1], "label_changes": [0.1, 0.2]})


# --------------------------------------------------------------------------- confusion matrix
def test_confusion_diagonal_is_accuracy_times_n():
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    y_pred = np.array([7, 7, 7, 3, 3, 3, 3, 5, 5, 5, 7, 5])  # 7->0, 3->1, 5->2: 10 of 12 right
    figure = plot_confusion(y_true, y_pred)
    ax = figure.axes[0]
    counts = np.asarray(ax.images[0].get_array())
    assert np.trace(counts) == 10 == cluster_accuracy(y_true, y_pred) * len(y_true)
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["7", "3", "5"]
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["0", "1", "2"]
    assert ax.get_xlabel() == "cluster (matched to label)" and ax.get_ylabel() == "true label"
    assert "ACC = 0.833" in ax.get_title()
    np.testing.assert_array_equal(counts, [[3, 1, 0], [0, 3, 0], [1, 0, 4]])
    assert [text.get_text() for text in ax.texts] == [str(value) for value in counts.ravel()]


def test_confusion_with_more_clusters_than_classes():
    y_true = np.array([0, 0, 0, 1, 1, 1])
    y_pred = np.array([2, 2, 0, 1, 1, 3])
    confusion = matched_confusion(y_true, y_pred)
    assert confusion.counts.shape == (2, 4) and confusion.n_matched == 2
    np.testing.assert_array_equal(confusion.clusters[:2], [2, 1])
    assert confusion.counts.sum() == 6
    assert confusion.accuracy == pytest.approx(cluster_accuracy(y_true, y_pred))
    counts = np.asarray(plot_confusion(y_true, y_pred).axes[0].images[0].get_array())
    assert counts.shape == (2, 4)


def test_confusion_with_fewer_clusters_than_classes():
    y_true = np.array(["a", "a", "b", "b", "c", "c", "c"])
    y_pred = np.array([1, 1, 0, 0, 0, 0, 0])
    confusion = matched_confusion(y_true, y_pred)
    assert confusion.counts.shape == (3, 2)
    assert confusion.n_matched == 2
    # matched classes first, so each matched pair is on the diagonal; the unmatched class is last
    assert list(confusion.classes) == ["a", "c", "b"]
    assert np.trace(confusion.counts[:2, :2]) == 5
    assert confusion.accuracy == pytest.approx(cluster_accuracy(y_true, y_pred))
    ax = plot_confusion(y_true, y_pred).axes[0]
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["a", "c", "b"]


def test_confusion_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        plot_confusion([0, 1, 1], [0, 1])


# --------------------------------------------------------------------------- saving
def test_save_figure_writes_a_png_atomically(tmp_path):
    target = tmp_path / "new" / "folder" / "confusion.png"
    save_figure(plot_confusion([0, 0, 1, 1], [1, 1, 0, 1]), target, dpi=50)
    payload = target.read_bytes()
    assert payload.startswith(PNG_MAGIC) and len(payload) > 2000
    assert [path.name for path in target.parent.iterdir()] == ["confusion.png"]  # no temporary left
    small_width, _ = _png_size(target)
    save_figure(plot_confusion([0, 0, 1, 1], [1, 1, 0, 1]), target, dpi=100)  # overwrites
    assert _png_size(target)[0] == pytest.approx(2 * small_width, abs=2)
    assert [path.name for path in target.parent.iterdir()] == ["confusion.png"]


def test_failed_rendering_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "curves.png"
    target.write_bytes(b"old")
    figure = plot_confusion([0, 1], [1, 0])

    def broken(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        save_figure(figure, target)
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["curves.png"]


def test_save_figure_rejects_bad_dpi(tmp_path):
    with pytest.raises(ValueError, match="dpi"):
        save_figure(Figure(), tmp_path / "x.png", dpi=0)


def test_figure_png_names_no_web_address():
    payload = figure_png(plot_confusion([0, 0, 1, 1], [1, 1, 0, 1]), dpi=40)
    assert payload.startswith(PNG_MAGIC) and b"http" not in payload
    with pytest.raises(ValueError, match="dpi"):
        figure_png(Figure(), dpi=-1)


def test_embedding_map_names_the_method(blobs):
    X, labels, _ = blobs
    figure = plot_embedding(X[:, :2], labels, model_name="N2D")
    assert figure.axes[0].get_title().startswith("N2D embedding coloured by cluster")


def test_figures_render_in_threads(tmp_path):
    def draw(index):
        path = tmp_path / f"plot{index}.png"
        save_figure(plot_confusion(np.arange(40) % 4, (np.arange(40) + index) % 5), path, dpi=40)
        return path.read_bytes()[:8]

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(draw, range(4))) == [PNG_MAGIC] * 4


# --------------------------------------------------------------------------- a fitted model
def test_plots_of_a_fitted_model(fitted_dec, digits_small, tmp_path):
    X, y = digits_small
    embedding = fitted_dec.transform(X)
    figures = {
        "embedding": plot_embedding(embedding, fitted_dec.labels_, fitted_dec.cluster_centers_,
                                    max_points=150, method="tsne"),
        "curves": plot_training_curves(fitted_dec.pretrain_losses_, fitted_dec.history_, tol=fitted_dec.tol),
        "confusion": plot_confusion(y, fitted_dec.labels_),
    }
    assert len(figures["embedding"].axes[0].collections[1].get_offsets()) == 10
    assert [line.get_label() for line in figures["curves"].axes[0].get_lines()
            if not line.get_label().startswith("_")] == list(fitted_dec.pretrain_losses_)
    confusion = np.asarray(figures["confusion"].axes[0].images[0].get_array())
    assert np.trace(confusion) == pytest.approx(cluster_accuracy(y, fitted_dec.labels_) * len(y))
    for name, figure in figures.items():
        save_figure(figure, tmp_path / f"{name}.png", dpi=40)
        assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG_MAGIC)


def test_embeddings_side_by_side_draw_one_panel_per_method_on_one_sample():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(3), 20)
    planar = rng.normal(size=(60, 2)) + truth[:, None] * 5  # 2-D: drawn as is
    figure = plotting.plot_embeddings_side_by_side(
        {"DEC": planar, "N2D": planar * -1}, truth, captions={"DEC": "ACC 0.90"}, max_points=40)
    axes = figure.get_axes()
    assert [ax.get_title() for ax in axes] == ["DEC\nACC 0.90", "N2D"]
    assert all(len(ax.collections[0].get_offsets()) == 40 for ax in axes)
    # the same sample in both panels: the second is the first mirrored
    np.testing.assert_allclose(axes[1].collections[0].get_offsets(), -axes[0].collections[0].get_offsets())
    with pytest.raises(ValueError, match="different numbers of rows"):
        plotting.plot_embeddings_side_by_side({"a": planar, "b": planar[:10]}, truth)
    with pytest.raises(ValueError, match="at least one"):
        plotting.plot_embeddings_side_by_side({}, truth)
