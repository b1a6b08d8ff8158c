"""Run one DEC, IDEC or N2D fit in a child process for the kill and resume tests.

Usage: python fit_child.py DATA.npy PARAMS_JSON CHECKPOINT_DIR|- KILL_AT|- RESUME(0|1) LABELS_OUT.npy

Besides the labels it writes ``LABELS_OUT.npy.json``: the fitted ``n_clusters_`` and the k after each
update of P (``history_.n_clusters``; null for N2D).

``PARAMS_JSON`` may name the class as ``"estimator": "IDEC"``, ``"N2D"`` or ``"MergeIDEC"`` (default DEC), and give
``"pretrained": FOLDER``, a saved model whose pretrained autoencoder the fit starts from, and
``"mmap": true`` to stream DATA from disk as a memory map instead of loading it.

``KILL_AT``: the process sends itself SIGKILL when decluster logs a message containing it.

Under ``torchrun`` every rank runs this script; ``KILL_RANK`` in the environment limits the kill to
that rank, and rank 0 alone writes the labels. With ``THREADS_OUT`` in the environment each rank
writes the names of its threads left after ``leave_launched_world`` to ``THREADS_OUT.rank<r>`` (Linux).
"""

import json
import logging
import os
import signal
import sys
from pathlib import Path

import numpy as np

from decluster import DEC, IDEC, N2D, MergeIDEC
from decluster.distributed import leave_launched_world


class KillOnMessage(logging.Handler):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    data, params, checkpoint_dir, kill_at, resume, out = sys.argv[1:7]
    rank = int(os.environ.get("RANK", "0"))
    if kill_at != "-" and int(os.environ.get("KILL_RANK", rank)) == rank:
        logger = logging.getLogger("decluster")
        logger.addHandler(KillOnMessage(kill_at))
        logger.setLevel(logging.INFO)
    params = json.loads(params)
    estimator = {"DEC": DEC, "IDEC": IDEC, "N2D": N2D, "MergeIDEC": MergeIDEC}[params.pop("estimator", "DEC")]
    X = np.load(data, mmap_mode="r" if params.pop("mmap", False) else None)
    if "pretrained" in params:
        params["autoencoder"] = DEC.load(params.pop("pretrained"), device="cpu").autoencoder_
    model = estimator(**params).fit(
        X, checkpoint_dir=None if checkpoint_dir == "-" else checkpoint_dir,
        resume=resume == "1", checkpoint_interval=0.0,
    )
    if rank == 0:
        np.save(out, model.labels_)
        history = getattr(model, "history_", None)
        Path(f"{out}.json").write_text(json.dumps({"n_clusters": model.n_clusters_,
                                                  "history": None if history is None else history.n_clusters}))
    leave_launched_world()
    if "THREADS_OUT" in os.environ:  # the names of the threads still running, one file per rank
        names = [(task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()]
        Path(f"{os.environ['THREADS_OUT']}.rank{rank}").write_text("\n".join(names))


if __name__ == "__main__":
    main()
