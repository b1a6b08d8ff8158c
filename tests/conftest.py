import numpy as np
import pytest
from sklearn.datasets import load_digits

from decluster import DEC

# Settings small enough that a fit on a few hundred digits takes about a second on 2 cores.
FAST = dict(
    hidden_dims=(128, 128),
    embedding_dim=10,
    layer_epochs=5,
    finetune_epochs=40,
    pretrain_lr=3e-3,
    pretrain_batch_size=32,
    n_init=5,
    update_interval=20,
    max_iter=300,
    batch_size=64,
    device="cpu",
    precision="float32",  # the same arithmetic on every machine; bfloat16 has its own tests
)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled 8x8 digits scaled to [0, 1] (1,797 images, 10 classes)."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def digits_small(digits):
    X, y = digits
    return X[:400], y[:400]


def _make_dec(**overrides) -> DEC:
    return DEC(**{"n_clusters": 10, "random_state": 0, **FAST, **overrides})


@pytest.fixture(scope="session")
def make_dec():
    """Factory of DEC estimators with the fast test settings; keyword arguments override them."""
    return _make_dec


@pytest.fixture(scope="session")
def fitted_dec(digits_small):
    X, _ = digits_small
    return _make_dec().fit(X)
