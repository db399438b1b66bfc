"""Representation similarity: CCA and SVCCA.

Inputs are activation matrices of shape (datapoints, features): row i of `x` and of `y` is
the same input seen by two layers (or one layer at two checkpoints).

CCA (Hotelling 1936) finds directions a, b maximising corr(x a, y b); the canonical
correlations ρ_1 ≥ ρ_2 ≥ … are the cosines of the principal angles between the column
spaces of the centred x and y (Björck & Golub 1973). We compute them that way: an
orthonormal basis of each centred matrix from its SVD, then the singular values of
Q_xᵀ Q_y. Directions whose singular value is below `epsilon` times the largest are
dropped first, so constant neurons and rank deficiency reduce the dimension instead of
producing NaNs.

SVCCA (Raghu et al. 2017) first keeps, on each side, the top singular directions that
explain a fraction `keep` of the variance, then averages the canonical correlations.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

ArrayLike = np.ndarray


@dataclass
class CCAResult:
    rho: np.ndarray  # canonical correlations, descending
    dim_x: int  # dimensions of x used
    dim_y: int

    @property
    def mean(self) -> float:
        return float(self.rho.mean()) if self.rho.size else float("nan")


def _as_matrix(x: ArrayLike) -> np.ndarray:
    """Float64 (datapoints, features); a torch tensor is moved to the CPU."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a (datapoints, features) matrix, got shape {x.shape}")
    return x


def centre(x: np.ndarray) -> np.ndarray:
    """Subtract each feature's mean over the datapoints."""
    return x - x.mean(axis=0, keepdims=True)


def orthonormal_basis(x: np.ndarray, epsilon: float) -> np.ndarray:
    """Q with orthonormal columns spanning the column space of centred x, dropping directions
    whose singular value is ≤ epsilon · σ_max."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return u[:, :0]
    rank = int(np.sum(s > epsilon * s[0]))
    return u[:, :rank]


def cca_result(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> CCAResult:
    """Canonical correlations of x and y with the dimensions actually used."""
    x, y = _as_matrix(x), _as_matrix(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} datapoints but y has {y.shape[0]}")
    qx = orthonormal_basis(centre(x), epsilon)
    qy = orthonormal_basis(centre(y), epsilon)
    n = x.shape[0]
    if max(qx.shape[1], qy.shape[1]) >= n - 1:
        warnings.warn(
            f"CCA with {qx.shape[1]} and {qy.shape[1]} dimensions on only {n} datapoints: "
            "coefficients are trivially near 1; use more datapoints or reduce dimensions",
            RuntimeWarning,
            stacklevel=2,
        )
    rho = np.linalg.svd(qx.T @ qy, compute_uv=False)  # cosines of principal angles
    return CCAResult(np.clip(rho, 0.0, 1.0), qx.shape[1], qy.shape[1])


def cca(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> np.ndarray:
    """Canonical correlation coefficients of x and y, descending."""
    return cca_result(x, y, epsilon).rho


def svd_reduce(x: np.ndarray, keep: float) -> np.ndarray:
    """Project centred x onto its fewest top singular directions whose variance (σ²) adds up
    to at least `keep` of the total (the SV step of SVCCA)."""
    x = centre(x)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    var = s**2
    if var.sum() == 0:
        return x[:, :0]
    k = int(np.searchsorted(np.cumsum(var) / var.sum(), keep - 1e-12) + 1)
    return u[:, :k] * s[:k]


def svcca_result(
    x: ArrayLike, y: ArrayLike, keep: float = 0.99, epsilon: float = 1e-10
) -> CCAResult:
    """SVCCA (Raghu et al. 2017): SVD reduction keeping `keep` of the variance, then CCA."""
    x, y = _as_matrix(x), _as_matrix(y)
    return cca_result(svd_reduce(x, keep), svd_reduce(y, keep), epsilon)


def svcca(x: ArrayLike, y: ArrayLike, keep: float = 0.99, epsilon: float = 1e-10) -> float:
    """SVCCA similarity: the mean canonical correlation after SVD reduction."""
    return svcca_result(x, y, keep, epsilon).mean


def as_datapoints(activation: np.ndarray) -> np.ndarray:
    """(N, features) for a fully-connected layer; a conv map (N, C, H, W) becomes
    (N·H·W, C), every spatial position a datapoint (Raghu et al. 2017, §2.1)."""
    if activation.ndim == 2:
        return activation
    if activation.ndim == 4:
        n, c, h, w = activation.shape
        return activation.transpose(0, 2, 3, 1).reshape(n * h * w, c)
    raise ValueError(f"cannot compare activations of shape {activation.shape}")


def layer_similarity(
    a: np.ndarray, b: np.ndarray, method: str = "svcca", keep: float = 0.99, epsilon: float = 1e-10
) -> CCAResult:
    """Similarity of one layer's activations `a` and `b` (same probe rows) by `method`."""
    if a.shape != b.shape:
        raise ValueError(f"layer shapes differ: {a.shape} vs {b.shape}")
    if method == "svcca":
        return svcca_result(as_datapoints(a), as_datapoints(b), keep, epsilon)
    raise ValueError(f"unknown similarity method {method!r}")
