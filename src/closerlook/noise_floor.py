"""Similarity above its noise floor: the chance level that a similarity measure reaches on
unrelated data, and the correction that removes it from an effect.

Canonical correlations of independent data are far from 0 when a layer is wide against the
number of datapoints: for p ≤ q features of N independent Gaussian rows the squared canonical
correlations follow Wachter's law, whose mean grows with q/N (Wachter 1980; the mean CCA of
a 64- and a 4,096-wide layer on 8,000 rows is about 0.1 against 0.6). A contrast between a
narrow and a wide layer is then built in before any data. closerlook measures the floor of
every layer, pair and measure directly: the *shuffled baseline* b, the same two layers with
one side's rows permuted (closerlook.compare), and reads every similarity effect on

    v* = (v − b) / (1 − b),

the fraction of the headroom above chance that the similarity v reaches (0 at chance, 1 for
identical representations; the normalisation of a chance-corrected agreement, as Cohen's
kappa corrects an agreement rate). The raw values stay in the tables and are printed beside.
"""

from __future__ import annotations

import numpy as np


def corrected(values: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """(v − b) / (1 − b) per layer; where the baseline is missing (NaN) or b ≥ 1 the value is
    NaN (a layer without a floor cannot enter a corrected effect)."""
    v = np.asarray(values, dtype=float)
    b = np.asarray(baseline, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (v - b) / (1.0 - b)
    return np.where(np.isfinite(b) & (b < 1.0), out, np.nan)


def has_floor(baseline: np.ndarray) -> bool:
    """Whether every layer has its shuffled baseline."""
    b = np.asarray(baseline, dtype=float)
    return bool(b.size) and bool(np.isfinite(b).all())
