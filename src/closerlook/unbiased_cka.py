"""Debiased and minibatch linear CKA, from the unbiased HSIC estimator.

Biased linear CKA (closerlook.similarity.linear_cka) is inflated when the features
outnumber the examples: of independent random data it is far above 0 at small n. The
unbiased estimator of HSIC (Song et al. 2012, eq. 5) removes that bias:

    HSIC₁(K, L) = [tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3)),

K̃ the Gram matrix K with its diagonal set to zero (n ≥ 4). It is unchanged by a shift of
the features, so the rows are centred first; for the linear kernel K = XXᵀ of centred X,
with a_i = ‖x_i‖² and b_i = ‖y_i‖² (Σ x_i = 0 makes 1ᵀK̃1 = −Σa and 1ᵀK̃L̃1 = aᵀb),

    n(n−3) · HSIC₁ = ‖XᵀY‖²_F − n/(n−2) · aᵀb + Σa · Σb / ((n−1)(n−2)),

computed in feature space or through the n × n Grams, whichever is smaller.

- **Debiased CKA** (Kornblith et al. 2019, §3 and their code; Nguyen, Raghu & Kornblith
  2021, eq. 2): HSIC₁(K, L) / √(HSIC₁(K, K) · HSIC₁(L, L)).
- **Minibatch CKA** (Nguyen et al. 2021, eq. 3): over k minibatches of the probe set,
  (1/k Σ_i HSIC₁(K_i, L_i)) / √(1/k Σ_i HSIC₁(K_i, K_i) · 1/k Σ_i HSIC₁(L_i, L_i)); each
  minibatch holds b ≥ 4 rows, so a layer streams batch by batch and never sits in memory
  whole. On one batch it is debiased CKA; as the batches grow it tends to it.

Both are estimators: near 0 for unrelated layers they may come out slightly negative, and
they are not clipped. A side without variance (every neuron constant or dead) has
HSIC₁(K, K) = 0 and gives NaN with a warning, as linear CKA does; constant or dead neurons
among live ones change nothing (they are zero once centred).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from closerlook.dimensions import warn
from closerlook.orientation import check_rows

MIN_ROWS = 4  # the unbiased estimator divides by n(n-3) and (n-1)(n-2)


@dataclass
class HSICSums:
    """Σ over minibatches of HSIC₁(K, L), HSIC₁(K, K), HSIC₁(L, L), and their number."""

    xy: float = 0.0
    xx: float = 0.0
    yy: float = 0.0
    batches: int = 0

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add one minibatch: the three estimates from one pair of products (the Grams,
        or the feature-space cross products where those are smaller)."""
        xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
        n, p, q = xc.shape[0], xc.shape[1], yc.shape[1]
        if n < MIN_ROWS:
            raise ValueError(f"the unbiased HSIC needs at least {MIN_ROWS} rows, not {n}")
        if p * q + p * p + q * q <= n * (p + q):
            xy = float(np.sum((xc.T @ yc) ** 2))
            xx, yy = float(np.sum((xc.T @ xc) ** 2)), float(np.sum((yc.T @ yc) ** 2))
        else:
            k, l_ = xc @ xc.T, yc @ yc.T
            xy, xx, yy = float(np.sum(k * l_)), float(np.sum(k * k)), float(np.sum(l_ * l_))
        a, b = row_norms(xc), row_norms(yc)
        self.xy += unbiased(xy, a, b)
        self.xx += unbiased(xx, a, a)
        self.yy += unbiased(yy, b, b)
        self.batches += 1

    def cka(self) -> float:
        """The ratio of the averages (the 1/k cancel); NaN where a side has no variance."""
        if self.xx <= 0 or self.yy <= 0:
            warn(["a side has no variance (HSIC of itself not above 0): CKA is NaN"])
            return float("nan")
        return float(self.xy / np.sqrt(self.xx * self.yy))


def row_norms(xc: np.ndarray) -> np.ndarray:
    """a_i = ‖x_i‖², the diagonal of the Gram matrix."""
    return np.einsum("ij,ij->i", xc, xc)


def unbiased(cross: float, a: np.ndarray, b: np.ndarray) -> float:
    """HSIC₁ from tr(KL) = ‖XᵀY‖²_F and the Grams' diagonals a, b of centred data (module
    docstring)."""
    n = len(a)
    value = cross - n / (n - 2) * float(a @ b) + a.sum() * b.sum() / ((n - 1) * (n - 2))
    return value / (n * (n - 3))


def hsic1(xc: np.ndarray, yc: np.ndarray) -> float:
    """The unbiased HSIC estimate of the linear kernels of centred xc, yc."""
    n = xc.shape[0]
    if n < MIN_ROWS:
        raise ValueError(f"the unbiased HSIC needs at least {MIN_ROWS} rows, not {n}")
    return unbiased(float(np.sum((xc @ xc.T) * (yc @ yc.T))), row_norms(xc), row_norms(yc))


def flat(x: Any) -> np.ndarray:
    """(N, features) as stored (a map flattened per example; a torch tensor on the CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1)


def as_rows(x: Any) -> np.ndarray:
    """(N, features) in float64."""
    return flat(x).astype(np.float64, copy=False)


def debiased_cka(x: Any, y: Any) -> float:
    """Debiased linear CKA of (N, features) x and y, N ≥ 4 (module docstring): rows are
    examples (datapoints), columns are neurons (closerlook.orientation)."""
    sums = HSICSums()
    x, y = as_rows(x), as_rows(y)
    check_rows(x.shape, y.shape)
    sums.add(x, y)
    return sums.cka()


def row_batches(x: Any, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive batches of `batch_size` rows; a last one of fewer than 4 rows is left
    out (the unbiased estimator cannot use it)."""
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        if len(batch) >= MIN_ROWS:
            yield batch


def minibatch_cka(
    x: Any | Iterable[Any], y: Any | Iterable[Any], batch_size: int | None = None
) -> float:
    """Minibatch CKA (Nguyen et al. 2021, eq. 3). `x`, `y` are (N, features) arrays (rows
    are examples, columns are neurons) split
    into consecutive minibatches of `batch_size` rows (None: one batch, debiased CKA), or
    two iterables of matching minibatches (e.g. read from an HDF5 file row by row); a
    minibatch of fewer than 4 rows (a last, short one) is left out."""
    if batch_size is not None:
        if batch_size < MIN_ROWS:
            raise ValueError(f"minibatch CKA needs batches of at least {MIN_ROWS} rows")
        # each minibatch is made float64 on its own: memory holds one of them in float64
        x, y = row_batches(flat(x), batch_size), row_batches(flat(y), batch_size)
    elif hasattr(x, "shape"):
        x, y = [x], [y]
    sums = HSICSums()
    for bx, by in zip(x, y, strict=True):
        bx, by = as_rows(bx), as_rows(by)
        if bx.shape[0] != by.shape[0]:
            raise ValueError(f"a minibatch of x has {bx.shape[0]} rows and of y {by.shape[0]}")
        if bx.shape[0] >= MIN_ROWS:  # a last, short minibatch is left out
            sums.add(bx, by)
    if sums.batches == 0:
        raise ValueError(f"minibatch CKA got no minibatch of at least {MIN_ROWS} rows")
    return sums.cka()
