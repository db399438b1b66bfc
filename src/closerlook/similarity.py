"""Representation similarity: CCA, SVCCA, PWCCA, linear CKA (biased, debiased and
minibatch: closerlook.unbiased_cka), orthogonal Procrustes (closerlook.procrustes), and
DFT-CCA for conv maps.

Inputs are activation matrices of shape (datapoints, features): rows are examples
(datapoints), columns are neurons, and row i of `x` and of `y` is the same input seen by
two layers (or one layer at two checkpoints). That is the transpose of google/svcca's
neurons × datapoints layout; an input that looks transposed is refused or warned about
(closerlook.orientation). NumPy arrays and torch tensors are accepted; every result is
computed in float64.

CCA (Hotelling 1936) finds directions a, b maximising corr(x a, y b); the canonical
correlations ρ_1 ≥ ρ_2 ≥ … are the cosines of the principal angles between the column
spaces of the centred x and y (Björck & Golub 1973). We compute them that way: an
orthonormal basis of each centred matrix from its SVD, then the singular values of
Q_xᴴ Q_y.

SVCCA (Raghu et al. 2017) first keeps, on each side, the top singular directions that
explain a fraction `keep` of the variance, then averages the canonical correlations.
PWCCA (Morcos et al. 2018) weights each canonical correlation by how much of x its
canonical variate accounts for. Linear CKA (Kornblith et al. 2019) compares the centred
Gram matrices instead of subspaces.

DFT-CCA (Raghu et al. 2017, §3.1) compares conv maps (N, C, H, W): if the statistics are
translation invariant, the covariance of the spatially flattened maps is block diagonal in
the 2-D Fourier basis, so the CCA of the whole map splits into one CCA per spatial
frequency (datapoints N, features C). All frequencies are solved at once as batched linear
algebra in torch, on CUDA when it is there. `dft_svcca` applies the SV step at every
frequency first; `dft_cca` does not (google/svcca's `fourier_ccas`, which Gotmare et al.
2019 used), so it is invariant to any invertible linear map of the channels.

Robustness. Constant (dead) neurons and linearly dependent ones add no direction: each
side keeps the directions whose singular value exceeds `epsilon` times the largest. When
the two sides together have more directions than the N − 1 that centred data can hold,
the coefficients would be ones for no reason, so each side keeps its top-variance
directions within that budget. Either reduction is recorded in the result (`dim_x`,
`dim_y`) and reported in one `DimensionWarning` per call. A side with no variance at all
gives NaN, with a warning, since no similarity is defined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from closerlook.dft_cca import dft_cca_result
from closerlook.dimensions import direction_budget, numerical_rank, warn
from closerlook.orientation import check_cca, check_rows
from closerlook.procrustes import procrustes
from closerlook.unbiased_cka import debiased_cka, minibatch_cka

ArrayLike = Any  # np.ndarray or torch.Tensor

METHODS = (
    "svcca", "pwcca", "cka", "dft_svcca", "dft_cca", "cka_debiased", "cka_minibatch", "procrustes"
)  # fmt: skip
# Measures of flattened examples taking (N, features) -> float, and the rows per minibatch
# of cka_minibatch by default (Nguyen et al. 2021 used minibatches of 256 examples).
EXAMPLE_MEASURES = {"cka_debiased": debiased_cka, "procrustes": procrustes}
MINIBATCH_SIZE = 256


@dataclass
class CCAResult:
    rho: np.ndarray  # canonical correlations, descending
    dim_x: int  # dimensions of x used
    dim_y: int

    @property
    def mean(self) -> float:
        return float(self.rho.mean()) if self.rho.size else float("nan")


@dataclass
class Similarity:
    """One similarity value, the dimensions it used and the arrays worth keeping: the
    canonical correlations and, per method, extras such as PWCCA weights or per-frequency
    values."""

    value: float
    dim_x: int
    dim_y: int
    coefficients: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers
def _as_matrix(x: ArrayLike) -> np.ndarray:
    """Float64 (or complex128) (datapoints, features); a torch tensor goes to the CPU."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    x = x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a (datapoints, features) matrix, got shape {x.shape}")
    return x


def _same_rows(x: np.ndarray, y: np.ndarray) -> None:
    check_rows(x.shape, y.shape)


def _cca_inputs(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The inputs of a public CCA measure as matrices, checked for their orientation (a
    warning when they look transposed: closerlook.orientation)."""
    x, y = _as_matrix(x), _as_matrix(y)
    check_cca(x.shape, y.shape, stacklevel=4)
    return x, y


def centre(x: np.ndarray) -> np.ndarray:
    """Subtract each feature's mean over the datapoints."""
    return x - x.mean(axis=0, keepdims=True)


def _reduction_notes(
    features: tuple[int, int], ranks: tuple[int, int], kept: tuple[int, int], n: int
) -> list[str]:
    notes = []
    for side, f, r in zip("xy", features, ranks, strict=True):
        if r == 0:
            notes.append(f"{side} has no variance: similarity undefined (NaN)")
        elif r < f:
            notes.append(
                f"{side}: {f - r} of {f} neurons are constant or linearly dependent; "
                f"using {r} dimensions"
            )
    if kept != ranks:
        notes.append(
            f"{ranks[0]} + {ranks[1]} dimensions exceed the {n - 1} that {n} centred "
            f"datapoints hold; keeping the top {kept[0]} and {kept[1]} by variance"
        )
    return notes


# --------------------------------------------------------------------------- CCA
@dataclass
class _CCAParts:
    """The pieces of one CCA that PWCCA needs beyond the coefficients."""

    xc: np.ndarray  # centred x
    qx: np.ndarray  # orthonormal basis of the kept directions of x
    u: np.ndarray  # left singular vectors of Q_xᴴ Q_y: canonical directions in qx's basis
    rho: np.ndarray


def _cca_parts(x: np.ndarray, y: np.ndarray, epsilon: float) -> tuple[_CCAParts, int, int]:
    _same_rows(x, y)
    n = x.shape[0]
    xc, yc = centre(x), centre(y)
    ux, sx, _ = np.linalg.svd(xc, full_matrices=False)  # left singular vectors by σ
    uy, sy, _ = np.linalg.svd(yc, full_matrices=False)
    ranks = (numerical_rank(sx, epsilon), numerical_rank(sy, epsilon))
    kept = direction_budget(*ranks, n)
    warn(_reduction_notes((x.shape[1], y.shape[1]), ranks, kept, n), stacklevel=4)
    qx, qy = ux[:, : kept[0]], uy[:, : kept[1]]
    # cosines of the principal angles between the two column spaces
    u, rho, _ = np.linalg.svd(qx.conj().T @ qy, full_matrices=False)
    k = min(kept)
    return _CCAParts(xc, qx, u[:, :k], np.clip(rho[:k], 0.0, 1.0)), kept[0], kept[1]


def _cca_result(x: np.ndarray, y: np.ndarray, epsilon: float) -> CCAResult:
    parts, dx, dy = _cca_parts(x, y, epsilon)
    return CCAResult(parts.rho, dx, dy)


def cca_result(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> CCAResult:
    """Canonical correlations of x and y with the dimensions actually used; rows are
    examples (datapoints), columns are neurons."""
    return _cca_result(*_cca_inputs(x, y), epsilon)


def cca(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> np.ndarray:
    """Canonical correlation coefficients of x and y, descending; rows are examples
    (datapoints), columns are neurons."""
    return _cca_result(*_cca_inputs(x, y), epsilon).rho


# --------------------------------------------------------------------------- SVCCA
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


def _svcca_result(x: np.ndarray, y: np.ndarray, keep: float, epsilon: float) -> CCAResult:
    _same_rows(x, y)
    return _cca_result(svd_reduce(x, keep), svd_reduce(y, keep), epsilon)


def svcca_result(
    x: ArrayLike, y: ArrayLike, keep: float = 0.99, epsilon: float = 1e-10
) -> CCAResult:
    """SVCCA (Raghu et al. 2017): SVD reduction keeping `keep` of the variance, then CCA;
    rows are examples (datapoints), columns are neurons (google/svcca's inputs transposed)."""
    return _svcca_result(*_cca_inputs(x, y), keep, epsilon)


def svcca(x: ArrayLike, y: ArrayLike, keep: float = 0.99, epsilon: float = 1e-10) -> float:
    """SVCCA similarity: the mean canonical correlation after SVD reduction; rows are
    examples (datapoints), columns are neurons (google/svcca's inputs transposed)."""
    return _svcca_result(*_cca_inputs(x, y), keep, epsilon).mean


# --------------------------------------------------------------------------- PWCCA
def pwcca_result(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> Similarity:
    """Projection-weighted CCA (Morcos et al. 2018, eq. 2): Σ_i α_i ρ_i with
    α_i ∝ Σ_j |⟨h_i, x_j⟩|, h_i the i-th canonical variate of x and x_j its centred neurons;
    rows are examples (datapoints), columns are neurons.

    The weights come from x, so PWCCA is not symmetric: pwcca(x, y) weighs by x and
    pwcca(y, x) by y (Morcos et al. weigh by the earlier or the reference network)."""
    return _pwcca_result(*_cca_inputs(x, y), epsilon)


def _pwcca_result(x: np.ndarray, y: np.ndarray, epsilon: float) -> Similarity:
    parts, dx, dy = _cca_parts(x, y, epsilon)
    if parts.rho.size == 0:
        return Similarity(float("nan"), dx, dy, parts.rho, {"weights": parts.rho})
    h = parts.qx @ parts.u  # canonical variates of x, unit norm, (N, k)
    alpha = np.abs(h.conj().T @ parts.xc).sum(axis=1)  # Σ_j |⟨h_i, x_j⟩|
    alpha = alpha / alpha.sum()
    return Similarity(float(alpha @ parts.rho), dx, dy, parts.rho, {"weights": alpha})


def pwcca(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> float:
    """PWCCA similarity of y to x (weights from x's neurons); rows are examples
    (datapoints), columns are neurons."""
    return _pwcca_result(*_cca_inputs(x, y), epsilon).value


# --------------------------------------------------------------------------- CKA
def linear_cka_result(x: ArrayLike, y: ArrayLike) -> Similarity:
    """Linear CKA (Kornblith et al. 2019, eq. 5) of centred x, y:
    ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F), computed in feature space or, when the features
    outnumber the datapoints, through the n × n Gram matrices (tr(K L) = ‖Yᵀ X‖²_F).
    The dimensions recorded are the non-constant features. Rows are examples
    (datapoints), columns are neurons; wide inputs (flattened conv maps) are normal here,
    so only a row mismatch is caught (closerlook.orientation)."""
    x, y = _as_matrix(x), _as_matrix(y)
    _same_rows(x, y)
    xc, yc = centre(x), centre(y)
    live = (
        int(np.count_nonzero(np.any(xc != 0, axis=0))),
        int(np.count_nonzero(np.any(yc != 0, axis=0))),
    )
    if min(live) == 0:
        warn(_reduction_notes(x.shape[1:] + y.shape[1:], live, live, x.shape[0]))
        return Similarity(float("nan"), *live, np.empty(0))
    if x.shape[1] + y.shape[1] <= 2 * x.shape[0]:
        cross = np.linalg.norm(yc.T @ xc) ** 2
        norm_x, norm_y = np.linalg.norm(xc.T @ xc), np.linalg.norm(yc.T @ yc)
    else:
        k, l_ = xc @ xc.T, yc @ yc.T
        cross = float(np.sum(k * l_))
        norm_x, norm_y = np.linalg.norm(k), np.linalg.norm(l_)
    return Similarity(float(cross / (norm_x * norm_y)), *live, np.empty(0))


def linear_cka(x: ArrayLike, y: ArrayLike) -> float:
    """Linear CKA similarity in [0, 1]; rows are examples (datapoints), columns are
    neurons."""
    return linear_cka_result(x, y).value


def live_features(x: np.ndarray) -> int:
    """Features of (N, features) x that are not constant across the rows."""
    return int(np.count_nonzero(np.ptp(x, axis=0)))


# --------------------------------------------------------------------------- layers
def as_layer(activation: np.ndarray) -> np.ndarray:
    """A layer as the measures take it: a dense layer (N, features) or a conv map
    (N, C, H, W) as it is; any other output (a sequence (N, T, D), a vector (N,)) flattened
    per example to (N, features)."""
    if activation.ndim in (2, 4):
        return activation
    return activation.reshape(activation.shape[0], -1)


def as_datapoints(activation: np.ndarray) -> np.ndarray:
    """(N, features) for a fully-connected layer; a conv map (N, C, H, W) becomes
    (N·H·W, C), every spatial position a datapoint (Raghu et al. 2017, §2.1)."""
    if activation.ndim == 2:
        return activation
    if activation.ndim == 4:
        n, c, h, w = activation.shape
        return activation.transpose(0, 2, 3, 1).reshape(n * h * w, c)
    raise ValueError(f"cannot compare activations of shape {activation.shape}")


def as_examples(activation: np.ndarray) -> np.ndarray:
    """(N, features) with every example's whole map flattened (CKA's convention)."""
    return activation.reshape(activation.shape[0], -1)


def _dft_similarity(
    a: np.ndarray,
    b: np.ndarray,
    keep: float | None,
    epsilon: float,
    device: str | torch.device,
    precision: str,
) -> Similarity:
    """DFT-(SV)CCA of two layers (`keep=None`: DFT-CCA). Two dense layers are 1 × 1 maps,
    whose only frequency is 0: SVCCA, or plain CCA without the SV step."""
    if a.ndim == 2 and b.ndim == 2:
        a, b = _as_matrix(a), _as_matrix(b)
        r = _cca_result(a, b, epsilon) if keep is None else _svcca_result(a, b, keep, epsilon)
        return Similarity(r.mean, r.dim_x, r.dim_y, r.rho)
    d = dft_cca_result(a, b, keep, epsilon, device, precision)
    coefficients = np.sort(d.coefficients[np.isfinite(d.coefficients)])[::-1]
    extras = {
        "per_frequency": d.per_frequency,
        "frequency_rows": d.grid.rows,
        "frequency_cols": d.grid.cols,
        "frequency_weight": d.grid.weight,
        "frequency_coefficients": d.coefficients,
    }
    return Similarity(d.value, d.dim_x, d.dim_y, coefficients, extras)


def layer_similarity(
    a: np.ndarray,
    b: np.ndarray,
    method: str = "svcca",
    keep: float = 0.99,
    epsilon: float = 1e-10,
    device: str | torch.device = "auto",
    precision: str = "mixed",
    minibatch_size: int = MINIBATCH_SIZE,
) -> Similarity:
    """Similarity of one layer's activations `a` and `b` (same probe rows) by `method`;
    rows are examples (datapoints): (N, features) or conv maps (N, C, H, W):

    - svcca, pwcca: conv maps with every spatial position a datapoint (Raghu et al.
      2017; Morcos et al. 2018); pwcca weights by `a`;
    - cka: linear CKA with each example's map flattened (Kornblith et al. 2019);
    - dft_svcca: conv maps through DFT-SVCCA, fully-connected layers through SVCCA;
    - dft_cca: conv maps through DFT-CCA (no SV step, `dft_cca`), fully-connected layers
      through CCA (a dense layer is a 1 × 1 map: its zero frequency);
    - cka_debiased, cka_minibatch (`minibatch_size` rows per batch), procrustes: each
      example's map flattened, as for cka.
    """
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"layers hold {a.shape[0]} and {b.shape[0]} datapoints")
    a, b = as_layer(a), as_layer(b)
    if method == "svcca":
        x, y = _as_matrix(as_datapoints(a)), _as_matrix(as_datapoints(b))
        r = _svcca_result(x, y, keep, epsilon)
        return Similarity(r.mean, r.dim_x, r.dim_y, r.rho)
    if method == "pwcca":
        x, y = _as_matrix(as_datapoints(a)), _as_matrix(as_datapoints(b))
        return _pwcca_result(x, y, epsilon)
    if method == "cka":
        return linear_cka_result(as_examples(a), as_examples(b))
    if method in EXAMPLE_MEASURES or method == "cka_minibatch":
        x, y = as_examples(a), as_examples(b)
        if method == "cka_minibatch":
            value = minibatch_cka(x, y, minibatch_size)
        else:
            value = EXAMPLE_MEASURES[method](x, y)
        return Similarity(value, live_features(x), live_features(y), np.empty(0))
    if method in ("dft_svcca", "dft_cca"):
        dft_keep = keep if method == "dft_svcca" else None
        return _dft_similarity(a, b, dft_keep, epsilon, device, precision)
    raise ValueError(f"unknown similarity method {method!r}; allowed values: {', '.join(METHODS)}")
