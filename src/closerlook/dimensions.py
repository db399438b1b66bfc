"""How many directions each side of a comparison keeps (closerlook.similarity,
closerlook.dft_cca): the numerical rank, the budget of n − 1 dimensions that n centred
datapoints hold, and the one warning per call that reports any reduction."""

from __future__ import annotations

import warnings

import numpy as np


class DimensionWarning(RuntimeWarning):
    """Directions were dropped: constant or dependent neurons, or too few datapoints."""


def numerical_rank(s: np.ndarray, epsilon: float) -> int:
    """Number of singular values above epsilon · σ_max (none if σ_max is 0)."""
    if s.size == 0 or s[0] == 0:
        return 0
    return int(np.sum(s > epsilon * s[0]))


def direction_budget(rank_x: int, rank_y: int, n: int) -> tuple[int, int]:
    """Dimensions each side may keep so that together they fit in the n − 1 dimensions of
    centred data (beyond that, canonical correlations of 1 appear whatever the data). A
    side within half the budget keeps all; the other gets the rest. Symmetric in x, y."""
    budget = max(n - 1, 0)
    if rank_x + rank_y <= budget:
        return rank_x, rank_y
    half = budget // 2
    if rank_x <= half:
        return rank_x, budget - rank_x
    if rank_y <= half:
        return budget - rank_y, rank_y
    return half, half


def warn(messages: list[str], stacklevel: int = 3) -> None:
    """One warning per call, listing every reduction made."""
    if messages:
        warnings.warn("; ".join(messages), DimensionWarning, stacklevel=stacklevel)
