"""The loss plane (Garipov et al. 2018, §4.1): the affine plane through the two endpoints of a
curve and its middle bend, with orthonormal axes, and the grid it is evaluated on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Plane:
    """The affine plane origin + x·u + y·v with orthonormal u, v (float64)."""

    origin: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor

    @classmethod
    def through(cls, w_a: torch.Tensor, w_b: torch.Tensor, theta: torch.Tensor) -> Plane:
        """Gram–Schmidt: u along w_b − w_a, v the part of θ − w_a orthogonal to u
        (Garipov et al. §4.1: the plane of the two endpoints and the middle bend)."""
        a, b, c = (x.detach().double().cpu() for x in (w_a, w_b, theta))
        u = b - a
        if u.norm() == 0:
            raise ValueError("the endpoints coincide; they span no plane")
        u = u / u.norm()
        v = (c - a) - torch.dot(c - a, u) * u
        if v.norm() <= 1e-12 * max(1.0, (c - a).norm().item()):
            raise ValueError("θ lies on the line through the endpoints; they span no plane")
        return cls(a, u, v / v.norm())

    def coordinates(self, w: torch.Tensor) -> tuple[float, float, float]:
        """(x, y, distance from the plane) of the orthogonal projection of `w`."""
        d = w.detach().double().cpu() - self.origin
        x, y = torch.dot(d, self.u).item(), torch.dot(d, self.v).item()
        residual = (d - x * self.u - y * self.v).norm().item()
        return x, y, residual

    def point(self, x: float, y: float) -> torch.Tensor:
        """origin + x·u + y·v, as float32."""
        return (self.origin + x * self.u + y * self.v).float()


def plane_grid(points_xy: np.ndarray, size: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """`size` evenly spaced x and y values covering `points_xy` (K, 2), widened on every
    side by `margin` times the extent along that axis."""
    lo, hi = points_xy.min(axis=0), points_xy.max(axis=0)
    pad = margin * (hi - lo)
    return (
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], size),
        np.linspace(lo[1] - pad[1], hi[1] + pad[1], size),
    )
