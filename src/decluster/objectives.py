"""The losses of every method, as pure functions of tensors.

Pretraining minimises a reconstruction error (:func:`reconstruction_error`, the DEC authors'
scale). DEC (Xie et al., 2016) then minimises KL(P || Q) alone (:func:`kl_divergence`, eq. 2).
IDEC (Guo et al., IJCAI 2017) keeps the decoder and adds its reconstruction error, so that the
embedding keeps the local structure of the data (IDEC eq. 1): L = L_r + gamma L_c.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def reconstruction_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The DEC authors' least-squares loss: ``(1 / (2 b m)) sum_i |x_i - y_i|^2``.

    Parameters
    ----------
    output, target : torch.Tensor of shape (b, m)

    Returns
    -------
    torch.Tensor of shape ()
        Half the mean squared error over all b m entries. This is the scale of the Euclidean
        loss in the authors' Caffe code, which divides by the number of entries, so that
        their SGD learning rate of 0.1 carries over.
    """
    return 0.5 * (output - target).pow(2).mean()


def kl_divergence(p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """DEC's objective KL(P || Q) (eq. 2), averaged over the rows.

    Parameters
    ----------
    p : torch.Tensor of shape (n, k)
        Target distribution (treated as a constant).
    log_q : torch.Tensor of shape (n, k)
        Logarithm of the soft assignment.

    Returns
    -------
    torch.Tensor of shape ()
        ``(1/n) sum_i sum_j p_ij log(p_ij / q_ij)``; zero entries of P contribute zero.
    """
    return F.kl_div(log_q, p, reduction="batchmean")


def mean_squared_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IDEC's reconstruction loss L_r: the mean of the squared errors over all b m entries.

    Parameters
    ----------
    output, target : torch.Tensor of shape (b, m)

    Returns
    -------
    torch.Tensor of shape ()
        ``(1 / (b m)) sum_i |x_i - g(z_i)|^2``, the scale of the ``"mse"`` loss in the IDEC
        authors' code.
    """
    return (output - target).pow(2).mean()


def idec_loss(kl: torch.Tensor, reconstruction: torch.Tensor, gamma: float) -> torch.Tensor:
    """IDEC's objective (eq. 1): ``L = L_r + gamma L_c``, with L_c = KL(P || Q).

    Parameters
    ----------
    kl : torch.Tensor of shape ()
        The clustering loss L_c of the batch.
    reconstruction : torch.Tensor of shape ()
        The reconstruction loss L_r of the batch.
    gamma : float
        Weight of the clustering loss (0.1 in the paper).

    Returns
    -------
    torch.Tensor of shape ()
    """
    return reconstruction + gamma * kl
