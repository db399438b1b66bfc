"""Representation similarity: CCA, SVCCA, PWCCA, linear CKA, and DFT-CCA for conv maps.

Inputs are activation matrices of shape (datapoints, features): row i of `x` and of `y` is
the same input seen by two layers (or one layer at two checkpoints). NumPy arrays and torch
tensors are accepted; every result is computed in float64.

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

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

ArrayLike = Any  # np.ndarray or torch.Tensor

METHODS = ("svcca", "pwcca", "cka", "dft_svcca", "dft_cca")


class DimensionWarning(RuntimeWarning):
    """Directions were dropped: constant or dependent neurons, or too few datapoints."""


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
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} datapoints but y has {y.shape[0]}")


def centre(x: np.ndarray) -> np.ndarray:
    """Subtract each feature's mean over the datapoints."""
    return x - x.mean(axis=0, keepdims=True)


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


def _warn(messages: list[str], stacklevel: int = 3) -> None:
    """One warning per call, listing every reduction made."""
    if messages:
        warnings.warn("; ".join(messages), DimensionWarning, stacklevel=stacklevel)


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
    _warn(_reduction_notes((x.shape[1], y.shape[1]), ranks, kept, n), stacklevel=4)
    qx, qy = ux[:, : kept[0]], uy[:, : kept[1]]
    # cosines of the principal angles between the two column spaces
    u, rho, _ = np.linalg.svd(qx.conj().T @ qy, full_matrices=False)
    k = min(kept)
    return _CCAParts(xc, qx, u[:, :k], np.clip(rho[:k], 0.0, 1.0)), kept[0], kept[1]


def cca_result(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> CCAResult:
    """Canonical correlations of x and y with the dimensions actually used."""
    parts, dx, dy = _cca_parts(_as_matrix(x), _as_matrix(y), epsilon)
    return CCAResult(parts.rho, dx, dy)


def cca(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> np.ndarray:
    """Canonical correlation coefficients of x and y, descending."""
    return cca_result(x, y, epsilon).rho


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


def svcca_result(
    x: ArrayLike, y: ArrayLike, keep: float = 0.99, epsilon: float = 1e-10
) -> CCAResult:
    """SVCCA (Raghu et al. 2017): SVD reduction keeping `keep` of the variance, then CCA."""
    x, y = _as_matrix(x), _as_matrix(y)
    return cca_result(svd_reduce(x, keep), svd_reduce(y, keep), epsilon)


def svcca(x: ArrayLike, y: ArrayLike, keep: float = 0.99, epsilon: float = 1e-10) -> float:
    """SVCCA similarity: the mean canonical correlation after SVD reduction."""
    return svcca_result(x, y, keep, epsilon).mean


# --------------------------------------------------------------------------- PWCCA
def pwcca_result(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> Similarity:
    """Projection-weighted CCA (Morcos et al. 2018, eq. 2): Σ_i α_i ρ_i with
    α_i ∝ Σ_j |⟨h_i, x_j⟩|, h_i the i-th canonical variate of x and x_j its centred neurons.

    The weights come from x, so PWCCA is not symmetric: pwcca(x, y) weighs by x and
    pwcca(y, x) by y (Morcos et al. weigh by the earlier or the reference network)."""
    parts, dx, dy = _cca_parts(_as_matrix(x), _as_matrix(y), epsilon)
    if parts.rho.size == 0:
        return Similarity(float("nan"), dx, dy, parts.rho, {"weights": parts.rho})
    h = parts.qx @ parts.u  # canonical variates of x, unit norm, (N, k)
    alpha = np.abs(h.conj().T @ parts.xc).sum(axis=1)  # Σ_j |⟨h_i, x_j⟩|
    alpha = alpha / alpha.sum()
    return Similarity(float(alpha @ parts.rho), dx, dy, parts.rho, {"weights": alpha})


def pwcca(x: ArrayLike, y: ArrayLike, epsilon: float = 1e-10) -> float:
    """PWCCA similarity of y to x (weights from x's neurons)."""
    return pwcca_result(x, y, epsilon).value


# --------------------------------------------------------------------------- CKA
def linear_cka_result(x: ArrayLike, y: ArrayLike) -> Similarity:
    """Linear CKA (Kornblith et al. 2019, eq. 5) of centred x, y:
    ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F), computed in feature space or, when the features
    outnumber the datapoints, through the n × n Gram matrices (tr(K L) = ‖Yᵀ X‖²_F).
    The dimensions recorded are the non-constant features."""
    x, y = _as_matrix(x), _as_matrix(y)
    _same_rows(x, y)
    xc, yc = centre(x), centre(y)
    live = (
        int(np.count_nonzero(np.any(xc != 0, axis=0))),
        int(np.count_nonzero(np.any(yc != 0, axis=0))),
    )
    if min(live) == 0:
        _warn(_reduction_notes(x.shape[1:] + y.shape[1:], live, live, x.shape[0]))
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
    """Linear CKA similarity in [0, 1]."""
    return linear_cka_result(x, y).value


# --------------------------------------------------------------------------- DFT-CCA
@dataclass(frozen=True)
class FrequencyGrid:
    """The spatial frequencies two conv maps are compared at, in the half-spectrum that a
    real input needs: X̂(−u, −v) = conj X̂(u, v) has the same canonical correlations as
    X̂(u, v), so each column v > 0 stands for two frequencies of the full spectrum.

    Maps of one size use the whole spectrum. Maps of different sizes use the low
    frequencies they share, |u| ≤ (h − 1)/2 and |v| ≤ (w − 1)/2 for the smaller h × w
    (the smaller map's Nyquist frequencies, aliased, are left out)."""

    rows: np.ndarray  # integer frequencies along H (cycles per map), fftfreq order
    cols: np.ndarray  # integer frequencies along W, 0, 1, … (the rfft half)
    weight: np.ndarray  # (rows, cols): frequencies of the full spectrum each entry stands for

    @property
    def size(self) -> int:
        return int(self.weight.sum())


def shared_frequencies(hw_x: tuple[int, int], hw_y: tuple[int, int]) -> FrequencyGrid:
    """The frequency grid for maps of spatial sizes hw_x and hw_y (see FrequencyGrid)."""
    if tuple(hw_x) == tuple(hw_y):
        h, w = hw_x
        rows = np.rint(np.fft.fftfreq(h, 1.0 / h)).astype(np.int64)
        cols = np.arange(w // 2 + 1)
        weight = np.full((h, cols.size), 2, dtype=np.int64)
        weight[:, 0] = 1
        if w % 2 == 0:
            weight[:, -1] = 1  # the Nyquist column is its own conjugate
        if w == 1:
            weight[:] = 1
        return FrequencyGrid(rows, cols, weight)
    a = (min(hw_x[0], hw_y[0]) - 1) // 2
    b = (min(hw_x[1], hw_y[1]) - 1) // 2
    rows = np.concatenate([np.arange(a + 1), np.arange(-a, 0)])
    cols = np.arange(b + 1)
    weight = np.full((rows.size, cols.size), 2, dtype=np.int64)
    weight[:, 0] = 1
    return FrequencyGrid(rows, cols, weight)


@dataclass
class DFTCCAResult:
    """DFT-CCA of two conv maps: the pooled value and everything per frequency."""

    value: float  # mean of all canonical correlations over the full shared spectrum
    grid: FrequencyGrid
    per_frequency: np.ndarray  # (rows, cols) mean canonical correlation at each frequency
    coefficients: np.ndarray  # (rows, cols, k) descending, NaN past each frequency's count
    dims_x: np.ndarray  # (rows, cols) directions kept at each frequency
    dims_y: np.ndarray

    @property
    def dim_x(self) -> int:
        """Directions of x kept over the full shared spectrum."""
        return int((self.grid.weight * self.dims_x).sum())

    @property
    def dim_y(self) -> int:
        return int((self.grid.weight * self.dims_y).sum())


class _Timer:
    """Wall time per named stage (synchronising CUDA), for the benchmark's breakdown."""

    def __init__(self, out: dict[str, float] | None, device: torch.device):
        self.out, self.device = out, device

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self.out is None:
            yield
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.out[stage] = self.out.get(stage, 0.0) + time.perf_counter() - start


@contextmanager
def _small_factorisations(device: torch.device) -> Iterator[None]:
    """Run the batched small (C × C) factorisations with one intra-op thread on the CPU:
    LAPACK's threading inside a 128 × 128 factorisation costs more in synchronisation than
    it gains, and on a busy machine it stalls."""
    if device.type != "cpu" or torch.get_num_threads() == 1:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _singular_values(m: torch.Tensor) -> torch.Tensor:
    """Singular values of each matrix, descending, as √eig(M Mᴴ) (or Mᴴ M, the smaller):
    a Hermitian eigenvalue problem is cheaper than an SVD, and ρ ≥ 1e-8 keeps full
    accuracy (δρ ≈ ε / 2ρ)."""
    if m.is_cuda and m.shape[-2] >= m.shape[-1]:
        # cuSOLVER's batched gesvda solves all frequencies in one call, where eigvalsh
        # solves matrices of this size one at a time (0.003 s vs 0.14 s for 136 × 128²).
        # It is approximate: keep its answer where Σσ² matches ‖M‖²_F, and solve the
        # rest (or all, if it fails, e.g. on zero matrices) as below.
        try:
            s = torch.linalg.svdvals(m, driver="gesvda")
        except torch.linalg.LinAlgError:
            return _singular_values_eigh(m)
        frobenius = (m.abs() ** 2).sum(dim=(-2, -1))
        bad = ((s**2).sum(-1) - frobenius).abs() > 1e-10 * frobenius.clamp_min(1.0)
        if bad.any():
            s[bad] = _singular_values_eigh(m[bad])
        return s
    return _singular_values_eigh(m)


def _singular_values_eigh(m: torch.Tensor) -> torch.Tensor:
    """Singular values as √eig of the smaller Gram matrix (see _singular_values)."""
    gram = m @ m.mH if m.shape[-2] <= m.shape[-1] else m.mH @ m
    lam = torch.linalg.eigvalsh(gram).flip(-1)
    return lam.clamp_min(0.0).sqrt()


def _as_maps(x: ArrayLike) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    if t.ndim == 2:
        t = t[:, :, None, None]  # features: a 1 × 1 map, only the zero frequency
    if t.ndim != 4:
        raise ValueError(
            f"expected conv maps (N, C, H, W) or features (N, F), got {tuple(t.shape)}"
        )
    return t


# Maps up to this many positions take the DFT as matrix products (see _spectrum).
DFT_AS_PRODUCT_MAX_POSITIONS = 1024


def _spectrum(x: torch.Tensor, grid: FrequencyGrid, dtype: torch.dtype) -> torch.Tensor:
    """Centred 2-D DFT of maps x (N, C, H, W) at the grid's frequencies, as real and
    imaginary planes (frequencies, 2, N, C): [:, 0] = Re X̂_f, [:, 1] = Im X̂_f, with the
    frequencies in column-major order (index k·rows + r for grid.cols[k], grid.rows[r]).

    Small maps take the separable DFT as two matrix products that write the planes
    straight into the layout of the covariance products: along W, Y(h, v) = Σ_w x e^{−iψ}
    (ψ = 2π v w/W, real input: only the grid's columns); along H, for every column,
    X̂(u, v) = Σ_h e^{−iφ} Y(h, v) (φ = 2π u h/H), i.e. Re X̂ = Σ cos φ Re Y + sin φ Im Y and
    Im X̂ = Σ −sin φ Re Y + cos φ Im Y. Larger maps take the real FFT and a transpose.
    Centring over the datapoints commutes with the DFT."""
    x = x.to(dtype)
    n, c, h, w = x.shape
    rows, cols = grid.rows.size, grid.cols.size
    if h * w <= DFT_AS_PRODUCT_MAX_POSITIONS:
        psi = 2 * np.pi * np.outer(grid.cols, np.arange(w)) / w  # (cols, W)
        along_w = torch.as_tensor(np.stack([np.cos(psi), -np.sin(psi)], 1), dtype=dtype)
        y = along_w.reshape(2 * cols, w).to(x.device) @ x.reshape(n * c * h, w).T
        y = y.view(cols, 2, n * c, h)  # Re and Im of Y for every column
        phi = 2 * np.pi * np.outer(grid.rows, np.arange(h)) / h  # (rows, H)
        cos, sin = np.cos(phi), np.sin(phi)
        on_re = np.stack([cos, -sin], 1).reshape(2 * rows, h)  # rows (r, Re/Im) of X̂
        on_im = np.stack([sin, cos], 1).reshape(2 * rows, h)
        on_re, on_im = (torch.as_tensor(m, dtype=dtype, device=x.device) for m in (on_re, on_im))
        planes = torch.bmm(on_re.expand(cols, -1, -1), y[:, 0].mT)  # (cols, 2·rows, N·C)
        planes.baddbmm_(on_im.expand(cols, -1, -1), y[:, 1].mT)
        planes = planes.view(-1, 2, n, c)
    else:
        spec = torch.fft.rfft2(x)  # (N, C, H, W//2 + 1)
        if rows != h:
            spec = spec[:, :, torch.as_tensor(grid.rows % h, device=x.device)]
        spec = torch.view_as_real(spec[..., :cols])  # (N, C, r, k, 2)
        planes = spec.permute(3, 2, 4, 0, 1).reshape(-1, 2, n, c).contiguous()
    planes -= planes.mean(dim=2, keepdim=True)
    return planes


def _complex_gram(zx: torch.Tensor, zy: torch.Tensor) -> torch.Tensor:
    """X̂ᴴ Ŷ per frequency (complex128) from the planes X̂ = A + iB, Ŷ = C + iD, in three
    real batched products instead of four:

    - Hermitian (zy is zx): Re = AᵀA + BᵀB, one product of the stacked [A; B];
      Im = AᵀB − (AᵀB)ᵀ;
    - cross (Gauss): P1 = AᵀC, P2 = BᵀD, P3 = (A + B)ᵀ(C − D); Re = P1 + P2,
      Im = AᵀD − BᵀC = P1 − P2 − P3.
    """
    a, b = zx[:, 0], zx[:, 1]
    if zy is zx:
        stacked = zx.flatten(1, 2)  # (F, 2N, C)
        real = (stacked.mT @ stacked).double()
        k = (a.mT @ b).double()
        return torch.complex(real, k - k.mT)
    c, d = zy[:, 0], zy[:, 1]
    p1, p2 = (a.mT @ c).double(), (b.mT @ d).double()
    p3 = ((a + b).mT @ (c - d)).double()
    return torch.complex(p1 + p2, p1 - p2 - p3)


def _whiten_cholesky(
    sxx: torch.Tensor, syy: torch.Tensor, sxy: torch.Tensor, tolerance: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """M = L_x⁻¹ Σ_xy L_y⁻ᴴ with Σ = L Lᴴ (Cholesky): the whitened cross-covariance whose
    singular values are the canonical correlations. Also the conditioning per frequency:
    min_j L_jj² / Σ_jj, the smallest fraction of a channel's variance not explained by
    the channels before it; 0 where a channel is dependent or numerically constant
    (variance ≤ tolerance · the largest channel's)."""
    lx, info_x = torch.linalg.cholesky_ex(sxx)
    ly, info_y = torch.linalg.cholesky_ex(syy)
    m = torch.linalg.solve_triangular(lx, sxy, upper=False)
    m = torch.linalg.solve_triangular(ly.mH, m, upper=True, left=False)

    def fraction(lower: torch.Tensor, s: torch.Tensor, info: torch.Tensor) -> torch.Tensor:
        d = s.diagonal(dim1=-2, dim2=-1).real
        live = d > tolerance * d.amax(dim=-1, keepdim=True)
        f = lower.diagonal(dim1=-2, dim2=-1).real ** 2 / torch.where(live, d, 1.0)
        f = torch.where(live, f, 0.0).amin(dim=-1)
        return torch.where(info == 0, torch.nan_to_num(f, nan=0.0), 0.0)

    return m, torch.minimum(fraction(lx, sxx, info_x), fraction(ly, syy, info_y))


def _whitening_eigh(
    s: torch.Tensor, keep: float | None, tolerance: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """W with Wᴴ Σ W = I on the kept principal directions (columns of W beyond a
    frequency's count are zero), and the count. Kept: eigenvalues above tolerance · λ_max
    and, with `keep`, the fewest top directions holding that fraction of the variance (the
    SV step of SVCCA: the principal directions of the data are Σ's eigenvectors)."""
    lam, vec = torch.linalg.eigh(s)  # ascending
    lam, vec = lam.flip(-1).clamp_min(0.0), vec.flip(-1)
    top = lam[..., :1]
    kept = lam > tolerance * top
    if keep is not None:
        frac = lam.cumsum(-1) / torch.where(top > 0, lam.sum(-1, keepdim=True), 1.0)
        before = torch.nn.functional.pad(frac[..., :-1], (1, 0))  # variance before each
        kept &= before < keep - 1e-12
    scale = torch.where(kept, lam.clamp_min(torch.finfo(lam.dtype).tiny).rsqrt(), 0.0)
    return vec * scale[..., None, :].to(vec.dtype), kept.sum(-1)


def _cap(
    w: torch.Tensor, count: torch.Tensor, limit: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep at most `limit` (per frequency) of the top whitened directions."""
    index = torch.arange(w.shape[-1], device=w.device)
    return w * (index < limit[..., None])[..., None, :].to(w.dtype), torch.minimum(count, limit)


def _canonical_correlations_eigh(
    sxx: torch.Tensor, syy: torch.Tensor, sxy: torch.Tensor, keep: float | None, tol: float, n: int
) -> tuple[torch.Tensor, ...]:
    """ρ per frequency by eigen-whitening, with thresholding, the SV step and the budget."""
    wx, dx = _whitening_eigh(sxx, keep, tol)
    wy, dy = _whitening_eigh(syy, keep, tol)
    budget = [
        direction_budget(int(a), int(b), n) for a, b in zip(dx.tolist(), dy.tolist(), strict=True)
    ]
    bx = torch.as_tensor([b[0] for b in budget], device=dx.device)
    by = torch.as_tensor([b[1] for b in budget], device=dy.device)
    wx, kx = _cap(wx, dx, bx)
    wy, ky = _cap(wy, dy, by)
    rho = _singular_values(wx.mH @ sxy @ wy)
    return rho, kx, ky, dx, dy


def dft_cca_result(
    x: ArrayLike,
    y: ArrayLike,
    keep: float | None = None,
    epsilon: float = 1e-10,
    device: str | torch.device = "auto",
    precision: str = "mixed",
    timings: dict[str, float] | None = None,
) -> DFTCCAResult:
    """DFT-CCA of conv maps x (N, Cx, Hx, Wx) and y (N, Cy, Hy, Wy), batched over all
    frequencies of the shared real-input half-spectrum (see FrequencyGrid).

    Per frequency f the features are the C complex Fourier coefficients X̂_f (N × C):
    Σ_xx = X̂_fᴴ X̂_f etc. come from one batched real product, and the canonical
    correlations are the singular values of L_x⁻¹ Σ_xy L_y⁻ᴴ (Cholesky whitening). With
    `keep`, each side is first reduced to the principal directions holding that fraction
    of its variance at that frequency (SVCCA). Frequencies with constant or dependent
    channels, or with more directions than the datapoints hold, are whitened on their
    kept eigen-directions instead.

    `precision="mixed"` computes the FFT and the covariance products in float32 and every
    factorisation in float64; frequencies whose channels are nearly dependent (where the
    float32 products would lose accuracy) are recomputed with float64 products.
    `precision="float64"` uses float64 throughout. `timings` (a dict) accumulates the
    seconds spent in fft, covariances, whitening and svd (and, for mixed precision, counts
    the frequencies redone in float64)."""
    from closerlook.device import resolve

    if precision not in ("mixed", "float64"):
        raise ValueError(f"precision is {precision!r}; allowed values: 'mixed', 'float64'")
    dev = resolve(device) if isinstance(device, str) else device
    timer = _Timer(timings, dev)
    xt, yt = _as_maps(x).to(dev), _as_maps(y).to(dev)
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(f"x has {xt.shape[0]} datapoints but y has {yt.shape[0]}")
    n, cx, cy = xt.shape[0], xt.shape[1], yt.shape[1]
    grid = shared_frequencies(tuple(xt.shape[2:]), tuple(yt.shape[2:]))
    spectrum_dtype = torch.float32 if precision == "mixed" else torch.float64

    # Cholesky whitening unless the SV step or the datapoint budget needs eigen-directions
    cholesky = keep is None and cx + cy <= n - 1
    with timer("fft"):
        zx, zy = _spectrum(xt, grid, spectrum_dtype), _spectrum(yt, grid, spectrum_dtype)
    with timer("covariances"):
        if not cholesky:  # eigen-whitening thresholds need float64 products
            zx, zy = zx.double(), zy.double()
        sxx, syy, sxy = _complex_gram(zx, zx), _complex_gram(zy, zy), _complex_gram(zx, zy)
    f, k = sxx.shape[0], min(cx, cy)
    rho = torch.zeros(f, k, dtype=torch.float64, device=dev)
    dims_x = torch.full((f,), cx, device=dev)
    dims_y = torch.full((f,), cy, device=dev)
    ranks_x, ranks_y = dims_x.clone(), dims_y.clone()

    # eigenvalues (variances) at or below tol · the largest are numerically zero
    tol = max(epsilon**2, 1e3 * max(cx, cy) * torch.finfo(torch.float64).eps)
    eigen = torch.ones(f, dtype=torch.bool, device=dev)
    if cholesky:
        with timer("whitening"), _small_factorisations(dev):
            m, fraction = _whiten_cholesky(sxx, syy, sxy, tol)
        if zx.dtype == torch.float32:  # nearly dependent channels: float64 products there
            redo = (fraction < 1e-2).nonzero().squeeze(1)
            if timings is not None:
                timings["frequencies_redone_in_float64"] = float(redo.numel())
            if redo.numel():
                with timer("covariances"):
                    ax, ay = zx[redo].double(), zy[redo].double()
                    sxx[redo], syy[redo] = _complex_gram(ax, ax), _complex_gram(ay, ay)
                    sxy[redo] = _complex_gram(ax, ay)
                with timer("whitening"), _small_factorisations(dev):
                    m[redo], fraction[redo] = _whiten_cholesky(sxx[redo], syy[redo], sxy[redo], tol)
        eigen = fraction < 1e-8  # dependent or constant channels: solved below instead
        with timer("svd"), _small_factorisations(dev):
            rho = _singular_values(torch.where(eigen[:, None, None], 0, m))
    if eigen.any():
        idx = eigen.nonzero().squeeze(1)
        with timer("whitening"), _small_factorisations(dev):
            r, kx, ky, rx, ry = _canonical_correlations_eigh(
                sxx[idx], syy[idx], sxy[idx], keep, tol, n
            )
        rho[idx] = r
        dims_x[idx], dims_y[idx], ranks_x[idx], ranks_y[idx] = kx, ky, rx, ry
    count = torch.minimum(dims_x, dims_y)
    rho = rho.clamp(0.0, 1.0)
    valid = torch.arange(k, device=dev) < count[:, None]
    rho = torch.where(valid, rho, torch.nan).cpu().numpy()
    count, dims_x, dims_y = count.cpu().numpy(), dims_x.cpu().numpy(), dims_y.cpu().numpy()
    ranks_x, ranks_y = ranks_x.cpu().numpy(), ranks_y.cpu().numpy()

    shape = grid.weight.shape

    def on_grid(a: np.ndarray) -> np.ndarray:  # column-major frequencies -> (rows, cols, …)
        return a.reshape(shape[1], shape[0], *a.shape[1:]).swapaxes(0, 1)

    w = grid.weight.T.reshape(-1)
    total = float((w * np.nansum(rho, axis=1)).sum())
    pairs = float((w * count).sum())
    value = total / pairs if pairs else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        per_freq = np.where(count > 0, np.nansum(rho, axis=1) / np.maximum(count, 1), np.nan)
    notes = []
    if keep is None:
        for side, c, r in (("x", cx, ranks_x), ("y", cy, ranks_y)):
            low = r < c
            if low.any():
                notes.append(
                    f"{side}: constant or dependent channels (or too few datapoints) at "
                    f"{int(low.sum())} of {f} frequencies (down to {int(r.min())} of {c} "
                    "dimensions)"
                )
    capped = (dims_x < ranks_x) | (dims_y < ranks_y)
    if capped.any():
        notes.append(
            f"at {int(capped.sum())} of {f} frequencies the two sides have more dimensions "
            f"than {n} centred datapoints hold; kept the top ones by variance"
        )
    if not pairs:
        notes.append("no direction is left at any frequency: similarity undefined (NaN)")
    _warn(notes)
    return DFTCCAResult(
        value,
        grid,
        on_grid(per_freq),
        on_grid(rho),
        on_grid(dims_x),
        on_grid(dims_y),
    )


def dft_svcca(
    x: ArrayLike,
    y: ArrayLike,
    keep: float | None = 0.99,
    epsilon: float = 1e-10,
    device: str | torch.device = "auto",
    precision: str = "mixed",
) -> tuple[float, np.ndarray]:
    """DFT-SVCCA of conv maps (Raghu et al. 2017, §3.1): the overall similarity and the
    per-frequency values on the grid of `shared_frequencies`. `keep=None` is plain CCA at
    every frequency (DFT-CCA)."""
    r = dft_cca_result(x, y, keep, epsilon, device, precision)
    return r.value, r.per_frequency


def dft_cca(
    x: ArrayLike,
    y: ArrayLike,
    epsilon: float = 1e-10,
    device: str | torch.device = "auto",
    precision: str = "mixed",
) -> tuple[float, np.ndarray]:
    """DFT-CCA of conv maps (Raghu et al. 2017, §3.1; google/svcca `fourier_ccas`, as in
    Gotmare et al. 2019): CCA at every spatial frequency on the full channel space, no SV
    step, pooled like `dft_svcca` (the mean of all canonical correlations over the shared
    spectrum). Rank-deficient channel spaces (dead or dependent channels, channels constant
    in space at f ≠ 0, more channels than datapoints) are not regularised with a ridge as
    in google's cca_core: the directions of variance ≤ tol · λ_max are dropped (a
    pseudo-inverse whitening) and the two sides are capped to the N − 1 dimensions of
    centred data (`direction_budget`), with one DimensionWarning. Returns the value and
    the per-frequency values on the grid of `shared_frequencies`."""
    r = dft_cca_result(x, y, None, epsilon, device, precision)
    return r.value, r.per_frequency


# --------------------------------------------------------------------------- layers
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
        r = cca_result(a, b, epsilon) if keep is None else svcca_result(a, b, keep, epsilon)
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
) -> Similarity:
    """Similarity of one layer's activations `a` and `b` (same probe rows) by `method`:

    - svcca, pwcca: conv maps with every spatial position a datapoint (Raghu et al.
      2017; Morcos et al. 2018); pwcca weights by `a`;
    - cka: linear CKA with each example's map flattened (Kornblith et al. 2019);
    - dft_svcca: conv maps through DFT-SVCCA, fully-connected layers through SVCCA;
    - dft_cca: conv maps through DFT-CCA (no SV step, `dft_cca`), fully-connected layers
      through CCA (a dense layer is a 1 × 1 map: its zero frequency).
    """
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"layers hold {a.shape[0]} and {b.shape[0]} datapoints")
    if method == "svcca":
        r = svcca_result(as_datapoints(a), as_datapoints(b), keep, epsilon)
        return Similarity(r.mean, r.dim_x, r.dim_y, r.rho)
    if method == "pwcca":
        return pwcca_result(as_datapoints(a), as_datapoints(b), epsilon)
    if method == "cka":
        return linear_cka_result(as_examples(a), as_examples(b))
    if method in ("dft_svcca", "dft_cca"):
        dft_keep = keep if method == "dft_svcca" else None
        return _dft_similarity(a, b, dft_keep, epsilon, device, precision)
    raise ValueError(f"unknown similarity method {method!r}; allowed values: {', '.join(METHODS)}")
