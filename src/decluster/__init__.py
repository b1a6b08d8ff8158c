"""decluster: Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016) on PyTorch."""

from .autoencoder import StackedAutoencoder
from .clustering import ClusteringHistory
from .estimator import DEC
from .idec import IDEC
from .exceptions import CheckpointError, DivergenceError, FitInterrupted
from .metrics import ClusteringScores, cluster_accuracy, evaluate

__version__ = "0.1.0"

__all__ = [
    "DEC",
    "IDEC",
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
