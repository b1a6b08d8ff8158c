"""One line per cluster: its size, its confidence and what sets it apart, as rows and as ``clusters.csv``."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from decluster.report.profiles import ClusterProfiles, distinctive_features
from decluster.report.rows import ClusterIndex

TOP_FEATURES = 3
"""Distinctive features listed per cluster."""


@dataclass(frozen=True)
class FeatureContrast:
    """How a cluster differs from the whole data on one feature.

    Attributes
    ----------
    name : str
    cluster_mean, overall_mean : float
        In the data's own units.
    difference : float
        ``(cluster_mean - overall_mean) / sd`` with the whole data's standard deviation.
    """

    name: str
    cluster_mean: float
    overall_mean: float
    difference: float


@dataclass(frozen=True)
class ClusterRow:
    """One cluster's line of the table.

    Attributes
    ----------
    cluster, size : int
    share : float
        ``size`` over all rows.
    mean_confidence : float
        Mean of ``max_j q_ij`` over the cluster's rows; NaN for an empty cluster.
    features : tuple of FeatureContrast
        Its most distinctive features (tables), most distinctive first; empty for images.
    top_label : int or None
        With true labels: the most common one in the cluster.
    top_label_share : float or None
        Its share of the cluster.
    """

    cluster: int
    size: int
    share: float
    mean_confidence: float
    features: tuple[FeatureContrast, ...] = ()
    top_label: int | None = None
    top_label_share: float | None = None


def _top_label(true_labels: np.ndarray | None, members: np.ndarray) -> tuple[int | None, float | None]:
    if true_labels is None or not len(members):
        return None, None
    values, counts = np.unique(true_labels[members], return_counts=True)
    best = int(np.argmax(counts))
    return values[best].item(), float(counts[best] / len(members))


def cluster_table(index: ClusterIndex, confidence: np.ndarray, *, profiles: ClusterProfiles | None = None,
                  true_labels=None, top: int = TOP_FEATURES) -> list[ClusterRow]:
    """The table's rows, one per cluster in order.

    Parameters
    ----------
    index : ClusterIndex
        The rows grouped by cluster (:func:`~decluster.report.index_clusters`).
    confidence : ndarray of shape (n_samples,)
    profiles : ClusterProfiles, optional
        For a table: each row then lists the cluster's ``top`` most distinctive features.
    true_labels : array-like of shape (n_samples,), optional
        Reference labels: each row then names its most common one.
    top : int, default=3

    Returns
    -------
    list of ClusterRow
    """
    truth = None if true_labels is None else np.asarray(true_labels)
    if truth is not None and truth.shape != confidence.shape:
        raise ValueError(f"true_labels must have one entry per row ({len(confidence)}), got shape {truth.shape}")
    n_rows, table = len(confidence), []
    for cluster in range(index.n_clusters):
        members = index.members(cluster)
        contrasts = () if profiles is None else tuple(
            FeatureContrast(*item) for item in distinctive_features(profiles, cluster, top))
        table.append(ClusterRow(cluster, len(members), len(members) / n_rows,
                                float(confidence[members].mean()) if len(members) else math.nan,
                                contrasts, *_top_label(truth, members)))
    return table


def _number(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6g}"


def _header(rows: Sequence[ClusterRow], top: int) -> list[str]:
    header = ["cluster", "size", "share", "mean_confidence"]
    if any(row.top_label is not None for row in rows):
        header += ["top_label", "top_label_share"]
    for rank in range(1, top + 1):
        header += [f"feature_{rank}", f"cluster_mean_{rank}", f"overall_mean_{rank}", f"difference_sd_{rank}"]
    return header


def clusters_csv(rows: Sequence[ClusterRow]) -> bytes:
    """``clusters.csv``: one line per cluster (UTF-8, a header line first).

    Columns: ``cluster, size, share, mean_confidence``; with true labels ``top_label,
    top_label_share``; then for each of the most distinctive features (tables only)
    ``feature_i, cluster_mean_i, overall_mean_i, difference_sd_i``, most distinctive first
    (the difference in standard deviations of the whole data).

    Parameters
    ----------
    rows : sequence of ClusterRow

    Returns
    -------
    bytes
    """
    top = max((len(row.features) for row in rows), default=0)
    header = _header(rows, top)
    lines = [header]
    for row in rows:
        line = [row.cluster, row.size, _number(row.share), _number(row.mean_confidence)]
        if "top_label" in header:
            line += ["" if row.top_label is None else row.top_label, _number(row.top_label_share)]
        for feature in row.features:
            line += [feature.name, _number(feature.cluster_mean), _number(feature.overall_mean),
                     _number(feature.difference)]
        lines.append(line + [""] * (len(header) - len(line)))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    return buffer.getvalue().encode("utf-8")
