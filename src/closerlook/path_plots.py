"""Mode connectivity drawn (Gotmare et al. 2019, Figs. 2 and 3): error and loss along the
straight line and the fitted curve between two iterates, each with its barrier against the
endpoints' interpolation (closerlook.barriers: the error barrier of Frankle et al. 2020 in
percentage points, the loss barrier of Entezari et al. 2022 in nats), and the loss plane
through both endpoints and the bend with the run's iterates projected onto it.

Every path is the mean over seeds with, from two seeds on, its 95% t-interval as a band; a
barrier is the mean of the seeds' barriers with its interval (closerlook.evidence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from closerlook.barriers import chord
from closerlook.evidence import CurveEvaluation, barrier_intervals, mean_paths
from closerlook.plots import GREY, METRIC_LABELS, band, legend, plt, seeds_note, spans_decades
from closerlook.stats import Interval

PATHS = {"line": ("straight line", "--"), "curve": ("curve", "-")}  # name, line style
SPLITS = {"train": "tab:blue", "val": "tab:orange"}
UNITS = {"error": "points", "loss": "nats"}
AXIS_LABELS = {"error": "error (%)", "loss": "loss (cross-entropy, nats)"}
Band = tuple[np.ndarray, np.ndarray, np.ndarray]  # mean, low, high over the t grid


def endpoints(ev: CurveEvaluation) -> str:
    """The curve's two endpoints, in words."""
    return f"t = 0: {ev.run_a} epoch {ev.epoch_a}; t = 1: {ev.run_b} epoch {ev.epoch_b}"


def barrier_label(b: Interval, unit: str = "") -> str:
    """A barrier with three significant digits and, over seeds, its interval, then its
    unit: "1.49 [1.37, 1.61] nats"."""
    scale = abs(b.mean) if math.isfinite(b.mean) and b.mean != 0 else 1.0
    text = b.format(digits=max(0, 2 - math.floor(math.log10(scale))))
    return f"{text} {unit}" if unit else text


def barrier_text(b: Interval, quantity: str) -> str:
    """Barrier `b` of `quantity` ("error": a fraction, shown in percentage points; "loss":
    in nats) with its unit."""
    if quantity == "error":
        b = Interval(100 * b.mean, 100 * b.low, 100 * b.high, b.n, b.confidence)
    return barrier_label(b, UNITS[quantity])


def path_values(means: Mapping[str, Band], quantity: str, split: str) -> Band:
    """Mean and interval of `quantity` on `split` along one path, as drawn: the error in %,
    100 (1 − accuracy), its interval that of the accuracy turned over; the loss as is."""
    if quantity == "loss":
        return means[f"{split}_loss"]
    y, low, high = means[f"{split}_acc"]
    return 100 * (1 - y), 100 * (1 - high), 100 * (1 - low)


def path_axis(
    ax, curves: Mapping[int, CurveEvaluation], quantity: str, splits: Sequence[str] = tuple(SPLITS)
) -> list[np.ndarray]:
    """`quantity` ("error" or "loss") along line (dashed) and curve (solid) on each split, means
    with bands; each labelled with its barrier over seeds. The endpoints' interpolation, the
    barrier's baseline, is dotted (line and curve share their endpoints). Returns the means."""
    t = curves[min(curves)].t
    means, barriers = mean_paths(curves), barrier_intervals(curves)
    limits = (0.0, 100.0 if quantity == "error" else math.inf)
    drawn = []
    for path, (name, ls) in PATHS.items():
        for split in splits:
            y, low, high = path_values(means[path], quantity, split)
            b = barrier_text(barriers[path][f"{quantity}_{split}"], quantity)
            label = f"{split} {quantity}, {name} (barrier {b})"
            ax.plot(t, y, ls=ls, color=SPLITS[split], marker=".", label=label)
            band(ax, t, low, high, SPLITS[split], limits=limits)
            drawn.append(y)
    for split in splits:
        y = path_values(means["line"], quantity, split)[0]
        ax.plot(t, chord(t, y), ls=":", color=SPLITS[split], lw=1.2)
    baseline = "interpolation of the endpoints (the barrier's baseline)"
    ax.plot([], [], ls=":", color=GREY, lw=1.2, label=baseline)
    return drawn


def line_and_curve(curves: Mapping[int, CurveEvaluation] | CurveEvaluation) -> Figure:
    """Error and loss along the straight line and the fitted curve between two iterates
    (Gotmare et al. Fig. 2): means over seeds with 95% t-interval bands, and each path's
    barrier above the endpoints' interpolation, max_t f(t) − ((1 − t) f(0) + t f(1)), with
    its interval: the error barrier in points (Frankle et al. 2020), the loss barrier in
    nats (Entezari et al. 2022)."""
    if isinstance(curves, CurveEvaluation):
        curves = {0: curves}
    curves = dict(sorted(curves.items()))
    fig, (ax_error, ax_loss) = plt.subplots(1, 2, figsize=(13, 5.2), layout="constrained")
    path_axis(ax_error, curves, "error")
    if spans_decades(np.concatenate(path_axis(ax_loss, curves, "loss"))):
        ax_loss.set_yscale("log")
    for ax, quantity in ((ax_error, "error"), (ax_loss, "loss")):
        ax.set(xlabel="t along the path", ylabel=AXIS_LABELS[quantity], title=quantity)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, 1)
        legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    heading = f"Mode connectivity between SGDR restarts ({endpoints(curves[min(curves)])})"
    note = seeds_note(len(curves))
    fig.suptitle(f"{heading}\n{note}" if note else heading)
    return fig


def loss_plane(ev: CurveEvaluation, seed: int | None = None) -> Figure:
    """Training and validation loss over the plane through {w_a, w_b, θ} (log colour scale)
    with the bends, the curve, the straight line and the run's saved iterates projected
    (Gotmare et al. Fig. 3); the plane of one seed, named in the title when given."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    xx, yy = np.meshgrid(ev.plane_x, ev.plane_y, indexing="ij")
    epochs = ev.checkpoint_epochs()
    for ax, metric in zip(axes, ("train_loss", "val_loss"), strict=True):
        z = np.clip(ev.plane[metric], 1e-6, None)
        levels = np.geomspace(z.min(), z.max(), 20) if z.max() > z.min() else 10
        cs = ax.contourf(xx, yy, z, levels=levels, norm=LogNorm(), cmap="viridis_r")
        fig.colorbar(cs, ax=ax, label=f"{METRIC_LABELS[metric]}, log scale", format="%.3g")
        ends = ev.bends_xyz[[0, -1]]
        ax.plot(ends[:, 0], ends[:, 1], "w--", lw=1.5, label="straight line")
        ax.plot(ev.curve_xyz[:, 0], ev.curve_xyz[:, 1], "w-", lw=2, label="fitted curve")
        ax.plot(ev.bends_xyz[1:-1, 0], ev.bends_xyz[1:-1, 1], "wD", ms=6, label="bend")
        _projected_iterates(ax, ev, epochs)
        ax.set_xlim(ev.plane_x[0], ev.plane_x[-1])
        ax.set_ylim(ev.plane_y[0], ev.plane_y[-1])
        ax.set(
            xlabel="u: towards w_b (weight-space distance)",
            ylabel="v: towards the bend (weight-space distance)",
            title=METRIC_LABELS[metric].split(" (")[0],
        )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=len(labels),
        fontsize="small",
        facecolor="0.55",
        framealpha=1,
    )
    which = f"seed {seed}; " if seed is not None else ""
    fig.suptitle(f"Loss plane through both endpoints and the bend ({which}{endpoints(ev)})")
    return fig


def _projected_iterates(ax, ev: CurveEvaluation, epochs: Sequence[int]) -> None:
    """The run's saved iterates projected onto the plane: filled inside the grid, hollow on
    its border (clipped) where they fall outside it."""
    if not len(ev.checkpoints_xyz):
        return
    x0, x1, y0, y1 = ev.plane_x[0], ev.plane_x[-1], ev.plane_y[0], ev.plane_y[-1]
    xs, ys = ev.checkpoints_xyz[:, 0], ev.checkpoints_xyz[:, 1]
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    cx, cy = np.clip(xs, x0, x1), np.clip(ys, y0, y1)
    kw = {"s": 50, "zorder": 5, "clip_on": False}
    label = f"{ev.run_a} iterates (projected)"
    ax.scatter(cx[inside], cy[inside], c="red", edgecolors="white", **kw, label=label)
    if (~inside).any():
        label = "iterate beyond the grid (clipped)"
        outside = {"facecolors": "none", "edgecolors": "red", "lw": 1.5}
        ax.scatter(cx[~inside], cy[~inside], **outside, **kw, label=label)
    for x, y, e, inner in zip(cx, cy, epochs, inside, strict=True):
        ax.annotate(
            f"e{e}",
            (x, y),
            textcoords="offset points",
            xytext=(4, 4) if inner else (6, -10),
            color="white" if inner else "red",
            fontsize=8,
            weight="bold",
            annotation_clip=False,
        )
