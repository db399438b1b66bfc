"""Replicates: the mean of a quantity across seeds and its 95% confidence interval.

A study run with `seeds: n` trains every run n times (replicates k = 0 … n−1). Each
per-run quantity (a loss at an epoch, a layer's similarity, a barrier height, an effect of a
claim) is then a sample x_1 … x_n, summarised by its mean and the Student-t interval

    x̄ ± t_{1−α/2, n−1} · s / √n,    s² = Σ (x_k − x̄)² / (n − 1),

the textbook interval for the mean of a normal sample of unknown variance (Student 1908).
With a handful of seeds the t quantile is large (4.30 for n = 3), so the intervals are wide
on purpose: they say how little three seeds can settle. With one seed there is no interval
(both bounds NaN). Seeds whose value is not finite (a diverged run) are left out and counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean of `n` finite values with a two-sided confidence interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def format(self, digits: int = 3, signed: bool = False) -> str:
        """ "+0.120 [0.080, 0.160]" (or the mean alone with one value)."""
        sign = "+" if signed else ""
        mean = f"{self.mean:{sign}.{digits}f}"
        if not math.isfinite(self.low):
            return mean
        return f"{mean} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def t_quantile(confidence: float, dof: int) -> float:
    """t_{(1+confidence)/2, dof}: the two-sided critical value of Student's t."""
    return float(_scipy_stats.t.ppf((1 + confidence) / 2, dof))


def mean_interval(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """The mean of the finite `values` and its Student-t confidence interval (NaN bounds
    with fewer than two values; NaN mean with none)."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, confidence)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, confidence)
    half = t_quantile(confidence, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, confidence)


def mean_intervals(
    samples: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-wise `mean_interval` of a (seeds, points) array: (mean, low, high), each of
    length `points`; non-finite entries are left out column by column."""
    s = np.atleast_2d(np.asarray(samples, dtype=float))
    out = [mean_interval(s[:, j], confidence) for j in range(s.shape[1])]
    return (
        np.array([i.mean for i in out]),
        np.array([i.low for i in out]),
        np.array([i.high for i in out]),
    )
