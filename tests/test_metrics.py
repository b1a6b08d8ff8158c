import numpy as np
import pytest

from decluster import ClusteringScores, cluster_accuracy, evaluate


def test_accuracy_is_invariant_to_relabelling():
    assert cluster_accuracy([0, 0, 1, 1, 2], [2, 2, 0, 0, 1]) == 1.0


def test_accuracy_hand_computed():
    # best map 0->0, 1->1 gets 3 of 4 right
    assert cluster_accuracy([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(0.75)


def test_accuracy_with_more_clusters_than_classes():
    # only two clusters can be matched to the two classes
    assert cluster_accuracy([0, 0, 1, 1], [0, 1, 2, 3]) == pytest.approx(0.5)


def test_accuracy_with_fewer_clusters_than_classes():
    assert cluster_accuracy([0, 1, 2, 2], [5, 5, 5, 5]) == pytest.approx(0.5)


def test_accuracy_accepts_string_labels():
    assert cluster_accuracy(["a", "a", "b"], [7, 7, 3]) == 1.0


def test_evaluate_returns_all_three_scores():
    scores = evaluate(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))
    assert scores == ClusteringScores(accuracy=1.0, nmi=pytest.approx(1.0), ari=pytest.approx(1.0))


def test_evaluate_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        evaluate([0, 1, 1], [0, 1])


def test_evaluate_rejects_empty_labels():
    with pytest.raises(ValueError, match="empty"):
        evaluate([], [])
