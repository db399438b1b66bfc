"""DFT-CCA (Raghu et al. 2017, §3.1): the CCA of conv maps (N, C, H, W), one CCA per
spatial frequency.

If the statistics are translation invariant, the covariance of the spatially flattened
maps is block diagonal in the 2-D Fourier basis, so the CCA of the whole map splits into
one CCA per spatial frequency (datapoints N, features C). All frequencies are solved at
once as batched linear algebra in torch, on CUDA when it is there. `dft_svcca` applies the
SV step at every frequency first; `dft_cca` does not (google/svcca's `fourier_ccas`, which
Gotmare et al. 2019 used), so it is invariant to any invertible linear map of the
channels. Directions are kept as in closerlook.similarity (closerlook.dimensions).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from closerlook.device import single_thread
from closerlook.dft import FrequencyGrid, as_maps, complex_gram, shared_frequencies, spectrum
from closerlook.dimensions import direction_budget, warn

ArrayLike = Any  # np.ndarray or torch.Tensor


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


@contextmanager
def _small_factorisations(device: torch.device) -> Iterator[None]:
    """Run the batched small (C × C) factorisations with one intra-op thread on the CPU:
    LAPACK's threading inside a 128 × 128 factorisation costs more in synchronisation than
    it gains, and on a busy machine it stalls."""
    if device.type != "cpu":
        yield
        return
    with single_thread():
        yield


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
) -> DFTCCAResult:
    """DFT-CCA of conv maps x (N, Cx, Hx, Wx) and y (N, Cy, Hy, Wy), batched over all
    frequencies of the shared real-input half-spectrum (see FrequencyGrid), in named steps:
    spectra → covariances → correlations (Cholesky whitening, then eigen-whitening where
    that is needed) → pooled.

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
    `precision="float64"` uses float64 throughout."""
    zx, zy, grid = spectra(x, y, device, precision)
    n, cx, cy = zx.shape[2], zx.shape[3], zy.shape[3]
    cholesky = keep is None and cx + cy <= n - 1  # else eigen-directions are needed
    if not cholesky:  # eigen-whitening thresholds need float64 products
        zx, zy = row_space(zx.double()), row_space(zy.double())
    cov = covariances(zx, zy, epsilon, features=(cx, cy))
    c = Correlations.empty(cov, cx, cy)
    eigen = cholesky_correlations(c, cov, zx, zy) if cholesky else c.everywhere()
    eigen_correlations(c, cov, eigen, keep, n)
    return pooled(c, grid, keep, n)


def row_space(z: torch.Tensor) -> torch.Tensor:
    """Planes (F, 2, N, C) with more channels than datapoints (C > N) in coordinates of
    their row space: Ẑ Q, with Q (C × N) an orthonormal basis of the rows of Ẑ (thin QR
    of Ẑᴴ). Ẑ = (Ẑ Q) Qᴴ, so the column space (all that CCA sees) and the non-zero
    eigenvalues of Σ = ẐᴴẐ (what the thresholds and the SV step see) are unchanged and
    only C − N zero eigenvalues go: exact, at F·C·N² work instead of F·C³."""
    if z.shape[-1] <= z.shape[-2]:
        return z
    complex_z = torch.complex(z[:, 0], z[:, 1])  # (F, N, C)
    q, _ = torch.linalg.qr(complex_z.mH)  # (F, C, N)
    reduced = complex_z @ q
    return torch.stack([reduced.real, reduced.imag], 1).contiguous()


@dataclass
class Covariances:
    """Σ_xx, Σ_yy, Σ_xy per frequency (complex128), and the tolerance below which an
    eigenvalue (a variance) counts as zero: tol · the largest."""

    sxx: torch.Tensor
    syy: torch.Tensor
    sxy: torch.Tensor
    tol: float


@dataclass
class Correlations:
    """Canonical correlations per frequency (F, min(Cx, Cy)), the directions each side
    kept and each side's numerical rank."""

    rho: torch.Tensor
    dims_x: torch.Tensor
    dims_y: torch.Tensor
    ranks_x: torch.Tensor
    ranks_y: torch.Tensor
    features: tuple[int, int]  # (Cx, Cy)
    redone_in_float64: int = 0

    @classmethod
    def empty(cls, cov: Covariances, cx: int, cy: int) -> Correlations:
        f, dev = cov.sxx.shape[0], cov.sxx.device
        dims_x, dims_y = torch.full((f,), cx, device=dev), torch.full((f,), cy, device=dev)
        rho = torch.zeros(f, min(cx, cy), dtype=torch.float64, device=dev)
        return cls(rho, dims_x, dims_y, dims_x.clone(), dims_y.clone(), (cx, cy))

    def everywhere(self) -> torch.Tensor:
        return torch.ones_like(self.dims_x, dtype=torch.bool)


def spectra(
    x: ArrayLike, y: ArrayLike, device: str | torch.device, precision: str
) -> tuple[torch.Tensor, torch.Tensor, FrequencyGrid]:
    """Both sides' centred spectra on the device (float32 for mixed precision, else
    float64) at the frequencies they share."""
    from closerlook.device import resolve

    if precision not in ("mixed", "float64"):
        raise ValueError(f"precision is {precision!r}; allowed values: 'mixed', 'float64'")
    dev = resolve(device) if isinstance(device, str) else device
    xt, yt = as_maps(x).to(dev), as_maps(y).to(dev)
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(f"x has {xt.shape[0]} datapoints but y has {yt.shape[0]}")
    grid = shared_frequencies(tuple(xt.shape[2:]), tuple(yt.shape[2:]))
    dtype = torch.float32 if precision == "mixed" else torch.float64
    return spectrum(xt, grid, dtype), spectrum(yt, grid, dtype), grid


def covariances(
    zx: torch.Tensor,
    zy: torch.Tensor,
    epsilon: float = 1e-10,
    features: tuple[int, int] | None = None,
) -> Covariances:
    """The (cross-)covariances of the spectra, with the zero-variance tolerance (which
    grows with the channels of the maps, `features` where the spectra were reduced)."""
    cx, cy = features or (zx.shape[-1], zy.shape[-1])
    tol = max(epsilon**2, 1e3 * max(cx, cy) * torch.finfo(torch.float64).eps)
    return Covariances(complex_gram(zx, zx), complex_gram(zy, zy), complex_gram(zx, zy), tol)


def cholesky_correlations(
    c: Correlations, cov: Covariances, zx: torch.Tensor, zy: torch.Tensor
) -> torch.Tensor:
    """ρ by Cholesky whitening into `c`; frequencies with nearly dependent channels are
    first redone with float64 products (mixed precision). Returns the frequencies left
    for eigen-whitening (dependent or constant channels)."""
    with _small_factorisations(cov.sxx.device):
        m, fraction = _whiten_cholesky(cov.sxx, cov.syy, cov.sxy, cov.tol)
    if zx.dtype == torch.float32:
        redo = (fraction < 1e-2).nonzero().squeeze(1)
        c.redone_in_float64 = int(redo.numel())
        if redo.numel():
            ax, ay = zx[redo].double(), zy[redo].double()
            sxx, syy, sxy = complex_gram(ax, ax), complex_gram(ay, ay), complex_gram(ax, ay)
            cov.sxx[redo], cov.syy[redo], cov.sxy[redo] = sxx, syy, sxy
            with _small_factorisations(cov.sxx.device):
                m[redo], fraction[redo] = _whiten_cholesky(sxx, syy, sxy, cov.tol)
    eigen = fraction < 1e-8
    with _small_factorisations(cov.sxx.device):
        c.rho = _singular_values(torch.where(eigen[:, None, None], 0, m))
    return eigen


def eigen_correlations(
    c: Correlations, cov: Covariances, where: torch.Tensor, keep: float | None, n: int
) -> None:
    """ρ by eigen-whitening, with thresholding, the SV step and the budget, into `c` at
    the frequencies `where`."""
    if not where.any():
        return
    idx = where.nonzero().squeeze(1)
    with _small_factorisations(cov.sxx.device):
        r, kx, ky, rx, ry = _canonical_correlations_eigh(
            cov.sxx[idx], cov.syy[idx], cov.sxy[idx], keep, cov.tol, n
        )
    c.rho[idx, : r.shape[1]] = r  # fewer columns where row_space reduced the channels
    c.dims_x[idx], c.dims_y[idx], c.ranks_x[idx], c.ranks_y[idx] = kx, ky, rx, ry


def pooled(c: Correlations, grid: FrequencyGrid, keep: float | None, n: int) -> DFTCCAResult:
    """The mean of all canonical correlations over the full shared spectrum (each stored
    frequency weighted by how often it occurs), per frequency on the grid, with one
    DimensionWarning listing every reduction made."""
    count = torch.minimum(c.dims_x, c.dims_y)
    valid = torch.arange(c.rho.shape[1], device=c.rho.device) < count[:, None]
    rho = torch.where(valid, c.rho.clamp(0.0, 1.0), torch.nan).cpu().numpy()
    count, dims_x, dims_y = (t.cpu().numpy() for t in (count, c.dims_x, c.dims_y))
    w = grid.weight.T.reshape(-1)
    pairs = float((w * count).sum())
    value = float((w * np.nansum(rho, axis=1)).sum()) / pairs if pairs else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        per_freq = np.where(count > 0, np.nansum(rho, axis=1) / np.maximum(count, 1), np.nan)
    warn(_notes(c, dims_x, dims_y, keep, n, pairs))
    shape = grid.weight.shape

    def on_grid(a: np.ndarray) -> np.ndarray:  # column-major frequencies -> (rows, cols, …)
        return a.reshape(shape[1], shape[0], *a.shape[1:]).swapaxes(0, 1)

    return DFTCCAResult(
        value, grid, on_grid(per_freq), on_grid(rho), on_grid(dims_x), on_grid(dims_y)
    )


def _notes(
    c: Correlations, dims_x: np.ndarray, dims_y: np.ndarray, keep: float | None, n: int,
    pairs: float,
) -> list[str]:  # fmt: skip
    """The reductions made, for the one DimensionWarning (dims_*: `c`'s, on the CPU)."""
    f = c.rho.shape[0]
    ranks_x, ranks_y = c.ranks_x.cpu().numpy(), c.ranks_y.cpu().numpy()
    notes = []
    if keep is None:
        for side, full, r in (("x", c.features[0], ranks_x), ("y", c.features[1], ranks_y)):
            low = r < full
            if low.any():
                notes.append(
                    f"{side}: constant or dependent channels (or too few datapoints) at "
                    f"{int(low.sum())} of {f} frequencies (down to {int(r.min())} of {full} "
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
    return notes


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
