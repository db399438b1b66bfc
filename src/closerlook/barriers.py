"""Barriers along a path w(t), t ∈ [0, 1], measured against the linear interpolation of the
endpoints' values (the chord), as the mode-connectivity literature measures them:

    B = max_t [ f(t) − ((1 − t) f(0) + t f(1)) ]

- error barrier, f = E = 1 − accuracy (a fraction; × 100: percentage points): Frankle,
  Dziugaite, Roy & Carbin 2020, "Linear mode connectivity and the lottery ticket hypothesis"
  (two networks are linearly connected when their error barrier is ≲ 2 points). Frankle et
  al. subtract the endpoints' mean ½(E(0) + E(1)); the chord equals it at t = ½ and differs
  by at most ½|E(1) − E(0)| anywhere, nothing between iterates of similar error;
- loss barrier, f = L: Entezari, Sedghi, Saukh & Neyshabur 2022 ("The role of permutation
  invariance in linear mode connectivity"); Ainsworth, Hayase & Srinivasa 2023 ("Git
  Re-Basin").

Unlike max_t f(t) − max(f(0), f(1)), the chord counts a bump above the lower endpoint that
stays below the higher one. Both barriers are ≥ 0: the chord meets the path at t = 0 and
t = 1. Numbers only (numpy), float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

BARRIERS = ("error_train", "error_val", "loss_train", "loss_val")
ArrayLike = Sequence[float] | np.ndarray


def _grid(t: ArrayLike, values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """`t` and `values` as float64 vectors; t must rise from 0 to 1 (not necessarily evenly)."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if t.ndim != 1 or t.shape != y.shape or len(t) < 2:
        raise ValueError(f"t {t.shape} and values {y.shape}: need two equal 1-d grids")
    if t[0] != 0.0 or t[-1] != 1.0 or np.any(np.diff(t) <= 0):
        raise ValueError("t must rise strictly from 0 to 1, both included")
    return t, y


def chord(t: ArrayLike, values: ArrayLike) -> np.ndarray:
    """(1 − t) f(0) + t f(1) at every t of the grid: the endpoints' linear interpolation."""
    t, y = _grid(t, values)
    return (1.0 - t) * y[0] + t * y[-1]


def chord_barrier(t: ArrayLike, values: ArrayLike) -> float:
    """max_t [f(t) − ((1 − t) f(0) + t f(1))] over the grid (NaN if any value is NaN)."""
    t, y = _grid(t, values)
    return float(np.max(y - chord(t, y)))


def error_barrier(t: ArrayLike, acc: ArrayLike) -> float:
    """Frankle et al. 2020: max_t [E(t) − ((1 − t) E(0) + t E(1))], E = 1 − acc (a fraction;
    × 100 gives percentage points)."""
    return chord_barrier(t, 1.0 - np.asarray(acc, dtype=np.float64))


def loss_barrier(t: ArrayLike, loss: ArrayLike) -> float:
    """Entezari et al. 2022, Def. 1: max_t [L(t) − ((1 − t) L(0) + t L(1))]."""
    return chord_barrier(t, loss)


def path_barriers(t: ArrayLike, metrics: Mapping[str, ArrayLike]) -> dict[str, float]:
    """The four barriers of one path (keys BARRIERS) from its train_acc, val_acc, train_loss
    and val_loss over the grid `t`."""
    out = {}
    for key in BARRIERS:
        kind, split = key.split("_")
        if kind == "error":
            out[key] = error_barrier(t, metrics[f"{split}_acc"])
        else:
            out[key] = loss_barrier(t, metrics[f"{split}_loss"])
    return out
