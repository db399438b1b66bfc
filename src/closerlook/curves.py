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

The evaluations the study draws (Gotmare et al. 2019, Figures 2 and 3): loss and accuracy
along the straight line and along the curve, the barrier height of each path, and the loss
over the plane through {w_a, w_b, θ} with the run's saved iterates projected onto it.

Layout of a curve file (`results/{preset}/curves/{curve}.h5`)::

    /                 attrs: kind="curve", curve, curve_kind, n_bends, run_a, epoch_a,
                      run_b, epoch_b, both endpoint checkpoints' paths and SHA-256, the
                      bends checkpoint's path and SHA-256, config hashes, versions, time
    /t                (T,) evaluation points, 0 and 1 included
    /line/<metric>    (T,) train_loss, train_acc, val_loss, val_acc along the straight line
                      (val: the held-out split, CIFAR-10's test batch); attrs barrier_*
    /curve/<metric>   (T,) the same along the fitted curve
    /bends            (n_bends, P) the bends as flat weight vectors, endpoints included;
                      attrs parameter_names, parameter_shapes (the order of the vector)
    /fit/<column>     per-epoch history of curve training (epoch, train_loss, ...)
    /plane/x, /y      grid coordinates along the orthonormal u (towards w_b) and v
    /plane/<metric>   (len(x), len(y)) loss and accuracy over the grid, indexed [x, y]
    /plane/bends_xyz, curve_xyz, checkpoints_xyz   (·, 3) x, y and distance from the plane
    /plane/checkpoints_label                       "run.eEEE" of each projected checkpoint
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from closerlook import device as devices
from closerlook import schedules, train
from closerlook.data import Dataset, Split
from closerlook.models import LayeredNet
from closerlook.provenance import (
    atomic_path,
    load_sealed,
    record,
    seal,
    sha256,
    verify_source,
    write_attrs,
)

log = logging.getLogger("closerlook.curves")

KIND = "curve"
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


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
    net_a, net_b = train.model_from_checkpoint(ckpt_a), train.model_from_checkpoint(ckpt_b)
    return Curve.on_segment(net_a, flat_parameters(net_a), flat_parameters(net_b), kind, n_bends)


# ------------------------------------------------------------------------- training
@dataclass
class CurveFit:
    """Settings of curve training (Garipov et al. §3.2, with the endpoints' SGD settings)."""

    epochs: int
    lr: float
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = False
    flip: bool = False
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CurveFit:
        """From a resolved curve mapping (closerlook.config.curve_settings)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in settings.items() if k in names})


@dataclass
class FitHistory:
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def l2_penalty(weights: torch.Tensor, weight_decay: float) -> torch.Tensor:
    """½·λ·‖w(t)‖²: weight decay on the weights at t (its gradient is λ·w(t), as in SGD)."""
    return 0.5 * weight_decay * weights.pow(2).sum()


def fit_curve(curve: Curve, train_split: Split, fit: CurveFit, image_size: int) -> FitHistory:
    """Train the interior bends: per batch one t ∼ U(0, 1), loss L(w(t)) + ½λ‖w(t)‖².

    The rate follows a cosine from `lr` down to lr/100 over the epochs, per iteration.
    `train_split` should already be on the curve's device."""
    generator = torch.Generator().manual_seed(fit.seed)
    torch.manual_seed(fit.seed)
    optimizer = torch.optim.SGD([curve.interior], lr=fit.lr, momentum=fit.momentum)
    lr_at = schedules.cosine_annealing(fit.lr, fit.lr / 100, fit.epochs)
    dev = curve.start.device
    n = len(train_split)
    steps = math.ceil(n / fit.batch_size)
    augment = train.Augment(train.crop_padding(image_size), fit.flip) if fit.augment else None
    precision = train.Precision(autocast=dev.type == "cuda")
    history = FitHistory()
    curve.net.train()
    for epoch in range(fit.epochs):
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        perm = torch.randperm(n, generator=generator).to(dev)
        ts = torch.rand(steps, generator=generator)
        for i in range(steps):
            idx = perm[i * fit.batch_size : (i + 1) * fit.batch_size]
            x, y = train_split.images[idx], train_split.labels[idx]
            if augment:
                x = augment(x, generator)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(epoch + i / steps)
            w = curve.flat_weights(ts[i])
            with precision.context():
                out = functional_call(curve.net, unflatten(curve.net, w), (x,))
            nll = F.cross_entropy(out.float(), y)
            loss = nll + l2_penalty(w, fit.weight_decay)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += nll.detach() * len(y)
            correct += (out.argmax(1) == y).sum()
        history.epoch.append(epoch + 1)
        history.train_loss.append(loss_sum.item() / n)
        history.train_acc.append(correct.item() / n)
        history.seconds.append(time.perf_counter() - t0)
        log.info(
            "curve epoch %d/%d train_loss %.4f train_acc %.4f (%.2fs)",
            epoch + 1,
            fit.epochs,
            history.train_loss[-1],
            history.train_acc[-1],
            history.seconds[-1],
        )
    return history


# ------------------------------------------------------------------------- evaluation
@torch.no_grad()
def recompute_batchnorm(net: nn.Module, images: torch.Tensor, batch_size: int = 512) -> None:
    """Reset every BatchNorm's running mean and variance and re-estimate them from `images`
    in train mode, each batch weighted by its size (so the mean is the exact data mean)."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
    was_training = net.training
    net.train()
    seen = 0
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size]
        for m in norms:
            m.momentum = len(x) / (seen + len(x))  # running = weighted mean of batch stats
        with train.Precision(autocast=x.is_cuda).context():
            net(x)
        seen += len(x)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    net.train(was_training)


def evaluate_weights(
    net: nn.Module,
    flat: torch.Tensor,
    train_split: Split,
    val_split: Split,
    bn_images: torch.Tensor,
    bn_batch_size: int = 512,
) -> dict[str, float]:
    """Train/validation loss and accuracy of `net` with weights `flat`, BN recomputed."""
    load_flat_parameters(net, flat)
    recompute_batchnorm(net, bn_images, bn_batch_size)
    train_loss, train_acc = train.evaluate(net, train_split)
    val_loss, val_acc = train.evaluate(net, val_split)
    return {
        "train_loss": train_loss,
        "train_acc": train_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
    }


def evaluate_path(
    weights_at: Callable[[float], torch.Tensor],
    net: nn.Module,
    ts: Sequence[float],
    train_split: Split,
    val_split: Split,
    bn_images: torch.Tensor,
    bn_batch_size: int = 512,
) -> dict[str, np.ndarray]:
    """Loss and accuracy at every t of `ts` along the path t ↦ weights_at(t)."""
    rows = [
        evaluate_weights(net, weights_at(t), train_split, val_split, bn_images, bn_batch_size)
        for t in ts
    ]
    return {k: np.array([r[k] for r in rows]) for k in METRICS}


def barrier_height(losses: Sequence[float] | np.ndarray) -> float:
    """max_t L(w(t)) − max(L(w(0)), L(w(1))) for losses on a t grid from 0 to 1 (≥ 0)."""
    losses = np.asarray(losses, dtype=np.float64)
    return float(losses.max() - max(losses[0], losses[-1]))


# ------------------------------------------------------------------------- the loss plane
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


def evaluate_plane(
    plane: Plane,
    xs: np.ndarray,
    ys: np.ndarray,
    net: nn.Module,
    train_split: Split,
    val_split: Split,
    bn_images: torch.Tensor,
    bn_batch_size: int = 512,
) -> dict[str, np.ndarray]:
    """Loss and accuracy at every grid point, arrays of shape (len(xs), len(ys))."""
    dev = train_split.images.device
    out = {k: np.zeros((len(xs), len(ys))) for k in METRICS}
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            r = evaluate_weights(
                net, plane.point(x, y).to(dev), train_split, val_split, bn_images, bn_batch_size
            )
            for k in METRICS:
                out[k][i, j] = r[k]
    return out


# ------------------------------------------------------------------------- files
def save_curve(
    curve: Curve, path: str | Path, meta: Mapping[str, Any], history: FitHistory
) -> None:
    """The fitted bends as a checkpoint of their own (with the endpoints' architecture)."""
    named = list(curve.net.named_parameters())
    obj = {
        "kind": KIND,
        "curve_kind": curve.kind,
        "n_bends": curve.n_bends,
        "bends": curve.bends().cpu(),
        "parameter_names": [n for n, _ in named],
        "parameter_shapes": [list(p.shape) for _, p in named],
        "history": history.__dict__,
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
    from closerlook import models

    net = models.build(obj["model_spec"], tuple(obj["in_shape"]), obj["num_classes"])
    bends = obj["bends"]
    return Curve(net, obj["curve_kind"], bends[0], bends[-1], bends[1:-1].clone()), obj


def fit_between(
    checkpoint_a: str | Path,
    checkpoint_b: str | Path,
    out: str | Path,
    data: Dataset,
    kind: str,
    n_bends: int,
    fit: CurveFit,
    provenance: Mapping[str, Any],
    device: str = "auto",
) -> Curve:
    """Fit a curve between two checkpoints and save its bends to `out`."""
    dev = devices.resolve(device)
    ckpt_a, ckpt_b = train.load_checkpoint(checkpoint_a), train.load_checkpoint(checkpoint_b)
    curve = curve_from_checkpoints(ckpt_a, ckpt_b, kind, n_bends).to(dev)
    history = fit_curve(curve, data.train.to(dev), fit, data.image_shape[-1])
    meta = {
        "model_spec": ckpt_a["model_spec"],
        "in_shape": ckpt_a["in_shape"],
        "num_classes": ckpt_a["num_classes"],
        "fit": fit.__dict__,
        "provenance": record(
            **provenance,
            curve_kind=kind,
            n_bends=n_bends,
            source_checkpoint_a=str(checkpoint_a),
            source_sha256_a=sha256(checkpoint_a),
            source_checkpoint_b=str(checkpoint_b),
            source_sha256_b=sha256(checkpoint_b),
            device=str(dev),
        ),
    }
    save_curve(curve, out, meta, history)
    return curve


def bn_subset(images: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """The training images BN statistics are recomputed from: all (size 0) or a fixed
    random subset of `size`."""
    if size <= 0 or size >= len(images):
        return images
    rows = np.sort(np.random.default_rng(seed).choice(len(images), size=size, replace=False))
    return images[torch.from_numpy(rows).to(images.device)]


def evaluate_curve_file(
    curve_path: str | Path,
    out: str | Path,
    data: Dataset,
    points: int = 31,
    bn_images: int = 0,
    bn_batch_size: int = 512,
    grid: int = 11,
    margin: float = 0.2,
    projections: Mapping[str, str | Path] | None = None,
    provenance: Mapping[str, Any] | None = None,
    device: str = "auto",
    seed: int = 0,
) -> Path:
    """Evaluate a fitted curve: line and curve at `points` values of t, barrier heights,
    and the loss plane with the checkpoints in `projections` ({label: path}) projected
    onto it. Writes the curve's HDF5 file (kind="curve") to `out`."""
    dev = devices.resolve(device)
    curve, obj = load_curve(curve_path)
    made_from = obj.get("provenance", {})
    for end in ("a", "b"):
        verify_source(
            made_from.get(f"source_checkpoint_{end}"),
            made_from.get(f"source_sha256_{end}"),
            curve_path,
        )
    curve.to(dev)
    net = curve.net
    tr, va = data.train.to(dev), data.val.to(dev)
    bn = bn_subset(tr.images, bn_images, seed)
    ts = np.linspace(0.0, 1.0, points)

    t0 = time.perf_counter()
    line = evaluate_path(
        lambda t: segment(curve.start, curve.end, float(t)), net, ts, tr, va, bn, bn_batch_size
    )
    path = evaluate_path(
        lambda t: curve.flat_weights(float(t)).detach(), net, ts, tr, va, bn, bn_batch_size
    )
    log.info("line and curve at %d points in %.1fs", points, time.perf_counter() - t0)

    plane = Plane.through(curve.start, curve.end, curve.middle_bend())
    bends_xyz = np.array([plane.coordinates(b) for b in curve.bends()])
    xs, ys = plane_grid(bends_xyz[:, :2], grid, margin)
    t0 = time.perf_counter()
    surface = evaluate_plane(plane, xs, ys, net, tr, va, bn, bn_batch_size)
    log.info("loss plane %dx%d in %.1fs", grid, grid, time.perf_counter() - t0)
    curve_xyz = np.array([plane.coordinates(curve.flat_weights(float(t)).detach()) for t in ts])
    labels, proj = [], []
    for label, ckpt_path in (projections or {}).items():
        ckpt_net = train.model_from_checkpoint(train.load_checkpoint(ckpt_path))
        labels.append(label)
        proj.append(plane.coordinates(flat_parameters(ckpt_net)))

    attrs = dict(obj["provenance"])
    attrs.update(provenance or {})
    attrs.update(
        source_curve=str(curve_path),
        source_curve_sha256=sha256(curve_path),
        points=points,
        bn_images=bn_images or len(tr),
    )
    out = Path(out)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["kind"] = KIND
        write_attrs(f, {**attrs, **record(dataset=data.name)})  # this file's time and host
        f["t"] = ts
        for name, values in (("line", line), ("curve", path)):
            g = f.create_group(name)
            for k in METRICS:
                g[k] = values[k]
            g.attrs["barrier_train_loss"] = barrier_height(values["train_loss"])
            g.attrs["barrier_val_loss"] = barrier_height(values["val_loss"])
        bends = f.create_dataset("bends", data=curve.bends().cpu().numpy(), chunks=True)
        bends.attrs["curve_kind"] = curve.kind
        bends.attrs["parameter_names"] = json.dumps(obj["parameter_names"])
        bends.attrs["parameter_shapes"] = json.dumps(obj["parameter_shapes"])
        fitted = f.create_group("fit")
        for k, v in obj["history"].items():
            fitted[k] = np.asarray(v)
        p = f.create_group("plane")
        p.attrs["description"] = (
            "origin w_a, orthonormal u along w_b - w_a, v towards the middle bend; "
            "grids indexed [x, y]; *_xyz columns are x, y and distance from the plane"
        )
        p["x"], p["y"] = xs, ys
        for k in METRICS:
            p[k] = surface[k]
        p["bends_xyz"] = bends_xyz
        p["curve_xyz"] = curve_xyz
        p["checkpoints_xyz"] = np.array(proj, dtype=np.float64).reshape(-1, 3)
        p["checkpoints_label"] = np.array(labels, dtype=h5py.string_dtype())
    for name, values in (("line", line), ("curve", path)):
        log.info(
            "%s: barrier (train loss) %.4f, max val loss %.4f",
            name,
            barrier_height(values["train_loss"]),
            values["val_loss"].max(),
        )
    return out
