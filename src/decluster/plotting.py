"""Figures of a DEC run: the embedding map, the training curves and the matched confusion matrix.

Everything is drawn on explicit :class:`matplotlib.figure.Figure` objects, never through
``pyplot``, so the functions work without a display and from several threads at once.
Write a figure to a PNG file with :func:`save_figure`.

Examples
--------
>>> from decluster.plotting import plot_embedding, save_figure
>>> figure = plot_embedding(model.transform(X), model.labels_, model.cluster_centers_)  # doctest: +SKIP
>>> save_figure(figure, "plots/embedding.png")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
from sklearn.manifold import TSNE
from sklearn.utils import check_random_state

from decluster.io.files import atomic_write_bytes
from decluster.metrics import _check_label_pair, match_labels
from decluster.nn.manifold import umap_class

EMBEDDING_METHODS = ("auto", "tsne", "umap")
"""Accepted values of ``plot_embedding``'s ``method``."""

MAX_LEGEND_ENTRIES = 20
"""Most groups shown with a legend and a qualitative palette; more get a colorbar."""

_METHOD_NAMES = {"tsne": "t-SNE", "umap": "UMAP", "direct": "embedding"}


# --------------------------------------------------------------------------- embedding map
@dataclass(frozen=True)
class _PlanePoints:
    """Sampled points and centroids placed in the plane.

    Attributes
    ----------
    points : ndarray of shape (m, 2)
    centers : ndarray of shape (k, 2) or None
    method : {"tsne", "umap", "direct"}
        How the plane was obtained (``"direct"``: the embedding was already 2-D).
    """

    points: np.ndarray
    centers: np.ndarray | None
    method: str


def _check_embedding(embedding, centers) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate the embedding as a finite (n, d) array and the centroids as (k, d)."""
    embedding = np.asarray(embedding, dtype=np.float64)
    if embedding.ndim != 2 or embedding.shape[0] == 0 or embedding.shape[1] == 0:
        raise ValueError(f"embedding must be a non-empty 2-D array (n_samples, d), got shape {embedding.shape}")
    if not np.all(np.isfinite(embedding)):
        raise ValueError("embedding must contain finite numbers only")
    if centers is None:
        return embedding, None
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[1] != embedding.shape[1]:
        raise ValueError(
            f"centers must have shape (n_clusters, {embedding.shape[1]}) like the embedding, got {centers.shape}"
        )
    if not np.all(np.isfinite(centers)):
        raise ValueError("centers must contain finite numbers only")
    return embedding, centers


def _check_labels(values, n_samples: int, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or values.shape[0] != n_samples:
        raise ValueError(
            f"{name} must be 1-D with one entry per embedded point ({n_samples}), got shape {values.shape}"
        )
    return values


def _umap_class():
    """The ``UMAP`` class of umap-learn, or None when it is not installed."""
    try:
        return umap_class()
    except ImportError:
        return None


def _resolve_method(method: str, n_dims: int) -> str:
    """``"direct"`` for a 2-D embedding, else the reducer to use; check that it is available."""
    if method not in EMBEDDING_METHODS:
        raise ValueError(f"method must be one of {EMBEDDING_METHODS}, got {method!r}")
    if n_dims == 2:
        return "direct"
    if method == "auto":
        return "umap" if _umap_class() is not None else "tsne"
    if method == "umap" and _umap_class() is None:
        raise ImportError(
            "method='umap' needs the umap-learn package (pip install umap-learn); "
            "use method='tsne' or method='auto' to fall back to scikit-learn's t-SNE"
        )
    return method


def _reduce_to_plane(data: np.ndarray, method: str, random_state) -> np.ndarray:
    """Map the rows of ``data`` to 2-D with t-SNE or UMAP."""
    n_rows = data.shape[0]
    if n_rows < 2:
        return np.zeros((n_rows, 2))
    if method == "umap":
        # A seeded UMAP runs on one thread; saying so spares its warning that n_jobs was overridden.
        threads = {} if random_state is None else {"n_jobs": 1}
        reducer = _umap_class()(n_components=2, n_neighbors=min(15, n_rows - 1), random_state=random_state,
                                **threads)
        return np.asarray(reducer.fit_transform(data), dtype=np.float64)
    tsne = TSNE(
        n_components=2,
        perplexity=float(min(30.0, max(1.0, (n_rows - 1) / 3.0))),
        init="pca" if data.shape[1] >= 2 else "random",
        learning_rate="auto",
        random_state=random_state,
    )
    return tsne.fit_transform(data)


def _project(sample: np.ndarray, centers: np.ndarray | None, method: str, random_state) -> _PlanePoints:
    """Place the sample and the centroids in one plane.

    t-SNE cannot place new points, so the centroids are appended to the sample, reduced
    together with it and split off again.
    """
    if method == "direct":
        return _PlanePoints(sample, centers, method)
    stacked = sample if centers is None else np.vstack([sample, centers])
    plane = _reduce_to_plane(stacked, method, random_state)
    m = sample.shape[0]
    return _PlanePoints(plane[:m], None if centers is None else plane[m:], method)


def _palette(n_groups: int) -> list:
    """Qualitative colours: tab10, or tab20 with its ten strong hues first."""
    if n_groups <= 10:
        return list(colormaps["tab10"].colors)
    colours = colormaps["tab20"].colors
    return [*colours[0::2], *colours[1::2]]


def _draw_groups(ax: Axes, points: np.ndarray, values: np.ndarray, title: str) -> list[Line2D]:
    """Scatter ``points`` coloured by ``values``.

    Returns legend handles, one per group, for at most ``MAX_LEGEND_ENTRIES`` groups; more
    groups get a continuous colormap and a colorbar instead (and no handles).
    """
    names, codes = np.unique(values, return_inverse=True)
    size = float(np.clip(12000.0 / max(len(points), 1), 5.0, 30.0))
    style = dict(s=size, alpha=0.65, linewidths=0, rasterized=len(points) > 5000)
    if len(names) <= MAX_LEGEND_ENTRIES:
        palette = _palette(len(names))
        ax.scatter(points[:, 0], points[:, 1], c=[palette[code] for code in codes], **style)
        return [Line2D([], [], linestyle="", marker="o", markersize=6, color=palette[index], label=str(name))
                for index, name in enumerate(names)]
    mappable = ax.scatter(points[:, 0], points[:, 1], c=codes, cmap="turbo", **style)
    colorbar = ax.get_figure().colorbar(mappable, ax=ax, label=title)
    colorbar.locator = MaxNLocator(nbins=10, integer=True)
    colorbar.formatter = FuncFormatter(
        lambda value, _: str(names[int(value)]) if 0 <= value < len(names) and value == int(value) else ""
    )
    colorbar.update_ticks()
    return []


def _draw_centroids(ax: Axes, centers: np.ndarray) -> Line2D:
    """Black triangles at the centroids; returns their legend handle."""
    ax.scatter(centers[:, 0], centers[:, 1], marker="^", s=110, c="black", edgecolors="white",
               linewidths=1.0, zorder=3)
    return Line2D([], [], linestyle="", marker="^", markersize=8, color="black", label="centroid")


def _map_title(plane: _PlanePoints, n_total: int, by_truth: bool, model_name: str) -> str:
    what = "true label" if by_truth else "cluster"
    m = len(plane.points)
    points = f"{n_total:,} points" if m == n_total else f"a random {m:,} of {n_total:,} points"
    if plane.method == "direct":
        how = f"{points}, 2-D embedding drawn as is"
    else:
        how = f"{_METHOD_NAMES[plane.method]} of {points}"
        if plane.centers is not None:
            how += f" and {len(plane.centers)} centroids"
    return f"{model_name} embedding coloured by {what}\n{how}"


def plot_embedding(embedding: np.ndarray, labels: np.ndarray, centers: np.ndarray | None = None, *,
                   true_labels: np.ndarray | None = None, max_points: int = 2000, method: str = "auto",
                   random_state: int | None = 0, model_name: str = "DEC") -> Figure:
    """Draw the learned embedding in 2-D, coloured by cluster, with the centroids (DEC, fig. 5).

    A random sample of at most ``max_points`` points is reduced to the plane together with
    the centroids (t-SNE cannot place points afterwards); an embedding that is already 2-D
    is drawn as is.

    Parameters
    ----------
    embedding : array-like of shape (n_samples, d)
        Embedded points, e.g. ``model.transform(X)``.
    labels : array-like of shape (n_samples,)
        Cluster of each point, e.g. ``model.labels_``.
    centers : array-like of shape (n_clusters, d), optional
        Centroids in the embedding space, drawn as black triangles.
    true_labels : array-like of shape (n_samples,), optional
        Colour the points by these reference labels instead of by cluster.
    max_points : int, default=2000
        Most points drawn (and reduced).
    method : {"auto", "tsne", "umap"}, default="auto"
        ``"auto"`` uses UMAP when umap-learn is installed, else scikit-learn's t-SNE.
    random_state : int or None, default=0
        Seeds the sample and the reduction.
    model_name : str, default="DEC"
        The method that learned the embedding, named in the title (``"N2D"``, ``"auto: n2d"``...).

    Returns
    -------
    matplotlib.figure.Figure
        One axes (plus a colorbar axes beyond 20 groups).

    Raises
    ------
    ValueError
        On malformed inputs or an unknown ``method``.
    ImportError
        If ``method="umap"`` and umap-learn is not installed.
    """
    embedding, centers = _check_embedding(embedding, centers)
    n_total = embedding.shape[0]
    values = _check_labels(labels, n_total, "labels")
    if true_labels is not None:
        values = _check_labels(true_labels, n_total, "true_labels")
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}")
    plane_method = _resolve_method(method, embedding.shape[1])
    sample = check_random_state(random_state).permutation(n_total)[:max_points]
    plane = _project(embedding[sample], centers, plane_method, random_state)

    figure = Figure(figsize=(8.0, 6.4), layout="constrained")
    ax = figure.add_subplot()
    title = "true label" if true_labels is not None else "cluster"
    handles = _draw_groups(ax, plane.points, values[sample], title)
    if plane.centers is not None and len(plane.centers):
        handles.append(_draw_centroids(ax, plane.centers))
    if len(handles) > 1:  # one entry per group, outside the axes on the right
        ax.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0, frameon=False, ncol=1 if len(handles) <= 13 else 2)
    elif handles:  # the colorbar is on the right: only the centroid entry, inside
        ax.legend(handles=handles, loc="best", fontsize="small", framealpha=0.8)
    axis_name = _METHOD_NAMES[plane.method]
    ax.set_xlabel(f"{axis_name} 1")
    ax.set_ylabel(f"{axis_name} 2")
    if plane.method != "direct":  # the coordinates of t-SNE and UMAP have no meaning
        ax.xaxis.set_major_locator(NullLocator())
        ax.yaxis.set_major_locator(NullLocator())
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(_map_title(plane, n_total, true_labels is not None, model_name))
    return figure


def plot_embeddings_side_by_side(embeddings: Mapping[str, np.ndarray], true_labels: np.ndarray, *,
                                 captions: Mapping[str, str] | None = None, max_points: int = 2000,
                                 method: str = "auto", random_state: int | None = 0) -> Figure:
    """Draw several embeddings of the same points next to each other, coloured by true label.

    Compares methods (e.g. DEC's and IDEC's refined embeddings and N2D's manifold) on one
    random sample of the points, each reduced to the plane on its own.

    Parameters
    ----------
    embeddings : mapping of str to array-like of shape (n_samples, d)
        Panel title (e.g. ``"DEC"``) to the embedding of the same n points.
    true_labels : array-like of shape (n_samples,)
    captions : mapping of str to str, optional
        A second title line per panel, e.g. ``"ACC 0.83"``.
    max_points, method, random_state
        As :func:`plot_embedding`.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per embedding, in the mapping's order, and one legend.

    Raises
    ------
    ValueError
        If no embedding is given, or one is malformed or of another length.
    """
    if not embeddings:
        raise ValueError("embeddings must name at least one embedding")
    checked = {name: _check_embedding(values, None)[0] for name, values in embeddings.items()}
    n_total = {len(values) for values in checked.values()}
    if len(n_total) != 1:
        raise ValueError(f"the embeddings have different numbers of rows: {sorted(n_total)}")
    n_total = n_total.pop()
    values = _check_labels(true_labels, n_total, "true_labels")
    sample = check_random_state(random_state).permutation(n_total)[:max_points]
    figure = Figure(figsize=(4.6 * len(checked) + 1.2, 4.8), layout="constrained")
    handles: list[Line2D] = []
    for ax, (name, embedding) in zip(figure.subplots(1, len(checked), squeeze=False)[0], checked.items()):
        plane = _project(embedding[sample], None, _resolve_method(method, embedding.shape[1]), random_state)
        handles = _draw_groups(ax, plane.points, values[sample], "true label")
        ax.xaxis.set_major_locator(NullLocator())
        ax.yaxis.set_major_locator(NullLocator())
        ax.set_aspect("equal", adjustable="datalim")
        caption = (captions or {}).get(name)
        ax.set_title(name if caption is None else f"{name}\n{caption}")
    if handles:
        figure.legend(handles=handles, title="true label", loc="outside right upper", frameon=False)
    return figure


# --------------------------------------------------------------------------- training curves
def _log_if_wide(ax: Axes, values: np.ndarray) -> None:
    """Use a log y axis when the positive values span more than a factor of 10."""
    positive = values[values > 0]
    if positive.size == values.size and positive.size and positive.max() > 10 * positive.min():
        ax.set_yscale("log")


def _pretraining_stages(pretrain_losses: Mapping[str, list[float]] | None) -> list[tuple[str, np.ndarray]]:
    """The stages that recorded at least one epoch, with their losses as arrays."""
    return [(name, np.asarray(losses, dtype=np.float64))
            for name, losses in (pretrain_losses or {}).items() if len(losses)]


def _draw_pretraining(ax: Axes, stages: list[tuple[str, np.ndarray]]) -> None:
    """Per-epoch reconstruction error of the stages, one after another on one x axis."""
    ax.set_title("autoencoder pretraining")
    palette = colormaps["tab10"].colors
    total = sum(len(losses) for _, losses in stages)
    offset = 0
    for index, (name, losses) in enumerate(stages):
        epochs = offset + np.arange(1, len(losses) + 1)
        ax.plot(epochs, losses, marker="o" if total <= 60 else None, markersize=3,
                color=palette[index % len(palette)], label=name)
        if offset:
            ax.axvline(offset + 0.5, color="0.8", linewidth=0.8, zorder=0)
        offset += len(losses)
    _log_if_wide(ax, np.concatenate([losses for _, losses in stages]))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (stages in sequence)")
    ax.set_ylabel("reconstruction error ½‖x − x̂‖²")
    ax.legend(title="stage", fontsize="small", loc="best")


def _history_arrays(history) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Iterations, losses and label-change fractions of a ClusteringHistory, a dict or None."""
    if history is None:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    read = history.get if isinstance(history, Mapping) else lambda key: getattr(history, key)
    arrays = tuple(np.asarray(read(key), dtype=np.float64) for key in ("iterations", "losses", "label_changes"))
    if any(array.ndim != 1 for array in arrays) or len({len(array) for array in arrays}) != 1:
        raise ValueError(
            "history must hold three 1-D sequences of equal length: iterations, losses, label_changes"
        )
    return arrays


def _draw_kl(ax: Axes, iterations: np.ndarray, losses: np.ndarray) -> None:
    ax.set_title(r"clustering loss $\mathrm{KL}(P\,\|\,Q)$")
    ax.plot(iterations, losses, marker="o", markersize=3, color="tab:blue")
    _log_if_wide(ax, losses)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("clustering iteration")
    ax.set_ylabel("mean KL since the previous target update")


def _draw_label_changes(ax: Axes, iterations: np.ndarray, changes: np.ndarray, tol: float | None) -> None:
    """Fraction of labels changed per update on a log axis; zeros drawn as triangles at the floor."""
    ax.set_title("labels changed per target update")
    ax.set_yscale("log")
    positive = changes > 0
    ax.plot(iterations[positive], changes[positive], marker="o", markersize=3, color="tab:purple",
            label="fraction changed")
    if not positive.all():
        floor = min([*changes[positive], *([tol] if tol else [])], default=1e-3) / 3.0
        ax.plot(iterations[~positive], np.full((~positive).sum(), floor), linestyle="", marker="v",
                color="tab:purple", label="none changed (drawn at bottom)")
    if tol is not None and tol > 0:
        ax.axhline(tol, color="tab:red", linestyle="--", linewidth=1.0, label=f"tol = {tol:g}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("clustering iteration")
    ax.set_ylabel("fraction of labels changed")
    ax.legend(fontsize="small", loc="best")


def has_training_curves(pretrain_losses: Mapping[str, list[float]] | None, history) -> bool:
    """Whether :func:`plot_training_curves` has anything to draw: a pretraining epoch or a target update.

    Parameters
    ----------
    pretrain_losses : dict of str to list of float, or None
    history : ClusteringHistory, dict or None

    Returns
    -------
    bool
    """
    return bool(_pretraining_stages(pretrain_losses)) or len(_history_arrays(history)[0]) > 0


def plot_training_curves(pretrain_losses: Mapping[str, list[float]] | None, history, *, tol: float | None = None,
                         model_name: str = "DEC") -> Figure:
    """Draw the pretraining reconstruction error and the clustering phase's progress.

    Up to three panels, only those with data: the per-epoch reconstruction error of each
    pretraining stage, stages one after another; KL(P || Q) at each target update; and the
    fraction of labels changed at each update (log scale), with the stopping threshold ``tol``
    when given. N2D, which has no target updates, gets the first panel only; a model whose
    autoencoder was reused gets the last two only.

    Parameters
    ----------
    pretrain_losses : dict of str to list of float, or None
        ``model.pretrain_losses_``; may be empty.
    history : ClusteringHistory, dict or None
        ``model.history_`` (or the same fields as a dict); None or empty for N2D.
    tol : float, optional
        The model's ``tol``, drawn as a dashed line on the label-change panel.
    model_name : str, default="DEC"
        The method that ran, for the title ``"<model_name> training"``.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel drawn, left to right as above.

    Raises
    ------
    ValueError
        If there is nothing to draw (see :func:`has_training_curves`), or the history is ragged.
    """
    iterations, losses, changes = _history_arrays(history)
    stages = _pretraining_stages(pretrain_losses)
    panels = [lambda ax: _draw_pretraining(ax, stages)] if stages else []
    if len(iterations):
        panels += [lambda ax: _draw_kl(ax, iterations, losses),
                   lambda ax: _draw_label_changes(ax, iterations, changes, tol)]
    if not panels:
        raise ValueError("no training curves to draw: no pretraining epoch and no target update recorded")
    figure = Figure(figsize=(5.0 * len(panels), 4.4), layout="constrained")
    for ax, draw in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        draw(ax)
    figure.suptitle(f"{model_name} training")
    return figure


def plot_k_selection(selection) -> Figure:
    """Draw the criterion that chose the number of clusters against k, the choice marked.

    Parameters
    ----------
    selection : KSelection
        ``model.k_selection_`` of a fit with ``n_clusters="auto"``.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: the mean silhouette of each k tried, and the chosen k as a dashed line.
    """
    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = figure.subplots()
    ax.plot(selection.candidates, selection.scores, marker="o", color="tab:blue")
    best = selection.scores[selection.candidates.index(selection.n_clusters)]
    ax.axvline(selection.n_clusters, color="tab:red", linestyle="--",
               label=f"chosen: k = {selection.n_clusters} ({selection.criterion} {best:.3f})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="number of clusters k", ylabel=f"mean {selection.criterion} of k-means",
           title="Choice of the number of clusters")
    ax.legend(loc="best")
    return figure


# --------------------------------------------------------------------------- confusion matrix
@dataclass(frozen=True)
class MatchedConfusion:
    """Contingency table of classes by clusters, ordered so that matched pairs lie on the diagonal.

    Attributes
    ----------
    counts : ndarray of shape (n_classes, n_clusters)
        ``counts[i, j]`` points of class ``classes[i]`` in cluster ``clusters[j]``.
    classes : ndarray of shape (n_classes,)
        Row labels in display order: the matched classes in sorted order, then any unmatched.
    clusters : ndarray of shape (n_clusters,)
        Column labels: the cluster matched to each matched class, then the unmatched clusters.
    n_matched : int
        Number of matched pairs: the first ``n_matched`` diagonal cells.
    accuracy : float
        The diagonal's sum over the number of points (ACC, as :func:`decluster.cluster_accuracy`).
    """

    counts: np.ndarray
    classes: np.ndarray
    clusters: np.ndarray
    n_matched: int
    accuracy: float


def matched_confusion(y_true, y_pred) -> MatchedConfusion:
    """Contingency table after the best one-to-one map of clusters to classes (Hungarian method).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels; their number may differ from the number of classes.

    Returns
    -------
    MatchedConfusion
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    classes, clusters = np.unique(y_true), np.unique(y_pred)
    matching = match_labels(y_true, y_pred)
    counts, rows, cols = matching.counts, matching.rows, matching.cols
    row_order = np.concatenate([rows, np.setdiff1d(np.arange(len(classes)), rows)])
    spare = np.setdiff1d(np.arange(len(clusters)), cols)
    # unmatched clusters go right, ordered by the display row of their largest class
    row_rank = np.argsort(row_order)
    spare = spare[np.argsort(row_rank[counts[:, spare].argmax(axis=0)], kind="stable")]
    col_order = np.concatenate([cols, spare]).astype(int)
    ordered = counts[np.ix_(row_order, col_order)]
    return MatchedConfusion(
        counts=ordered,
        classes=classes[row_order],
        clusters=clusters[col_order],
        n_matched=len(rows),
        accuracy=float(np.trace(ordered[: len(rows), : len(rows)]) / y_true.size),
    )


def _annotate_cells(ax: Axes, counts: np.ndarray) -> None:
    """Write each count in its cell, white on dark cells; skipped for very large tables."""
    largest = max(counts.shape)
    if largest > 30:
        return
    fontsize = 9 if largest <= 12 else 7 if largest <= 20 else 5.5
    threshold = counts.max() / 2.0
    for (i, j), value in np.ndenumerate(counts):
        colour = "white" if value > threshold else ("0.25" if value else "0.7")
        ax.text(j, i, str(value), ha="center", va="center", fontsize=fontsize, color=colour)


def plot_confusion(y_true, y_pred) -> Figure:
    """Draw the confusion matrix of clusters against labels after Hungarian matching.

    Columns are reordered so that the cluster matched to each class sits on the diagonal
    (outlined); unmatched clusters follow on the right and unmatched classes at the bottom,
    so the numbers of clusters and classes may differ.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Reference labels.
    y_pred : array-like of shape (n_samples,)
        Cluster labels.

    Returns
    -------
    matplotlib.figure.Figure
        The matrix axes and its colorbar axes; the image holds
        :func:`matched_confusion`'s ``counts``.
    """
    confusion = matched_confusion(y_true, y_pred)
    n_rows, n_cols = confusion.counts.shape
    # about 0.55 inch per cell, plus room for the title, the tick labels and the colorbar
    width = float(np.clip(0.55 * n_cols + 2.6, 5.0, 16.0))
    height = float(np.clip(0.55 * n_rows + 1.9, 3.5, 14.0))
    figure = Figure(figsize=(width, height), layout="constrained")
    ax = figure.add_subplot()
    image = ax.imshow(confusion.counts, cmap="Blues", aspect="auto", interpolation="nearest")
    figure.colorbar(image, ax=ax, label="points")
    for index in range(confusion.n_matched):
        ax.add_patch(Rectangle((index - 0.5, index - 0.5), 1, 1, fill=False,
                               edgecolor="tab:orange", linewidth=1.2))
    _annotate_cells(ax, confusion.counts)
    ax.set_xticks(np.arange(n_cols), [str(c) for c in confusion.clusters], rotation=90 if n_cols > 20 else 0)
    ax.set_yticks(np.arange(n_rows), [str(c) for c in confusion.classes])
    ax.tick_params(labelsize=8 if max(n_rows, n_cols) > 15 else 10)
    ax.set_xlabel("cluster (matched to label)")
    ax.set_ylabel("true label")
    n = int(confusion.counts.sum())
    correct = int(np.trace(confusion.counts[: confusion.n_matched, : confusion.n_matched]))
    ax.set_title(f"clusters vs labels: ACC = {confusion.accuracy:.3f}\n"
                 f"({correct:,} of {n:,} points on the diagonal)")
    return figure


# --------------------------------------------------------------------------- output
def _check_dpi(dpi) -> None:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, np.integer, float)) or not dpi > 0:
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")


def figure_png(figure: Figure, *, dpi: int = 120) -> bytes:
    """The figure rendered as PNG bytes (with no software tag, so the file names no web address).

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    dpi : int, default=120
        Resolution in dots per inch.

    Returns
    -------
    bytes
    """
    _check_dpi(dpi)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | os.PathLike, *, dpi: int = 120) -> None:
    """Write ``figure`` to ``path`` as a PNG, atomically.

    The image is rendered to memory (:func:`figure_png`) and written through a temporary file
    and a rename, so readers see the previous file or the complete new one. Missing parent
    folders are made.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    path : str or os.PathLike
        Target file; written as PNG whatever its suffix.
    dpi : int, default=120
        Resolution in dots per inch.
    """
    payload = figure_png(figure, dpi=dpi)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, payload)
