"""decluster: Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016) on PyTorch."""

from .autoencoder import StackedAutoencoder
from .clustering import ClusteringHistory
from .estimator import DEC
from .idec import IDEC
from .n2d import N2D
from .exceptions import CheckpointError, DivergenceError, FitInterrupted
from .metrics import ClusteringScores, cluster_accuracy, evaluate

__version__ = "0.1.0"

__all__ = [
    "DEC",
    "IDEC",
    "N2D",
    "StackedAutoencoder",
    "ClusteringHistory",
    "ClusteringScores",
    "CheckpointError",
    "DivergenceError",
    "FitInterrupted",
    "cluster_accuracy",
    "evaluate",
    "__version__",
]
