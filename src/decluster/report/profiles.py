"""What sets each cluster of a table apart: per-cluster feature means and a heat map of them.

How well a feature separates the clusters is measured by its correlation ratio

    eta² = sum_j (n_j / n) (mean_j - mean)² / variance,

the share of the feature's variance that lies between the clusters (0: every cluster has the
same mean; 1: each cluster is one value). It orders the features like the one-way ANOVA
F statistic, F = eta² / (1 - eta²) * (n - k) / (k - 1), but lies in [0, 1] whatever the number
of rows, so it reads the same for 200 rows and for ten million. How a cluster differs on a
feature is its mean in standard deviations of the whole data, ``(mean_j - mean) / sd``, the
quantity the heat map shows and ``clusters.csv`` ranks.

The statistics come from :func:`~decluster.report.stratified_sample`: each cluster's mean
and variance from its sampled rows, combined with the clusters' true sizes, so the overall mean
and variance are those of the whole data (up to sampling error) and no cluster is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from scipy import sparse

from decluster.data.disk_rows import DiskRows
from decluster.data.preprocessing import FeatureScaling
from decluster.report.text import plain_label
from decluster.report.rows import (
    DEFAULT_MAX_ROWS,
    ClusterIndex,
    check_assignments,
    index_clusters,
    read_rows,
    stratified_sample,
)

MAX_PROFILE_FEATURES = 30
"""Most features the heat map shows (the best separating ones)."""


@dataclass(frozen=True)
class ClusterProfiles:
    """Per-cluster means of each feature, and how well each feature separates the clusters.

    Attributes
    ----------
    feature_names : tuple of str, length n_features
    sizes : ndarray of int64 of shape (n_clusters,)
        Rows of each cluster in the whole data.
    means : ndarray of shape (n_clusters, n_features)
        Each cluster's mean, in the data's own units; NaN for an empty cluster.
    overall_mean, overall_std : ndarray of shape (n_features,)
        Mean and standard deviation of the whole data.
    separation : ndarray of shape (n_features,)
        The correlation ratio eta² of each feature, in [0, 1] (see the module's description).
    n_sampled : int
        Rows the statistics were computed from (all of them, or a stratified sample).
    """

    feature_names: tuple[str, ...]
    sizes: np.ndarray
    means: np.ndarray
    overall_mean: np.ndarray
    overall_std: np.ndarray
    separation: np.ndarray
    n_sampled: int

    @property
    def n_rows(self) -> int:
        return int(self.sizes.sum())

    @property
    def standardized(self) -> np.ndarray:
        """``(means - overall_mean) / overall_std``, shape (n_clusters, n_features); 0 for a constant feature."""
        spread = np.where(self.overall_std > 0, self.overall_std, 1.0)
        return np.where(self.overall_std > 0, (self.means - self.overall_mean) / spread, 0.0)

    def ranking(self) -> np.ndarray:
        """Feature numbers, best separating first (ties in column order)."""
        return np.argsort(-self.separation, kind="stable")


def default_feature_names(n_features: int) -> tuple[str, ...]:
    """``("feature 0", "feature 1", ...)``: the names of columns without a header."""
    return tuple(f"feature {index}" for index in range(n_features))


def _check_names(feature_names: Sequence[str] | None, n_features: int) -> tuple[str, ...]:
    if feature_names is None:
        return default_feature_names(n_features)
    names = tuple(str(name) for name in feature_names)
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names for {n_features} features")
    return names


def _moments(values: np.ndarray, labels: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster mean and (population) variance of the sampled rows; NaN for a cluster without rows."""
    m = len(labels)
    member = sparse.csr_matrix((np.ones(m), (labels, np.arange(m))), shape=(n_clusters, m))
    counts = np.bincount(labels, minlength=n_clusters).astype(np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (member @ values) / counts
        deviations = values - np.nan_to_num(means)[labels]
        return means, (member @ deviations ** 2) / counts


def cluster_profiles(X: np.ndarray | DiskRows, labels, *, n_clusters: int | None = None,
                     feature_names: Sequence[str] | None = None, scaling: FeatureScaling | None = None,
                     max_rows: int = DEFAULT_MAX_ROWS, random_state: int | None = 0,
                     index: ClusterIndex | None = None) -> ClusterProfiles:
    """Each cluster's mean of each feature, from at most ``max_rows`` rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), or rows on disk (NpyRows, ParquetRows)
        The data as the model sees them.
    labels : array-like of int of shape (n_samples,)
        Cluster of each row.
    n_clusters : int, optional
        Number of clusters (some may be empty); by default one more than the largest label.
    feature_names : sequence of str, optional
        One name per feature (a file's header); by default ``feature 0``, ``feature 1``...
    scaling : FeatureScaling, optional
        The scaling that made ``X``, undone so that the means are in the data's own units.
    max_rows : int, default=20000
        Most rows read (see :func:`~decluster.report.stratified_sample`).
    random_state : int or None, default=0
    index : ClusterIndex, optional
        The same labels already grouped (:func:`~decluster.report.index_clusters`), to save sorting
        them again.

    Returns
    -------
    ClusterProfiles
    """
    names = _check_names(feature_names, X.shape[1])
    if index is None:
        labels, _, k = check_assignments(labels, np.ones(len(labels)), n_clusters)
        index = index_clusters(labels, np.zeros(len(labels)), k)
    labels = np.asarray(labels, dtype=np.int64)
    rows = stratified_sample(index, max_rows, random_state)
    means, variances = _moments(read_rows(X, rows, scaling), labels[rows], index.n_clusters)
    weights = index.sizes / index.sizes.sum()
    present = index.sizes > 0
    overall = weights[present] @ means[present]
    between = weights[present] @ (means[present] - overall) ** 2
    total = between + weights[present] @ variances[present]
    spread = np.where(total > (1e-9 * np.abs(overall)) ** 2, total, 0.0)  # constant but for rounding: 0
    separation = np.divide(between, spread, out=np.zeros_like(between), where=spread > 0)
    return ClusterProfiles(names, index.sizes.copy(), means, overall, np.sqrt(spread),
                           np.clip(separation, 0.0, 1.0), len(rows))


def distinctive_features(profiles: ClusterProfiles, cluster: int,
                         top: int = 3) -> list[tuple[str, float, float, float]]:
    """The features on which ``cluster`` differs most from the whole data.

    Parameters
    ----------
    profiles : ClusterProfiles
    cluster : int
    top : int, default=3

    Returns
    -------
    list of (name, cluster_mean, overall_mean, difference)
        At most ``top`` features by decreasing ``|difference|``, the difference in standard
        deviations of the whole data; empty for an empty cluster or constant features.
    """
    differences = profiles.standardized[cluster]
    if not np.isfinite(differences).all():
        return []
    order = np.argsort(-np.abs(differences), kind="stable")[:top]
    return [(profiles.feature_names[f], float(profiles.means[cluster, f]), float(profiles.overall_mean[f]),
             float(differences[f])) for f in order if differences[f] != 0]


def _heat_map_size(n_clusters: int, n_features: int) -> tuple[float, float]:
    width = float(np.clip(3.2 + 0.42 * n_features, 8.0, 18.0))
    height = float(np.clip(3.0 + 0.26 * n_clusters, 5.0, 30.0))
    return width, height


def _annotate(ax, values: np.ndarray) -> None:
    """Write each standardized mean in its cell, for maps small enough to read them."""
    if values.size > 400:
        return
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(column, row, f"{round(value, 1) + 0.0:+.1f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 1.5 else "0.15")


def plot_profiles(profiles: ClusterProfiles, *, max_features: int = MAX_PROFILE_FEATURES,
                  model_name: str | None = None) -> Figure:
    """Draw the heat map of each cluster's standardized mean of each feature.

    Rows are the clusters (with their sizes), columns the features ordered by eta², best
    separating left; with more than ``max_features`` features only the best ones are shown and
    the title says so. Red: the cluster's mean lies above the whole data's, blue below, in
    standard deviations (the colour scale stops at +-2.5).

    Parameters
    ----------
    profiles : ClusterProfiles
    max_features : int, default=30
    model_name : str, optional
        The method that made the clusters, named in the title.

    Returns
    -------
    matplotlib.figure.Figure
        The heat map axes and its colorbar axes.
    """
    shown = profiles.ranking()[:max_features]
    values = profiles.standardized[:, shown]
    n_clusters, n_features = values.shape
    figure = Figure(figsize=_heat_map_size(n_clusters, n_features), layout="constrained")
    ax = figure.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormaps["RdBu_r"].with_extremes(bad="0.85"),
                      vmin=-2.5, vmax=2.5, aspect="auto", interpolation="nearest")
    figure.colorbar(image, ax=ax, label="(mean − overall mean) / sd",
                    shrink=min(1.0, 6.0 / figure.get_figheight()))
    if n_clusters <= 30:
        _annotate(ax, values)
    labels = [f"{plain_label(profiles.feature_names[f], 28)}  (η² {profiles.separation[f]:.2f})" for f in shown]
    ax.set_xticks(np.arange(n_features), labels, rotation=50, ha="right", rotation_mode="anchor",
                  fontsize=8 if n_features > 15 else 9)
    ax.set_yticks(np.arange(n_clusters), [f"{j}  (n={size:,})" for j, size in enumerate(profiles.sizes)],
                  fontsize=6 if n_clusters > 40 else 8 if n_clusters > 15 else 9)
    ax.set_ylabel("cluster")
    ax.set_title(_profiles_title(profiles, n_features, model_name), fontsize=10)
    return figure


def _profiles_title(profiles: ClusterProfiles, n_shown: int, model_name: str | None) -> str:
    total = len(profiles.feature_names)
    which = f"all {total} features" if n_shown == total else f"the {n_shown} best separating of {total} features"
    rows = (f"all {profiles.n_rows:,} rows" if profiles.n_sampled == profiles.n_rows
            else f"a stratified sample of {profiles.n_sampled:,} of {profiles.n_rows:,} rows")
    prefix = f"{model_name} cluster" if model_name else "Cluster"
    return (f"{prefix} profiles: each cluster's mean of each standardized feature\n"
            f"{which}, ordered by η² (variance between clusters / total)\nmeans of {rows}")
