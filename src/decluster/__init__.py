"""decluster: Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016) on PyTorch."""

from decluster.estimators.auto import AutoCluster, Recipe, RefinementCheck
from decluster.estimators.dec import DEC
from decluster.estimators.idec import IDEC
from decluster.estimators.merge_idec import MergeIDEC
from decluster.estimators.n2d import N2D
from decluster.exceptions import (
    CheckpointError,
    ClusterSizeWarning,
    DivergenceError,
    FitInterrupted,
    RefinementWarning,
)
from decluster.k_selection import KSelection
from decluster.metrics import ClusteringScores, cluster_accuracy, evaluate
from decluster.nn.autoencoder import StackedAutoencoder
from decluster.training.clustering import ClusteringHistory

__version__ = "0.1.0"

__all__ = [
    "AutoCluster",
    "DEC",
    "IDEC",
    "MergeIDEC",
    "N2D",
    "StackedAutoencoder",
    "ClusteringHistory",
    "Recipe",
    "RefinementCheck",
    "ClusteringScores",
    "KSelection",
    "CheckpointError",
    "ClusterSizeWarning",
    "DivergenceError",
    "FitInterrupted",
    "RefinementWarning",
    "cluster_accuracy",
    "evaluate",
    "__version__",
]
