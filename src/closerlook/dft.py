"""The Fourier side of DFT-CCA (Raghu et al. 2017, §3.1): the spatial frequencies two conv
maps share, their centred 2-D DFT at those frequencies, and the complex covariances of the
Fourier coefficients per frequency, all batched in torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

ArrayLike = Any  # np.ndarray or torch.Tensor


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


def as_maps(x: ArrayLike) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    if t.ndim == 2:
        t = t[:, :, None, None]  # features: a 1 × 1 map, only the zero frequency
    if t.ndim != 4:
        raise ValueError(
            f"expected conv maps (N, C, H, W) or features (N, F), got {tuple(t.shape)}"
        )
    return t


# Maps up to this many positions take the DFT as matrix products (see spectrum).
DFT_AS_PRODUCT_MAX_POSITIONS = 1024


def spectrum(x: torch.Tensor, grid: FrequencyGrid, dtype: torch.dtype) -> torch.Tensor:
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


def complex_gram(zx: torch.Tensor, zy: torch.Tensor) -> torch.Tensor:
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
