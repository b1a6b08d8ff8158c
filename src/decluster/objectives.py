"""Losses of the clustering phase, as pure functions of tensors.

DEC (Xie et al., 2016) minimises KL(P || Q) alone (:func:`decluster.clustering.kl_divergence`).
IDEC (Guo et al., IJCAI 2017) keeps the decoder and adds its reconstruction error, so that the
embedding keeps the local structure of the data (IDEC eq. 1): L = L_r + gamma L_c.
"""

from __future__ import annotations

import torch


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
