"""Logging for workflow jobs: progress lines to the rule's log file and to stderr.

Every long job logs one line per unit of its work (an epoch, a layer and measure, an
evaluated point, a batch) with the ETA of the rest: :class:`Progress`, one format for all.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(log_file: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    logger = logging.getLogger("closerlook")

    def log_uncaught(kind, value, tb):  # the traceback lands in the rule's log file too
        logger.critical("job failed: %s: %s", kind.__name__, value, exc_info=(kind, value, tb))

    sys.excepthook = log_uncaught
    return logger


def eta(seconds_per_unit: float, units_left: int) -> str:
    """The time the `units_left` still to do take at `seconds_per_unit`, as H:MM:SS
    ("?" before a first unit has been timed)."""
    seconds = seconds_per_unit * units_left
    if not math.isfinite(seconds):
        return "?"
    s = max(0, round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """Counts a job's units of work and logs one line per unit done:
    "<what> <done>/<total> <detail> ETA H:MM:SS", the ETA from the mean time per unit
    since this object was made (units `done` before it, as after a resume, not counted)."""

    def __init__(
        self, what: str, total: int, logger: logging.Logger | None = None, done: int = 0
    ) -> None:
        self.what, self.total, self.done = what, total, done
        self.log = logger or logging.getLogger("closerlook")
        self._first, self._t0 = done, time.perf_counter()

    def seconds_per_unit(self) -> float:
        """The mean time of the units done since the start (NaN before the first)."""
        counted = self.done - self._first
        return (time.perf_counter() - self._t0) / counted if counted > 0 else math.nan

    def step(self, detail: str = "", units: int = 1) -> None:
        """`units` more done: log the count, `detail` and the ETA of the rest."""
        self.done += units
        left = eta(self.seconds_per_unit(), self.total - self.done)
        text = f" {detail}" if detail else ""
        self.log.info("%s %d/%d%s ETA %s", self.what, self.done, self.total, text, left)
