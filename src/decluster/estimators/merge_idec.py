"""MergeIDEC: IDEC that finds k while it trains, by starting with too many clusters and merging
the ones its embedding connects."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from decluster.estimators.base import FitStart
from decluster.estimators.idec import IDEC
from decluster.estimators.validation import Integer, Real
from decluster.k_selection import KSelection
from decluster.training.checkpoint import FitSession
from decluster.training.merging import MergeSettings
from decluster.training.settings import ClusteringSettings

ROWS_PER_STARTING_CLUSTER = 10
"""The clustering phase starts with at most one cluster per this many rows (17 for 178 rows)."""


class MergeIDEC(IDEC):
    """IDEC that finds the number of clusters while it trains.

    Over-clustering then merging, as DipDECK (Leiber et al., KDD 2021) does, with the merge test
    of ``decluster.training.merging`` in place of its dip test: the clustering phase starts
    from k-means with the high end of ``n_clusters_range`` clusters (at most one per
    ten rows) and, at every update of the target P, merges the clusters whose points are
    neighbours of each other in the current embedding (the share of the K-nearest-neighbour
    edges of the smaller cluster that reach the other is at least ``merge_threshold``), then goes
    on training with the new k. The run ends at an update that merged nothing and changed fewer
    than ``tol`` of the labels. Two parts of one group lie side by side in the embedding; the
    connectivity of two groups that it keeps apart is small whatever their sizes, so small
    clusters next to large ones are kept (imbalanced data).

    Parameters
    ----------
    n_clusters : int or "auto", default="auto"
        ``"auto"``: merge while some pair of clusters is connected, never below the low end of
        ``n_clusters_range``. An integer k: merge the most connected pairs until k remain.
    merge_threshold : float, default=0.05
        Merge two clusters whose connectivity reaches this value, in (0, 1].
    merge_neighbors : int, default=15
        Neighbours of each point in the graph the connectivity counts (on small data at most half
        the mean size of the starting clusters).
    **idec_parameters
        Every other parameter is IDEC's (and so DEC's), with its default; see
        :class:`~decluster.IDEC` and :class:`~decluster.DEC`.

    Attributes
    ----------
    n_clusters_ : int
        The number of clusters found.
    history_ : ClusteringHistory
        As DEC's, with ``n_clusters``, the clusters after each update of P.
    **others
        As :class:`~decluster.IDEC` (``k_selection_`` is None).
    """

    _auto_k_by_silhouette = False

    _parameter_checks: ClassVar[dict[str, Any]] = {
        **IDEC._parameter_checks, "merge_threshold": Real(0, 1, "right"), "merge_neighbors": Integer(1)}

    def __init__(self, n_clusters: int | str = "auto", *, merge_threshold: float = 0.05, merge_neighbors: int = 15,
                 **idec_parameters):
        super().__init__(n_clusters, **idec_parameters)
        self.merge_threshold = merge_threshold
        self.merge_neighbors = merge_neighbors

    @staticmethod
    def _clustering_settings(params: dict[str, Any], start: FitStart) -> ClusteringSettings:
        """IDEC's settings with merging at every update of P."""
        if start.world.size > 1:
            raise ValueError("MergeIDEC does not train on several ranks yet; run it in one process")
        known = params["n_clusters"] if params["n_clusters"] != "auto" else None
        merging = MergeSettings(threshold=params["merge_threshold"], n_neighbors=params["merge_neighbors"],
                                min_clusters=params["n_clusters_range"][0], target_clusters=known)
        return dataclasses.replace(IDEC._clustering_settings(params, start), merging=merging)

    @staticmethod
    def _select_n_clusters(embedding: np.ndarray | None, start: FitStart) -> KSelection | None:
        """No choice before training: merging finds k."""
        return None

    @staticmethod
    def _kept_selection(params: dict[str, Any], session: FitSession, n_rows: int) -> KSelection | None:
        return None

    @staticmethod
    def _starting_n_clusters(params: dict[str, Any], selection: KSelection | None, n_rows: int) -> int:
        """The high end of ``n_clusters_range``, at most one cluster per
        :data:`ROWS_PER_STARTING_CLUSTER` rows, at least the low end (and a given k)."""
        low, high = params["n_clusters_range"]
        start = max(low, min(high, n_rows // ROWS_PER_STARTING_CLUSTER))
        return start if params["n_clusters"] == "auto" else max(start, params["n_clusters"])
