"""Frozen groups of settings passed between the estimator and the training functions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from decluster.data.augmentation import ImageAugmentation
from decluster.distributed import World
from decluster.training.merging import MergeSettings

PRETRAIN_MODES = ("layerwise", "end-to-end")
OPTIMIZERS = ("adam", "sgd")
LR_SCHEDULES = ("constant", "step", "cosine")

@dataclass(frozen=True)
class StepBudget:
    """How many epochs ``"auto"`` gives a pretraining stage on a data set of a given size.

    Enough epochs for ``steps`` optimizer steps, since the autoencoder needs steps more than
    passes (the DEC paper also counts iterations: 50,000 per layer pair and 100,000 of
    fine-tuning, whatever the data); but a network this size memorises a small data set, so the
    passes are limited to ``epochs_per_batch`` times the number of batches in an epoch (or to
    ``small_data_epochs``, if that is more).

    Attributes
    ----------
    steps : int
    small_data_epochs : int
    epochs_per_batch : float
    """

    steps: int
    small_data_epochs: int
    epochs_per_batch: float

    def epochs(self, n_samples: int, batch_size: int) -> int:
        """``min(ceil(steps / b), max(small_data_epochs, floor(epochs_per_batch b)))``, b = ceil(n / batch_size).

        Parameters
        ----------
        n_samples : int
            Rows in the data.
        batch_size : int

        Returns
        -------
        int
        """
        batches = math.ceil(n_samples / batch_size)
        most = max(self.small_data_epochs, math.floor(self.epochs_per_batch * batches))
        return min(math.ceil(self.steps / batches), most)


AUTO_LAYER_EPOCHS = StepBudget(steps=2_500, small_data_epochs=10, epochs_per_batch=1.5)
"""``layer_epochs="auto"``: 10 epochs on MNIST (274 batches), 60 on 10,000 rows (40 batches),
12 on the 1,797 digits, 10 on the 178 wines."""
AUTO_FINETUNE_EPOCHS = StepBudget(steps=8_000, small_data_epochs=30, epochs_per_batch=5)
"""``finetune_epochs="auto"``: 30 epochs on MNIST, 200 on 10,000 rows, 40 on the digits, 30 on the
wines, 3 on a million rows.

Measured: on a random 10,000 MNIST images, 10 and 30 epochs gave N2D 0.77 ACC, 63 and 200 gave
0.94 to 0.95. Steps alone (no cap) gave the digits 313 and 1,000 epochs and, on two seeds of five,
a collapsed embedding (N2D ACC 0.16); the wine table lost 0.07 ACC with 60 and 200.
"""


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
    augmentation : ImageAugmentation or None
        Random shifts and rotations of the input images, reconstructed as augmented (the first
        layer pair and fine-tuning, whose inputs are the images).
    world : World
        The ranks training together: each walks its shard, ``batch_size`` is the batch of all
        ranks together, and the gradients are averaged over them.
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
    augmentation: ImageAugmentation | None = None
    world: World = field(default_factory=World)


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
    augmentation : ImageAugmentation or None
        Random shifts and rotations of each batch: Q (and IDEC's reconstruction) of the augmented
        images against the target P of the clean ones (DEC-DA).
    world : World
        The ranks training together: each holds a shard of the rows; P's frequencies, the
        label-change count and the gradients are summed over them.
    merging : MergeSettings or None
        None: k stays fixed. Else clusters the embedding connects are merged at each target
        update (:mod:`decluster.training.merging`), and the run stops only at an update that
        merged nothing.
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
    augmentation: ImageAugmentation | None = None
    world: World = field(default_factory=World)
    merging: MergeSettings | None = None
