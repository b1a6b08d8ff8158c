"""The merge test of the clustering phase (decluster.training.merging), on hand-computed numbers."""

import numpy as np
import pytest

from decluster.training.merging import (
    MergeSettings,
    connectivity,
    edge_counts,
    graph_neighbors,
    merge_plan,
    merged_centers,
)


def test_edge_counts_and_connectivity_by_hand():
    # Points 0, 1 | 2.6, 4 on a line. With K = 2: 0 -> {1, 2.6}, 1 -> {0, 2.6}, 2.6 -> {4, 1}, 4 -> {2.6, 1}:
    # each point has one neighbour in the other cluster, so e_01 = e_10 = 2.
    points = np.array([[0.0], [1.0], [2.6], [4.0]])
    labels = np.array([0, 0, 1, 1])
    counts = edge_counts(points, labels, 2, 2)
    np.testing.assert_array_equal(counts, [[0, 4], [4, 0]])
    # c_01 = (e_01 + e_10) / (2 K min(n_0, n_1)) = 4 / (2 * 2 * 2)
    np.testing.assert_allclose(connectivity(counts, np.array([2, 2]), 2), [[0, 0.5], [0.5, 0]])
    # With K = 1 no edge crosses: 0 <-> 1 and 2.6 <-> 4 (2.6 is 1.4 from 4 and 1.6 from 1).
    np.testing.assert_array_equal(edge_counts(points, labels, 2, 1), [[0, 0], [0, 0]])


def test_connectivity_is_judged_by_the_smaller_cluster():
    counts = np.array([[0, 30, 2], [30, 0, 1], [2, 1, 0]], dtype=float)
    values = connectivity(counts, np.array([100, 50, 40]), 5)
    # 30 / (2 * 5 * 50), 2 / (2 * 5 * 40), 1 / (2 * 5 * 40)
    np.testing.assert_allclose(values, [[0, 0.06, 0.005], [0.06, 0, 0.0025], [0.005, 0.0025, 0]])
    assert connectivity(counts, np.array([100, 0, 40]), 5)[0, 1] == 0  # an empty cluster connects to nothing


@pytest.mark.parametrize("settings, plan", [
    # 0 and 1 connect (0.06); then c(01, 2) = (2 + 1) / (2 * 5 * 40) = 0.0075 < 0.05: stop.
    (MergeSettings(threshold=0.05, n_neighbors=5), [0, 0, 1]),
    (MergeSettings(threshold=0.07, n_neighbors=5), [0, 1, 2]),               # nothing reaches 0.07
    (MergeSettings(threshold=0.05, n_neighbors=5, min_clusters=3), [0, 1, 2]),
    (MergeSettings(threshold=0.05, n_neighbors=5, target_clusters=1, min_clusters=1), [0, 0, 0]),
    (MergeSettings(threshold=0.9, n_neighbors=5, target_clusters=2), [0, 0, 1]),  # a known k ignores the threshold
])
def test_merge_plan_by_hand(settings, plan):
    counts = np.array([[0, 30, 2], [30, 0, 1], [2, 1, 0]], dtype=float)
    np.testing.assert_array_equal(merge_plan(counts, np.array([100, 50, 40]), settings), plan)


def test_merge_plan_drops_clusters_without_points_and_keeps_the_others_order():
    counts = np.zeros((4, 4))
    plan = merge_plan(counts, np.array([5, 0, 7, 3]), MergeSettings(min_clusters=1))
    np.testing.assert_array_equal(plan, [0, -1, 1, 2])


def test_merge_plan_does_not_change_its_inputs():
    counts, sizes = np.array([[0, 30.0], [30, 0]]), np.array([10, 10])
    merge_plan(counts, sizes, MergeSettings(threshold=0.01, min_clusters=1))
    np.testing.assert_array_equal(counts, [[0, 30], [30, 0]])
    np.testing.assert_array_equal(sizes, [10, 10])


def test_graph_neighbors():
    assert graph_neighbors(20_000, 30, 15) == 15
    assert graph_neighbors(178, 17, 15) == 5   # 178 // 34
    assert graph_neighbors(10, 5, 15) == 2     # never below 2


def test_merged_centers_by_hand():
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]], dtype=np.float32)
    embedding = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]], dtype=np.float32)
    labels = np.array([0, 1, 2])
    merged = merged_centers(centers, embedding, labels, np.array([0, 0, 1]))
    # the merged cluster starts at the mean of its points (1, 1); the other keeps its centroid
    np.testing.assert_allclose(merged, [[1.0, 1.0], [5.0, 5.0]])
