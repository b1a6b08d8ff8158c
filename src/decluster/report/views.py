"""The pictures of a fitted model on some data, each fitted to the method that ran.

:func:`model_figures` draws what every method has (the embedding map, the training curves it
recorded, the confusion matrix with labels, the choice of k); :func:`cluster_views` what the
clusters hold: the image gallery for images, the feature profiles for a table, and the
per-cluster table for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from decluster.data.disk_rows import DiskRows
from decluster.data.preprocessing import FeatureScaling
from decluster.plotting import (
    has_training_curves,
    plot_confusion,
    plot_embedding,
    plot_k_selection,
    plot_training_curves,
)
from decluster.report.gallery import gallery_pages
from decluster.report.outputs import GALLERY_FILES, PROFILES_FILE
from decluster.report.profiles import ClusterProfiles, cluster_profiles, plot_profiles
from decluster.report.rows import DEFAULT_MAX_ROWS, check_assignments, index_clusters, on_disk, read_rows
from decluster.report.summary import ClusterRow, cluster_table


def _embedded_sample(model, X: np.ndarray | DiskRows, labels: np.ndarray, true_labels: np.ndarray | None,
                     max_points: int, random_state: int | None):
    """The embedding, labels and true labels of the points the map draws: all rows of an array (the map
    samples them itself), ``max_points`` rows drawn at random from rows on disk."""
    if not on_disk(X):
        return model.transform(X), labels, true_labels
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(X.n_rows, min(max_points, X.n_rows), replace=False))
    return model.transform(read_rows(X, rows).astype(np.float32)), labels[rows], \
        None if true_labels is None else true_labels[rows]


def model_figures(model, X: np.ndarray | DiskRows, labels, *, true_labels=None,
                  pretrain_losses: Mapping[str, list[float]] | None = None, model_name: str | None = None,
                  max_points: int = 2000, random_state: int | None = 0) -> dict[str, Figure]:
    """The pictures every method has, by file name.

    Parameters
    ----------
    model : DEC, IDEC or N2D
        A fitted estimator (``AutoCluster.estimator_`` for ``auto``).
    X : ndarray of shape (n_samples, n_features), or rows on disk (NpyRows, ParquetRows)
        The data as the model sees them.
    labels : array-like of shape (n_samples,)
        Cluster of each row.
    true_labels : array-like of shape (n_samples,), optional
        Reference labels: the map is coloured by them and the confusion matrix drawn.
    pretrain_losses : dict of str to list of float, optional
        Replaces ``model.pretrain_losses_`` (``auto``'s refinement reuses the autoencoder its first
        stage pretrained).
    model_name : str, optional
        The method, for the titles; by default the model's class name.
    max_points : int, default=2000
        Points on the embedding map (of rows on disk, only these are read).
    random_state : int or None, default=0

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``embedding.png``; ``training.png`` when training curves were recorded (only the panels
        with data); ``confusion.png`` with true labels; ``k-selection.png`` when k was chosen.
    """
    name = model_name or type(model).__name__
    labels = np.asarray(labels)
    truth = None if true_labels is None else np.asarray(true_labels)
    embedding, shown, shown_truth = _embedded_sample(model, X, labels, truth, max_points, random_state)
    figures = {"embedding.png": plot_embedding(embedding, shown, getattr(model, "cluster_centers_", None),
                                               true_labels=shown_truth, max_points=max_points,
                                               random_state=random_state, model_name=name)}
    losses = model.pretrain_losses_ if pretrain_losses is None else pretrain_losses
    history = getattr(model, "history_", None)
    if has_training_curves(losses, history):
        figures["training.png"] = plot_training_curves(losses, history, tol=getattr(model, "tol", None),
                                                       model_name=name)
    if truth is not None:
        figures["confusion.png"] = plot_confusion(truth, labels)
    if getattr(model, "k_selection_", None) is not None:
        figures["k-selection.png"] = plot_k_selection(model.k_selection_)
    return figures


@dataclass(frozen=True)
class ClusterViews:
    """What the clusters hold.

    Attributes
    ----------
    figures : dict of str to matplotlib.figure.Figure
        Images: the gallery pages (``clusters.png``, ``clusters-2.png``...); tables: ``profiles.png``.
    table : list of ClusterRow
        One row per cluster.
    profiles : ClusterProfiles or None
        The feature profiles (tables only).
    """

    figures: dict[str, Figure]
    table: list[ClusterRow]
    profiles: ClusterProfiles | None


def cluster_views(X: np.ndarray | DiskRows, labels, confidence, *, n_clusters: int | None = None,
                  image_shape: Sequence[int] | None = None, feature_names: Sequence[str] | None = None,
                  scaling: FeatureScaling | None = None, true_labels=None, max_rows: int = DEFAULT_MAX_ROWS,
                  model_name: str | None = None, random_state: int | None = 0) -> ClusterViews:
    """The gallery (images) or the profiles (tables) of the clusters, and their table.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), or rows on disk (NpyRows, ParquetRows)
        The data as the model sees them; only the rows drawn or sampled are read.
    labels : array-like of int of shape (n_samples,)
    confidence : array-like of shape (n_samples,)
        ``predict_proba(X).max(axis=1)``.
    n_clusters : int, optional
        Number of clusters (some may be empty); by default one more than the largest label.
    image_shape : (int, int) or (int, int, int), optional
        The images' shape (``model.image_shape``); None for a table.
    feature_names : sequence of str, optional
        A table's column names; by default ``feature 0``, ``feature 1``...
    scaling : FeatureScaling, optional
        The scaling that made ``X``, undone so that pictures and means are in the data's units.
    true_labels : array-like of shape (n_samples,), optional
        Reference labels: the table names each cluster's most common one.
    max_rows : int, default=20000
        Most rows the profiles average.
    model_name : str, optional
        The method, for the titles.
    random_state : int or None, default=0

    Returns
    -------
    ClusterViews
    """
    labels, confidence, k = check_assignments(labels, confidence, n_clusters)
    index = index_clusters(labels, confidence, k)
    profiles = None
    if image_shape is not None:
        pages = gallery_pages(X, index, confidence, image_shape, scaling=scaling, model_name=model_name)
        figures = dict(zip(GALLERY_FILES, pages))
    else:
        profiles = cluster_profiles(X, labels, feature_names=feature_names, scaling=scaling, max_rows=max_rows,
                                    random_state=random_state, index=index)
        figures = {PROFILES_FILE: plot_profiles(profiles, model_name=model_name)}
    return ClusterViews(figures, cluster_table(index, confidence, profiles=profiles, true_labels=true_labels),
                        profiles)
