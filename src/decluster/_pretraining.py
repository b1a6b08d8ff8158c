"""What every estimator that pretrains a stacked autoencoder shares: checking its pretraining
parameters, building (or copying) the autoencoder, checking data, and its fitted state."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from . import _validation as check
from .autoencoder import StackedAutoencoder
from .config import LR_SCHEDULES, OPTIMIZERS, PRETRAIN_MODES, PretrainSettings


class PretrainingMixin:
    """Methods over the pretraining parameters (``hidden_dims``, ``embedding_dim``, ``pretrain``,
    ``layer_epochs``, ``finetune_epochs``, ``pretrain_optimizer``, ``pretrain_lr``,
    ``pretrain_lr_schedule``, ``pretrain_batch_size``, ``dropout``, ``autoencoder``) that an
    estimator stores in its constructor, as :class:`~decluster.DEC` documents them."""

    def _pretrain_settings(self, precision: str) -> PretrainSettings:
        return PretrainSettings(
            mode=check.check_choice(self.pretrain, "pretrain", PRETRAIN_MODES),
            layer_epochs=check.check_positive_int(self.layer_epochs, "layer_epochs", min_val=0),
            finetune_epochs=check.check_positive_int(self.finetune_epochs, "finetune_epochs", min_val=0),
            optimizer=check.check_choice(self.pretrain_optimizer, "pretrain_optimizer", OPTIMIZERS),
            lr=check.check_real(self.pretrain_lr, "pretrain_lr", min_val=0, include_boundaries="neither"),
            lr_schedule=check.check_choice(self.pretrain_lr_schedule, "pretrain_lr_schedule", LR_SCHEDULES),
            batch_size=check.check_positive_int(self.pretrain_batch_size, "pretrain_batch_size"),
            dropout=check.check_real(self.dropout, "dropout", min_val=0, max_val=1, include_boundaries="left"),
            precision=precision,
        )

    def _check_data(self, X, *, reset: bool) -> np.ndarray:
        """Validate features as a finite 2-D float32 array (and their count, unless ``reset``)."""
        X = validate_data(self, X, reset=reset, dtype=np.float32, ensure_min_samples=1)
        return X if X.flags.writeable else np.array(X)  # torch shares memory only with writable arrays

    def _initial_autoencoder(self, n_features: int, init_generator: torch.Generator) -> StackedAutoencoder:
        """A copy of the given autoencoder, or a new one initialised from ``init_generator``."""
        if self.autoencoder is None:
            dims = (n_features, *check.check_widths(self.hidden_dims, "hidden_dims"),
                    check.check_positive_int(self.embedding_dim, "embedding_dim"))
            return StackedAutoencoder(dims, generator=init_generator)
        if not isinstance(self.autoencoder, StackedAutoencoder):
            raise TypeError(
                f"autoencoder must be a decluster StackedAutoencoder, got {type(self.autoencoder).__name__}"
            )
        if self.autoencoder.dims[0] != n_features:
            raise ValueError(f"autoencoder expects {self.autoencoder.dims[0]} input features, X has {n_features}")
        return copy.deepcopy(self.autoencoder).eval()

    def _forget_fit(self) -> None:
        """Drop what an earlier fit learned, so that a fit that fails leaves an unfitted estimator."""
        for name in [name for name in vars(self) if name.endswith("_") and not name.startswith("_")]:
            delattr(self, name)

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once ``fit`` has finished (``labels_`` is set last); a failed fit leaves it unfitted."""
        return hasattr(self, "labels_")
