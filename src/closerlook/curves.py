"""Mode connectivity: curves of low loss between two optima (Garipov et al., NeurIPS 2018).

A curve in weight space is a weighted sum of bends θ_0 … θ_{n−1}, endpoints included,

    w(t) = Σ_k c_k(t) · θ_k,    t ∈ [0, 1],    θ_0 = w_a,  θ_{n−1} = w_b,

with coefficients c_k(t) that select w_a at t = 0 and w_b at t = 1:

- Bezier curve: the Bernstein polynomials c_k(t) = C(n−1, k) t^k (1 − t)^(n−1−k)
  (Garipov et al. eq. 3 for n = 3: (1−t)² w_a + 2t(1−t) θ + t² w_b);
- polygonal chain (PolyChain): piecewise-linear hat functions with knots at k/(n−1), so
  the curve visits every bend (eq. 2 for one bend: a broken line w_a → θ → w_b).

The endpoints are fixed; the interior bends are trained to minimise the expected loss
E_{t∼U(0,1)} L(w(t)) (eq. 4), drawing one t per batch. The network never changes shape:
`torch.func.functional_call` runs the ordinary model with the weights w(t), so every
architecture gets a curve for free. Weights are handled as one flat vector in the order
of `net.named_parameters()`; BatchNorm running statistics are not on the curve, they are
recomputed from training data at every evaluated t (Garipov et al. §3.3).

The bends are trained by closerlook.curve_fit and evaluated by closerlook.curve_eval; the
evaluation is written to the curve file of closerlook.curve_file.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from closerlook import models
from closerlook.checkpoints import model_from_checkpoint
from closerlook.models import LayeredNet
from closerlook.provenance import atomic_path, load_sealed, seal

log = logging.getLogger("closerlook.curves")

KIND = "curve"  # the bends checkpoint's kind (and its curve file's: closerlook.curve_file)


# ------------------------------------------------------------------------- coefficients
def bezier_coefficients(t: float | torch.Tensor, n_bends: int) -> torch.Tensor:
    """Bernstein polynomials b_{k,n−1}(t) = C(n−1, k) t^k (1−t)^(n−1−k), k = 0 … n−1."""
    if n_bends < 2:
        raise ValueError(f"a curve needs at least 2 bends (its endpoints), not {n_bends}")
    t = torch.as_tensor(t, dtype=torch.float64).reshape(())
    degree = n_bends - 1
    k = torch.arange(n_bends, dtype=torch.float64)
    binom = torch.tensor([math.comb(degree, int(i)) for i in k], dtype=torch.float64)
    return (binom * t**k * (1 - t) ** (degree - k)).float()


def polychain_coefficients(t: float | torch.Tensor, n_bends: int) -> torch.Tensor:
    """Hat functions max(0, 1 − |(n−1)t − k|): linear interpolation between the two bends
    whose knots k/(n−1) enclose t."""
    if n_bends < 2:
        raise ValueError(f"a curve needs at least 2 bends (its endpoints), not {n_bends}")
    t = torch.as_tensor(t, dtype=torch.float64).reshape(())
    k = torch.arange(n_bends, dtype=torch.float64)
    return torch.clamp(1 - torch.abs((n_bends - 1) * t - k), min=0).float()


COEFFICIENTS: dict[str, Callable[[float | torch.Tensor, int], torch.Tensor]] = {
    "bezier": bezier_coefficients,
    "polychain": polychain_coefficients,
}


# ------------------------------------------------------------------------- flat weights
def flat_parameters(net: nn.Module) -> torch.Tensor:
    """All parameters of `net` as one vector, in `named_parameters()` order."""
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


@torch.no_grad()
def load_flat_parameters(net: nn.Module, flat: torch.Tensor) -> None:
    """Copy a flat weight vector into the parameters of `net` (inverse of flat_parameters)."""
    offset = 0
    for p in net.parameters():
        p.copy_(flat[offset : offset + p.numel()].view_as(p))
        offset += p.numel()
    if offset != flat.numel():
        raise ValueError(f"weight vector has {flat.numel()} entries, the network {offset}")


def unflatten(net: nn.Module, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """A flat weight vector as {parameter name: view of the right shape} (differentiable)."""
    named = list(net.named_parameters())
    pieces = flat.split([p.numel() for _, p in named])
    return {name: piece.view(p.shape) for (name, p), piece in zip(named, pieces, strict=True)}


def segment(start: torch.Tensor, end: torch.Tensor, t: float) -> torch.Tensor:
    """The point (1 − t)·start + t·end of the straight line."""
    return torch.lerp(start, end, t)


# ------------------------------------------------------------------------- the curve
@dataclass
class Curve:
    """w(t) = Σ_k c_k(t) θ_k between fixed endpoints `start` (t = 0) and `end` (t = 1).

    `net` supplies the architecture and the BatchNorm buffers; its own parameters are not
    on the curve. `interior` holds the n_bends − 2 trainable bends, one flat row each.
    """

    net: LayeredNet
    kind: str
    start: torch.Tensor  # (P,)
    end: torch.Tensor  # (P,)
    interior: torch.Tensor  # (n_bends − 2, P), requires grad

    def __post_init__(self) -> None:
        if self.kind not in COEFFICIENTS:
            raise ValueError(f"curve kind is {self.kind!r}; allowed: {', '.join(COEFFICIENTS)}")
        self.interior.requires_grad_(True)

    @classmethod
    def on_segment(
        cls, net: LayeredNet, start: torch.Tensor, end: torch.Tensor, kind: str, n_bends: int
    ) -> Curve:
        """Interior bends initialised on the line, θ_k = w_a + k/(n−1)·(w_b − w_a). With
        these bends both curve kinds coincide with the straight line (linear precision)."""
        if n_bends < 3:
            raise ValueError(f"n_bends must be at least 3 (one interior bend), not {n_bends}")
        start, end = start.detach().clone(), end.detach().clone()
        interior = torch.stack(
            [segment(start, end, k / (n_bends - 1)) for k in range(1, n_bends - 1)]
        )
        return cls(net, kind, start, end, interior)

    @property
    def n_bends(self) -> int:
        return self.interior.shape[0] + 2

    def bends(self) -> torch.Tensor:
        """All bends θ_0 … θ_{n−1} as rows, endpoints included (detached)."""
        return torch.cat([self.start[None], self.interior.detach(), self.end[None]])

    def middle_bend(self) -> torch.Tensor:
        """θ of the loss plane: the interior bend in the middle of the chain."""
        return self.interior.detach()[(self.n_bends - 2) // 2]

    def coefficients(self, t: float | torch.Tensor) -> torch.Tensor:
        return COEFFICIENTS[self.kind](t, self.n_bends).to(self.start.device)

    def flat_weights(self, t: float | torch.Tensor) -> torch.Tensor:
        """w(t) as a flat vector; differentiable with respect to the interior bends."""
        c = self.coefficients(t)
        return c[0] * self.start + c[-1] * self.end + c[1:-1] @ self.interior

    def __call__(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The network's output at w(t)."""
        return functional_call(self.net, unflatten(self.net, self.flat_weights(t)), (x,))

    def to(self, dev: torch.device | str) -> Curve:
        self.net.to(dev)
        self.start, self.end = self.start.to(dev), self.end.to(dev)
        self.interior = self.interior.detach().to(dev).requires_grad_(True)
        return self


def curve_from_checkpoints(
    ckpt_a: Mapping[str, Any], ckpt_b: Mapping[str, Any], kind: str, n_bends: int
) -> Curve:
    """A curve between the networks of two training checkpoints, bends on the segment."""
    for key in ("model_spec", "in_shape", "num_classes"):
        if ckpt_a[key] != ckpt_b[key]:
            raise ValueError(
                f"the endpoints differ in {key} ({ckpt_a[key]!r} vs {ckpt_b[key]!r}); "
                f"a curve needs two networks of the same architecture"
            )
    net_a, net_b = model_from_checkpoint(ckpt_a), model_from_checkpoint(ckpt_b)
    return Curve.on_segment(net_a, flat_parameters(net_a), flat_parameters(net_b), kind, n_bends)


# ------------------------------------------------------------------------- the bends file
def save_curve(
    curve: Curve, path: str | Path, meta: Mapping[str, Any], history: Mapping[str, list]
) -> None:
    """The fitted bends as a sealed checkpoint of their own (with the endpoints'
    architecture in `meta`) and the fit's per-epoch `history`."""
    named = list(curve.net.named_parameters())
    obj = {
        "kind": KIND,
        "curve_kind": curve.kind,
        "n_bends": curve.n_bends,
        "bends": curve.bends().cpu(),
        "parameter_names": [n for n, _ in named],
        "parameter_shapes": [list(p.shape) for _, p in named],
        "history": dict(history),
        **meta,
    }
    with atomic_path(path) as tmp:
        torch.save(seal(obj), tmp)


def load_curve(path: str | Path) -> tuple[Curve, dict[str, Any]]:
    """The curve a file written by :func:`save_curve` holds, on the CPU, and the raw dict
    (a truncated or altered file raises :class:`closerlook.provenance.IntegrityError`)."""
    obj = load_sealed(path)
    if obj.get("kind") != KIND:
        raise ValueError(f"{path}: not a curve checkpoint (kind {obj.get('kind')!r})")
    net = models.build(obj["model_spec"], tuple(obj["in_shape"]), obj["num_classes"])
    bends = obj["bends"]
    return Curve(net, obj["curve_kind"], bends[0], bends[-1], bends[1:-1].clone()), obj
