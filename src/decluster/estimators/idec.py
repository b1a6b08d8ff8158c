"""The IDEC estimator: DEC that keeps the decoder's reconstruction loss while clustering."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

import torch

from decluster.estimators.base import FitStart
from decluster.estimators.dec import DEC
from decluster.estimators.validation import Choice, Real
from decluster.nn.autoencoder import StackedAutoencoder
from decluster.training.checkpoint import FitSession
from decluster.training.settings import OPTIMIZERS, ClusteringSettings


class IDEC(DEC):
    """Improved Deep Embedded Clustering (Guo, Gao, Liu & Yin, IJCAI 2017).

    DEC with the decoder kept: the clustering phase minimises ``L_r + gamma KL(P || Q)``, the
    mean squared reconstruction error plus gamma times DEC's clustering loss, and trains the
    encoder, the decoder and the centroids together, so that the embedding keeps the local
    structure of the data. Pretraining, the k-means initialisation, the target distribution P
    and the stop rule are DEC's. The defaults of the clustering phase are the authors' for MNIST:
    gamma 0.1, Adam with learning rate 0.001.

    Parameters
    ----------
    n_clusters : int or "auto", default=10
        Number of clusters k, or ``"auto"`` to choose it in ``n_clusters_range`` as DEC does.
    gamma : float, default=0.1
        Weight of the clustering loss KL(P || Q) against the reconstruction loss.
    clustering_optimizer : {"adam", "sgd"}, default="adam"
        Optimizer of the clustering phase, "adam" or "sgd" (with ``momentum``).
    lr : float, default=0.001
        Learning rate of the clustering phase.
    **dec_parameters
        Every other parameter is DEC's, with DEC's default; see :class:`~decluster.DEC`.

    Attributes
    ----------
    decoder_ : torch.nn.Module
        The decoder refined with the encoder in the clustering phase.
    **others
        As :class:`~decluster.DEC`.
    """

    _refined_networks = ("encoder", "decoder")

    _parameter_checks: ClassVar[dict[str, Any]] = {
        **DEC._parameter_checks, "gamma": Real(0), "clustering_optimizer": Choice(OPTIMIZERS)}

    def __init__(self, n_clusters: int | str = 10, *, gamma: float = 0.1, clustering_optimizer: str = "adam",
                 lr: float = 1e-3, **dec_parameters):
        super().__init__(n_clusters, lr=lr, **dec_parameters)
        self.gamma = gamma
        self.clustering_optimizer = clustering_optimizer

    @staticmethod
    def _clustering_settings(params: dict[str, Any], start: FitStart) -> ClusteringSettings:
        """DEC's settings with IDEC's optimizer and gamma."""
        return dataclasses.replace(DEC._clustering_settings(params, start),
                                   optimizer=params["clustering_optimizer"], gamma=params["gamma"])

    def _networks_to_refine(self, autoencoder: StackedAutoencoder,
                            session: FitSession) -> tuple[torch.nn.Module, torch.nn.Module]:
        """Copies of the encoder and the decoder, both trained by the clustering phase."""
        encoder, _ = super()._networks_to_refine(autoencoder, session)
        decoder = copy.deepcopy(autoencoder.decoder)
        session.track("decoder", decoder)
        return encoder, decoder
