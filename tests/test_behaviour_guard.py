"""DEC's behaviour is guarded against refactoring: a seeded fit gives the labels recorded before.

``data/dec_digits400_seed0_labels.npy`` holds the labels of
``DEC(n_clusters=10, random_state=0, **FAST).fit(digits[:400])`` (float32, CPU) recorded at commit
5f7b01b. On the machine that recorded them the labels are identical; another CPU's kernels may
round differently, so the test allows a handful of points (1%) to differ after matching clusters.
"""

from pathlib import Path

import numpy as np

from decluster.metrics import cluster_accuracy

RECORDED = Path(__file__).parent / "data" / "dec_digits400_seed0_labels.npy"


def test_seeded_dec_gives_the_recorded_labels(digits_small, make_dec):
    recorded = np.load(RECORDED)
    labels = make_dec().fit(digits_small[0]).labels_
    assert cluster_accuracy(recorded, labels) >= 0.99
