"""Peak resident memory of this process, split by the phase DEC reports it is in."""

from __future__ import annotations

import logging
import resource
import threading
from pathlib import Path

_STATUS = Path("/proc/self/status")


def resident_mb() -> float:
    """Current resident set size in MB (from /proc; the peak so far where /proc is missing)."""
    if _STATUS.exists():
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PhaseMemory(logging.Handler):
    """Sample the RSS every ``interval`` seconds and keep the peak of each phase.

    The phase changes when this process is told (:meth:`enter`) or when DEC logs
    ``"phase NAME started"`` at DEBUG level on ``decluster.phases``.
    """

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(level=logging.DEBUG)
        self.interval, self.phase, self.peaks = interval, "load", {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> PhaseMemory:
        estimator_log = logging.getLogger("decluster.phases")
        estimator_log.setLevel(logging.DEBUG)
        estimator_log.addHandler(self)
        self._thread.start()
        return self

    def enter(self, phase: str) -> None:
        self._record()
        self.phase = phase

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("phase ") and record.getMessage().endswith(" started"):
            self.enter(record.args[0])

    def _record(self) -> None:
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), resident_mb())

    def _sample(self) -> None:
        while not self._done.wait(self.interval):
            self._record()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self._record()
        logging.getLogger("decluster.phases").removeHandler(self)

    def peaks_mb(self) -> dict[str, float]:
        """Peak RSS in MB of each phase seen, in order."""
        return {phase: round(value, 1) for phase, value in self.peaks.items()}
