"""Replicates: the mean of a quantity across seeds and its 95% confidence interval.

A study run with `seeds: n` trains every run n times (replicates k = 0 … n−1). Each
per-run quantity (a loss at an epoch, a layer's similarity, a barrier height, an effect of a
claim) is then a sample x_1 … x_n, summarised by its mean and the Student-t interval

    x̄ ± t_{1−α/2, n−1} · s / √n,    s² = Σ (x_k − x̄)² / (n − 1),

the textbook interval for the mean of a normal sample of unknown variance (Student 1908).
With a handful of seeds the t quantile is large (4.30 for n = 3), so the intervals are wide
on purpose: they say how little three seeds can settle. With one seed there is no interval
(both bounds NaN). Seeds whose value is not finite (a diverged run) are left out and counted.

`seeds_needed` turns an observed mean and SD into a sample size: the power of the
one-sample t-test (the interval lies wholly on one side of a bound exactly when the test
rejects) is P(T' > t_{(1+c)/2, n−1}) with T' noncentral t of n − 1 degrees of freedom and
noncentrality δ = (mean − bound)·√n / sd (Cohen 1988, ch. 2). Textbook check: a
standardized effect d = 1 at two-sided α = 0.05 reaches 80% power with n = 10 (0.803;
0.748 at n = 9), d = 0.5 with n = 34.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

CONFIDENCE = 0.95
POWER = 0.8
ABOVE, BELOW = "above", "below"


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


def seeds_needed(
    mean: float,
    sd: float,
    bound: float,
    direction: str,
    confidence: float = CONFIDENCE,
    power: float = POWER,
    max_n: int = 1000,
) -> int | None:
    """The smallest n ≥ 2 at which the two-sided `confidence` interval of n values lies
    wholly `direction` ("above" or "below") of `bound` with probability ≥ `power`, if the
    true mean were `mean` and the true SD `sd`: the power of the one-sample t-test,
    P(T' > t_{(1+confidence)/2, n−1}), T' noncentral t (n − 1 dof, δ = (mean − bound)·√n/sd,
    sign turned for "below"). None when the mean lies on the bound or max_n is not enough;
    2 when sd is 0 and the mean lies on the `direction` side."""
    if direction not in (ABOVE, BELOW):
        raise ValueError(f"direction must be {ABOVE!r} or {BELOW!r}, not {direction!r}")
    if not (sd >= 0 and math.isfinite(sd) and math.isfinite(mean)):
        raise ValueError(f"need a finite mean and a finite sd >= 0, got {mean}, {sd}")
    gap = (mean - bound) if direction == ABOVE else (bound - mean)
    if gap == 0 or max_n < 2:
        return None
    if sd == 0:
        return 2 if gap > 0 else None
    n = np.arange(2, max_n + 1)
    critical = _scipy_stats.t.ppf((1 + confidence) / 2, n - 1)
    delta = gap * np.sqrt(n) / sd
    with np.errstate(all="ignore"):
        p = _scipy_stats.nct.sf(critical, n - 1, delta)
    # the noncentral t's tail is not computed for huge noncentralities (a spread of
    # rounding size): there the test cannot miss when the mean is on the right side
    p = np.where(np.isfinite(p), p, np.where(delta > 0, 1.0, 0.0))
    reached = p >= power
    return int(n[np.argmax(reached)]) if reached.any() else None
