"""Each row's cluster and how sure the model is of it, computed block by block."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decluster.data.disk_rows import DiskRows

ASSIGNMENT_BLOCK_ROWS = 65536
"""Rows assigned at a time, so that rows on disk are never all in memory."""


@dataclass(frozen=True)
class Assignments:
    """The cluster of every row and its probability.

    Attributes
    ----------
    labels : ndarray of int64 of shape (n_samples,)
        ``argmax_j q_ij``: the most probable cluster of each row.
    confidence : ndarray of shape (n_samples,)
        ``max_j q_ij``: that cluster's probability, of the dtype ``predict_proba`` returns.
    """

    labels: np.ndarray
    confidence: np.ndarray


def assign(model, X: np.ndarray | DiskRows, *, block_rows: int = ASSIGNMENT_BLOCK_ROWS) -> Assignments:
    """Assign every row of ``X`` to its most probable cluster, ``block_rows`` rows at a time.

    Parameters
    ----------
    model : DEC, IDEC, N2D or AutoCluster
        A fitted estimator with ``predict_proba``.
    X : ndarray of shape (n_samples, n_features), or rows on disk (NpyRows, ParquetRows)
    block_rows : int, default=65536

    Returns
    -------
    Assignments
    """
    labels = np.empty(X.shape[0], dtype=np.int64)
    confidence = None
    for start in range(0, X.shape[0], block_rows):
        block = slice(start, min(start + block_rows, X.shape[0]))
        proba = model.predict_proba(X[block])
        if confidence is None:
            confidence = np.empty(X.shape[0], dtype=proba.dtype)
        labels[block], confidence[block] = proba.argmax(axis=1), proba.max(axis=1)
    return Assignments(labels, np.zeros(0) if confidence is None else confidence)
