"""Frozen groups of settings passed between the estimator and the training functions."""

from __future__ import annotations

import math
from dataclasses import dataclass

PRETRAIN_MODES = ("layerwise", "end-to-end")
OPTIMIZERS = ("adam", "sgd")
LR_SCHEDULES = ("constant", "step", "cosine")

AUTO_LAYER_STEPS = 2_500
"""Optimizer steps of each greedy layer pair with ``layer_epochs="auto"``."""
AUTO_FINETUNE_STEPS = 8_000
"""Optimizer steps of end-to-end fine-tuning with ``finetune_epochs="auto"``.

The DEC paper schedules pretraining in iterations (50,000 per layer pair, 100,000 of fine-tuning,
batch 256), whatever the data set's size; these are the same idea at a budget that runs in
minutes. On MNIST (274 batches per epoch) they give 10 and 30 epochs; a data set of 10,000 rows
gets 63 and 200 epochs, instead of the 7 times fewer steps a fixed number of epochs would give.
"""


def epochs_for_steps(steps: int, n_samples: int, batch_size: int) -> int:
    """The fewest epochs (at least one) that make at least ``steps`` optimizer steps.

    Parameters
    ----------
    steps : int
    n_samples : int
        Rows in the data.
    batch_size : int

    Returns
    -------
    int
        ``max(1, ceil(steps / ceil(n_samples / batch_size)))``.
    """
    batches_per_epoch = math.ceil(n_samples / batch_size)
    return max(1, math.ceil(steps / batches_per_epoch))


@dataclass(frozen=True)
class PretrainSettings:
    """How the stacked autoencoder is pretrained.

    Attributes
    ----------
    mode : {"layerwise", "end-to-end"}
        ``"layerwise"`` trains each encoder/decoder layer pair greedily as a denoising
        autoencoder, then fine-tunes the whole stack; ``"end-to-end"`` trains the whole
        stack at once.
    layer_epochs : int
        Epochs for each greedy layer pair (``"layerwise"`` only).
    finetune_epochs : int
        Epochs of end-to-end training of the whole stack, without dropout.
    optimizer : {"adam", "sgd"}
        ``"sgd"`` uses momentum 0.9.
    lr : float
        Initial learning rate.
    lr_schedule : {"constant", "step", "cosine"}
        ``"step"`` divides the rate by 10 after 40% and again after 80% of the steps (the
        paper's schedule, scaled to the run's length); ``"cosine"`` anneals it to zero.
    batch_size : int
        Mini-batch size.
    dropout : float
        Dropout rate used as corruption in the greedy layer-wise phase.
    precision : {"float32", "bfloat16"}
        Arithmetic of the forward and backward passes (weights always stay float32).
    """

    mode: str = "layerwise"
    layer_epochs: int = 10
    finetune_epochs: int = 30
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    batch_size: int = 256
    dropout: float = 0.2
    precision: str = "float32"


@dataclass(frozen=True)
class ClusteringSettings:
    """How the KL(P || Q) clustering phase runs (DEC paper, section 3.1).

    Attributes
    ----------
    alpha : float
        Degrees of freedom of the Student's t kernel.
    update_interval : int
        Iterations (mini-batches) between recomputations of the target distribution P
        over the whole data set.
    tol : float
        Stop when fewer than this fraction of points change cluster between two updates.
    max_iter : int
        Maximum number of mini-batch iterations.
    batch_size : int
        Mini-batch size.
    lr : float
        Learning rate.
    momentum : float
        Momentum of SGD.
    precision : {"float32", "bfloat16"}
        Arithmetic of the encoder's passes (weights, centroids, Q and P stay float32).
    optimizer : {"sgd", "adam"}
        ``"sgd"`` (with ``momentum``) as DEC, or ``"adam"`` as IDEC on MNIST.
    gamma : float or None
        None: DEC's loss KL(P || Q). A number: IDEC's loss, reconstruction + gamma KL(P || Q),
        with the decoder trained too.
    """

    alpha: float = 1.0
    update_interval: int = 140
    tol: float = 1e-3
    max_iter: int = 20_000
    batch_size: int = 256
    lr: float = 0.01
    momentum: float = 0.9
    precision: str = "float32"
    optimizer: str = "sgd"
    gamma: float | None = None
