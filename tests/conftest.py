import functools
import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

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


FIT_CHILD = Path(__file__).with_name("fit_child.py")


def run_fit_child(params: dict, data: Path, checkpoint_dir: Path | None, kill_at: str | None, resume: bool,
                  out: Path) -> subprocess.CompletedProcess:
    """One fit in a child process (see fit_child.py): killed by SIGKILL at a log message, or not."""
    command = [sys.executable, str(FIT_CHILD), str(data), json.dumps(params), str(checkpoint_dir or "-"),
               kill_at or "-", "1" if resume else "0", str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture
def kill_and_resume(tmp_path):
    """Fit ``params`` on ``X`` three times in child processes: uninterrupted; killed by SIGKILL at
    the log message ``kill_at`` with checkpoints on; resumed from that checkpoint. Returns the
    checkpoint's config as the kill left it, the uninterrupted labels and the resumed labels."""

    def run(params: dict, X: np.ndarray, kill_at: str) -> tuple[dict, np.ndarray, np.ndarray]:
        data, checkpoint = tmp_path / "data.npy", tmp_path / "checkpoint"
        np.save(data, X)
        reference = run_fit_child(params, data, None, None, False, tmp_path / "reference.npy")
        assert reference.returncode == 0, reference.stderr
        killed = run_fit_child(params, data, checkpoint, kill_at, False, tmp_path / "labels.npy")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert not (tmp_path / "labels.npy").exists()
        config = json.loads((checkpoint / "config.json").read_text())
        resumed = run_fit_child(params, data, checkpoint, None, True, tmp_path / "labels.npy")
        assert resumed.returncode == 0, resumed.stderr
        return config, np.load(tmp_path / "reference.npy"), np.load(tmp_path / "labels.npy")

    return run


# ------------------------------------------------------------------ generated cases, counted
GENERATED_CASES: Counter = Counter()
"""Examples run per property-based (hypothesis) test in this session."""


def _counting(inner, name: str):
    @functools.wraps(inner)
    def run(*args, **kwargs):
        GENERATED_CASES[name] += 1
        return inner(*args, **kwargs)

    return run


def pytest_collection_modifyitems(items):
    """Count every example of every hypothesis test (through its ``.hypothesis.inner_test``)."""
    for item in items:
        handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if handle is not None and not hasattr(handle.inner_test, "__wrapped__"):
            handle.inner_test = _counting(handle.inner_test, item.nodeid.split("[")[0])


def pytest_terminal_summary(terminalreporter):
    """One line: how many generated cases the property and fuzz tests ran, in how many tests."""
    if GENERATED_CASES:
        fuzz = sum(count for name, count in GENERATED_CASES.items() if "fuzz" in name)
        terminalreporter.write_line(f"generated cases: {sum(GENERATED_CASES.values())} in {len(GENERATED_CASES)} "
                                    f"property tests, {fuzz} of them in the fuzz suite (tests/test_fuzz*.py)")
