"""Orthogonal Procrustes similarity of two representations (Ding, Denain & Steinhardt 2021;
Williams et al. 2021).

With X (N × p) and Y (N × q) centred and scaled to unit Frobenius norm, the Procrustes
distance is the least squared distance between X and a rotation of Y,

    d²(X, Y) = min_Q ‖X − YQ‖²_F = 2 − 2‖XᵀY‖_*,

Q orthogonal (semi-orthogonal for p ≠ q; Schönemann 1966), ‖·‖_* the nuclear norm (the sum
of the singular values). closerlook reports the similarity ‖XᵀY‖_* ∈ [0, 1], 1 for
identical representations, so that every measure in the tables reads the same way; the
distance is √(2 − 2·similarity). It is invariant to orthogonal maps and isotropic scaling
of either side, not to a general invertible linear map (unlike CCA); for one feature on each
side it is |corr(x, y)|.

XᵀY has the singular values of AᵀB for any A = XV with orthonormal V spanning X's row
space (AAᵀ = XXᵀ), so a side with more features than rows is first reduced to N columns
by a thin QR of its transpose: the cost is N²·p rather than p·q.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from closerlook.dimensions import warn
from closerlook.orientation import check_rows


def row_space_factor(xc: np.ndarray) -> np.ndarray:
    """xc itself, or, when it has more columns than rows, Rᵀ of the thin QR xcᵀ = QR: an
    N × N factor with RᵀR = xc xcᵀ (Householder QR, stable, about half an SVD's work)."""
    if xc.shape[1] <= xc.shape[0]:
        return xc
    return np.linalg.qr(xc.T, mode="r").T


def procrustes(x: Any, y: Any) -> float:
    """‖XᵀY‖_* of centred, unit-Frobenius-norm x and y (module docstring); NaN, with a
    warning, when a side has no variance. Rows are examples (datapoints), columns are
    neurons (closerlook.orientation)."""
    from closerlook.unbiased_cka import as_rows

    x, y = as_rows(x), as_rows(y)
    check_rows(x.shape, y.shape)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    norm_x, norm_y = np.linalg.norm(xc), np.linalg.norm(yc)
    if norm_x == 0 or norm_y == 0:
        warn(["a side has no variance: Procrustes is NaN"])
        return float("nan")
    a, b = row_space_factor(xc / norm_x), row_space_factor(yc / norm_y)
    return float(np.linalg.svd(a.T @ b, compute_uv=False).sum())
