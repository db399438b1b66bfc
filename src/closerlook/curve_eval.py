"""Evaluating a curve (Gotmare et al. 2019, Figures 2 and 3): loss and accuracy along the
straight line and along the curve, the error and loss barriers of each path against the
endpoints' interpolation (closerlook.barriers), and the loss over the plane through
{w_a, w_b, θ} with the run's saved iterates projected onto it.

BatchNorm running statistics are not on the curve: they are recomputed from training data
at every evaluated point (Garipov et al. 2018, §3.3).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from closerlook import device as devices
from closerlook.barriers import path_barriers
from closerlook.checkpoints import load_checkpoint, model_from_checkpoint
from closerlook.curve_file import METRICS, PATHS, Bends, CurveEvaluation, write_curve
from closerlook.curves import Curve, flat_parameters, load_curve, load_flat_parameters, segment
from closerlook.data import Dataset, Split
from closerlook.logs import Progress
from closerlook.plan import CurveEval
from closerlook.plane import Plane, plane_grid
from closerlook.provenance import record, sha256, verify_source
from closerlook.sgd import Precision, evaluate

log = logging.getLogger("closerlook.curves")


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
        with Precision(autocast=x.is_cuda).context():
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
    train_loss, train_acc = evaluate(net, train_split)
    val_loss, val_acc = evaluate(net, val_split)
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
    progress: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """Loss and accuracy at every t of `ts` along the path t ↦ weights_at(t), each point
    reported to `progress` (a line of detail)."""
    rows = []
    for t in ts:
        w = weights_at(t)
        rows.append(evaluate_weights(net, w, train_split, val_split, bn_images, bn_batch_size))
        if progress is not None:
            progress(f"t {t:.3f} val_loss {rows[-1]['val_loss']:.4f}")
    return {k: np.array([r[k] for r in rows]) for k in METRICS}


# ------------------------------------------------------------------------- the loss plane
def evaluate_plane(
    plane: Plane,
    xs: np.ndarray,
    ys: np.ndarray,
    net: nn.Module,
    train_split: Split,
    val_split: Split,
    bn_images: torch.Tensor,
    bn_batch_size: int = 512,
    progress: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """Loss and accuracy at every grid point, arrays of shape (len(xs), len(ys)), each
    point reported to `progress` (a line of detail)."""
    dev = train_split.images.device
    out = {k: np.zeros((len(xs), len(ys))) for k in METRICS}
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            r = evaluate_weights(
                net, plane.point(x, y).to(dev), train_split, val_split, bn_images, bn_batch_size
            )
            for k in METRICS:
                out[k][i, j] = r[k]
            if progress is not None:
                progress(f"plane ({i}, {j}) val_loss {r['val_loss']:.4f}")
    return out


def bn_subset(images: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """The training images BN statistics are recomputed from: all (size 0) or a fixed
    random subset of `size`."""
    if size <= 0 or size >= len(images):
        return images
    rows = np.sort(np.random.default_rng(seed).choice(len(images), size=size, replace=False))
    return images[torch.from_numpy(rows).to(images.device)]


def evaluate_curve(
    curve: Curve,
    data: Dataset,
    settings: CurveEval,
    projections: Mapping[str, torch.Tensor],
    names: tuple[str, int, str, int],
) -> CurveEvaluation:
    """Line and curve at `settings.points` values of t with their barriers, and the
    loss plane through the endpoints and the middle bend with the flat weights of
    `projections` ({label: weights}) projected onto it. `names`: run_a, epoch_a, run_b,
    epoch_b. The data is moved to the curve's device."""
    dev, net, s = curve.start.device, curve.net, settings
    tr, va = data.train.to(dev), data.val.to(dev)
    bn = bn_subset(tr.images, s.bn_images, s.seed)
    ts = np.linspace(0.0, 1.0, s.points)
    t0 = time.perf_counter()
    paths = {
        "line": lambda t: segment(curve.start, curve.end, float(t)),
        "curve": lambda t: curve.flat_weights(float(t)).detach(),
    }
    progress = Progress("curve evaluation point", 2 * s.points + s.grid**2, log)
    along = {
        p: evaluate_path(
            w, net, ts, tr, va, bn, s.bn_batch_size, lambda d, p=p: progress.step(f"{p} {d}")
        )
        for p, w in paths.items()
    }
    log.info("line and curve at %d points in %.1fs", s.points, time.perf_counter() - t0)
    plane = Plane.through(curve.start, curve.end, curve.middle_bend())
    bends_xyz = np.array([plane.coordinates(b) for b in curve.bends()])
    xs, ys = plane_grid(bends_xyz[:, :2], s.grid, s.margin)
    t0 = time.perf_counter()
    surface = evaluate_plane(plane, xs, ys, net, tr, va, bn, s.bn_batch_size, progress.step)
    log.info("loss plane %dx%d in %.1fs", s.grid, s.grid, time.perf_counter() - t0)
    curve_xyz = np.array([plane.coordinates(paths["curve"](t)) for t in ts])
    barriers = {p: path_barriers(ts, v) for p, v in along.items()}
    return CurveEvaluation(
        *names, ts, along, barriers, xs, ys, surface, bends_xyz, curve_xyz,
        np.array([plane.coordinates(w) for w in projections.values()]), list(projections),
    )  # fmt: skip


def evaluate_curve_file(
    curve_path: str | Path,
    out: str | Path,
    data: Dataset,
    settings: CurveEval,
    projections: Mapping[str, str | Path] | None = None,
    provenance: Mapping[str, Any] | None = None,
    device: str = "auto",
) -> Path:
    """Evaluate the fitted curve of `curve_path` (:func:`evaluate_curve`), the checkpoints
    of `projections` ({label: path}) projected onto its plane, and write the curve file
    (closerlook.curve_file) to `out`."""
    curve, obj = load_curve(curve_path)
    made_from = obj.get("provenance", {})
    for end in ("a", "b"):
        verify_source(
            made_from.get(f"source_checkpoint_{end}"),
            made_from.get(f"source_sha256_{end}"),
            curve_path,
        )
    curve.to(devices.resolve(device))
    weights = {
        label: flat_parameters(model_from_checkpoint(load_checkpoint(path)))
        for label, path in (projections or {}).items()
    }
    names = tuple(made_from.get(k) for k in ("run_a", "epoch_a", "run_b", "epoch_b"))
    ev = evaluate_curve(curve, data, settings, weights, names)
    attrs = {**made_from, **(provenance or {})}
    attrs.update(
        source_curve=str(curve_path),
        source_curve_sha256=sha256(curve_path),
        points=settings.points,
        bn_images=settings.bn_images or len(data.train),
    )
    bends = Bends(
        curve.bends().cpu().numpy(), curve.kind, obj["parameter_names"],
        obj["parameter_shapes"], obj["history"],
    )  # fmt: skip
    write_curve(out, ev, bends, {**attrs, **record(dataset=data.name)})
    for name in PATHS:
        b = ev.barriers[name]
        log.info(
            "%s: error barrier train %.2f, val %.2f points; loss barrier train %.4f, val %.4f",
            name, 100 * b["error_train"], 100 * b["error_val"], b["loss_train"], b["loss_val"],
        )  # fmt: skip
    return Path(out)
