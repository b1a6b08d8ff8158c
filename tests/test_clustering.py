import math

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from decluster.nn.student_t import (
    cluster_frequencies,
    label_change_fraction,
    log_soft_assignment,
    soft_assignment,
    squared_distances,
    target_distribution,
)
from decluster.objectives import kl_divergence
from decluster.training.clustering import refine_clusters
from decluster.training.settings import ClusteringSettings

# Two points and two centroids on a line: squared distances [[0, 4], [1, 1]].
Z = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
U = torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
# alpha = 1: kernels 1/(1 + d^2) = [[1, 1/5], [1/2, 1/2]], normalised per row.
Q_HAND = torch.tensor([[5 / 6, 1 / 6], [1 / 2, 1 / 2]], dtype=torch.float64)
# f = [4/3, 2/3]; q^2/f = [[25/48, 2/48], [3/16, 6/16]], normalised per row.
P_HAND = torch.tensor([[25 / 27, 2 / 27], [1 / 3, 2 / 3]], dtype=torch.float64)


def test_squared_distances_match_brute_force():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(7, 3, generator=generator, dtype=torch.float64)
    u = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    brute = ((z[:, None, :] - u[None, :, :]) ** 2).sum(-1)
    torch.testing.assert_close(squared_distances(z, u), brute)


def test_soft_assignment_hand_computed():
    torch.testing.assert_close(soft_assignment(Z, U, alpha=1.0), Q_HAND)


def test_soft_assignment_with_other_degrees_of_freedom():
    # alpha = 2: kernels (1 + d^2/2)^(-3/2): row 0 -> [1, 3^-1.5], row 1 -> [1.5^-1.5, 1.5^-1.5]
    row0 = np.array([1.0, 3.0**-1.5])
    expected = torch.tensor(np.array([row0 / row0.sum(), [0.5, 0.5]]), dtype=torch.float64)
    torch.testing.assert_close(soft_assignment(Z, U, alpha=2.0), expected)


def test_log_soft_assignment_is_stable_far_from_centroids():
    far = torch.tensor([[1e15, 0.0]], dtype=torch.float32)
    log_q = log_soft_assignment(far, U.float())
    assert torch.isfinite(log_q).all()
    assert float(log_q.exp().sum()) == pytest.approx(1.0, rel=1e-5)


def test_cluster_frequencies_hand_computed():
    torch.testing.assert_close(cluster_frequencies(Q_HAND), torch.tensor([4 / 3, 2 / 3], dtype=torch.float64))


def test_target_distribution_hand_computed():
    torch.testing.assert_close(target_distribution(Q_HAND), P_HAND)


def test_target_distribution_uses_given_whole_data_frequencies():
    # P of a shard, computed with the frequencies of the whole data, equals that shard of P.
    shard = target_distribution(Q_HAND[:1], cluster_frequencies(Q_HAND))
    torch.testing.assert_close(shard, P_HAND[:1])


def test_target_is_sharper_than_soft_assignment():
    generator = torch.Generator().manual_seed(1)
    q = torch.softmax(torch.randn(200, 5, generator=generator, dtype=torch.float64), dim=1)
    p = target_distribution(q)

    def mean_entropy(distribution):
        return float(-(distribution * distribution.log()).sum(1).mean())

    assert mean_entropy(p) < mean_entropy(q)
    torch.testing.assert_close(p.sum(1), torch.ones(200, dtype=torch.float64))


def test_kl_divergence_hand_computed():
    row0 = 25 / 27 * math.log((25 / 27) / (5 / 6)) + 2 / 27 * math.log((2 / 27) / (1 / 6))
    row1 = 1 / 3 * math.log((1 / 3) / (1 / 2)) + 2 / 3 * math.log((2 / 3) / (1 / 2))
    loss = kl_divergence(P_HAND, Q_HAND.log())
    assert float(loss) == pytest.approx((row0 + row1) / 2, rel=1e-12)


def test_kl_divergence_is_zero_for_equal_distributions():
    assert float(kl_divergence(Q_HAND, Q_HAND.log())) == pytest.approx(0.0, abs=1e-15)


def _random_problem(alpha):
    generator = torch.Generator().manual_seed(2)
    z = torch.randn(6, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    u = torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        p = target_distribution(soft_assignment(z, u, alpha))
    return z, u, p


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_loss_gradient_matches_finite_differences(alpha):
    z, u, p = _random_problem(alpha)
    assert torch.autograd.gradcheck(lambda z_, u_: kl_divergence(p, log_soft_assignment(z_, u_, alpha)), (z, u))


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_loss_gradient_matches_the_papers_equations(alpha):
    # Eq. 4 and 5 of the paper, for the summed loss (ours is averaged over the n rows).
    z, u, p = _random_problem(alpha)
    kl_divergence(p, log_soft_assignment(z, u, alpha)).backward()
    with torch.no_grad():
        q = soft_assignment(z, u, alpha)
        kernel = 1.0 / (1.0 + squared_distances(z, u) / alpha)
        weight = (alpha + 1.0) / alpha * kernel * (p - q)  # (n, k)
        difference = z[:, None, :] - u[None, :, :]  # (n, k, d)
        grad_z = (weight[:, :, None] * difference).sum(1)
        grad_u = -(weight[:, :, None] * difference).sum(0)
    n = z.shape[0]
    torch.testing.assert_close(z.grad * n, grad_z)
    torch.testing.assert_close(u.grad * n, grad_u)


def test_label_change_fraction():
    assert label_change_fraction(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 0, 0])) == 0.5


def _blobs(n=300, seed=0):
    generator = torch.Generator().manual_seed(seed)
    centers = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    labels = torch.arange(n) % 3
    return centers[labels] + torch.randn(n, 2, generator=generator), labels


def _encoder(seed=0):
    torch.manual_seed(seed)  # test-local weights; the library itself never seeds globally
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)).double()


def test_refinement_lowers_the_kl_loss_against_its_target():
    # One update interval: every step descends KL(P0 || Q) for the initial target P0.
    data, _ = _blobs()
    data = data.double()
    encoder = _encoder()
    initial = data[:3].clone()
    with torch.no_grad():
        target = target_distribution(soft_assignment(encoder(data), initial))
        before = float(kl_divergence(target, log_soft_assignment(encoder(data), initial)))
    settings = ClusteringSettings(update_interval=100, tol=0.0, max_iter=100, batch_size=32)
    with pytest.warns(ConvergenceWarning):
        result = refine_clusters(encoder, initial, data, settings, torch.Generator().manual_seed(0))
    with torch.no_grad():
        after = float(kl_divergence(target, log_soft_assignment(encoder(data), result.centers)))
    assert after < 0.5 * before


def test_tol_stops_at_first_update():
    data, _ = _blobs()
    encoder = _encoder().float()
    settings = ClusteringSettings(update_interval=5, tol=1.0, max_iter=1000, batch_size=32)
    result = refine_clusters(encoder, data[:3].clone(), data, settings, torch.Generator().manual_seed(0))
    assert result.converged
    assert result.n_iter == 5
    assert result.history.iterations == [5]


def test_max_iter_warns_and_stops():
    data, _ = _blobs()
    encoder = _encoder().float()
    settings = ClusteringSettings(update_interval=7, tol=0.0, max_iter=20, batch_size=32)
    with pytest.warns(ConvergenceWarning, match="^DEC clustering stopped at max_iter=20"):
        result = refine_clusters(encoder, data[:3].clone(), data, settings, torch.Generator().manual_seed(0))
    assert not result.converged
    assert result.n_iter == 20
    assert result.history.iterations == [7, 14, 20]


def test_the_max_iter_warning_names_idec_when_a_decoder_is_trained():
    data, _ = _blobs()
    encoder, decoder = _encoder().float(), nn.Linear(2, 2)
    settings = ClusteringSettings(update_interval=7, tol=0.0, max_iter=20, batch_size=32, gamma=0.1)
    with pytest.warns(ConvergenceWarning, match="^IDEC clustering stopped at max_iter=20"):
        refine_clusters(encoder, data[:3].clone(), data, settings, torch.Generator().manual_seed(0), decoder=decoder)


def test_final_labels_are_argmax_of_final_q():
    data, _ = _blobs()
    encoder = _encoder().float()
    settings = ClusteringSettings(update_interval=10, tol=0.01, max_iter=500, batch_size=32)
    result = refine_clusters(encoder, data[:3].clone(), data, settings, torch.Generator().manual_seed(0))
    with torch.no_grad():
        q = soft_assignment(encoder(data), result.centers)
    assert torch.equal(q.argmax(1), result.labels)
