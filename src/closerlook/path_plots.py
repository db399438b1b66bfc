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
from matplotlib.ticker import LogLocator

from closerlook.barriers import chord
from closerlook.evidence import CurveEvaluation, barrier_intervals, mean_paths
from closerlook.figure_style import shades, spread
from closerlook.plots import GREY, METRIC_LABELS, band, legend, log_axis_if_decades, plt, seeds_note
from closerlook.stats import Interval

PATHS = {"line": ("straight line", "--"), "curve": ("curve", "-")}  # name, line style
SPLITS = {"train": "o", "val": "s"}  # markers; colours: the run's, dark (train) and light
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


def split_colours(colour: object) -> dict[str, tuple[float, float, float]]:
    """The splits' colours: the run's colour dark for training, light for validation."""
    light, dark = shades(colour, 2)
    return {"train": dark, "val": light}


def path_axis(
    ax,
    curves: Mapping[int, CurveEvaluation],
    quantity: str,
    splits: Sequence[str] = tuple(SPLITS),
    colour: object = GREY,
) -> list[np.ndarray]:
    """`quantity` ("error" or "loss") along line (dashed) and curve (solid) on each split, means
    with bands, in shades of the run's `colour`; each labelled with its barrier over seeds.
    The endpoints' interpolation, the barrier's baseline, is dotted (line and curve share
    their endpoints). Returns the means."""
    t = curves[min(curves)].t
    means, barriers = mean_paths(curves), barrier_intervals(curves)
    limits = (0.0, 100.0 if quantity == "error" else math.inf)
    colours, drawn = split_colours(colour), []
    for path, (name, ls) in PATHS.items():
        for split in splits:
            y, low, high = path_values(means[path], quantity, split)
            b = barrier_text(barriers[path][f"{quantity}_{split}"], quantity)
            label = f"{split} {quantity}, {name} (barrier {b})"
            c, m = colours[split], SPLITS[split]
            ax.plot(t, y, ls=ls, color=c, marker=m, ms=3.5, label=label)
            band(ax, t, low, high, c, limits=limits)
            drawn.append(y)
    for split in splits:
        y = path_values(means["line"], quantity, split)[0]
        ax.plot(t, chord(t, y), ls=":", color=colours[split], lw=1.2)
    baseline = "interpolation of the endpoints (the barrier's baseline)"
    ax.plot([], [], ls=":", color=GREY, lw=1.2, label=baseline)
    return drawn


def line_and_curve(
    curves: Mapping[int, CurveEvaluation] | CurveEvaluation, colour: object = GREY
) -> Figure:
    """Error and loss along the straight line and the fitted curve between two iterates
    (Gotmare et al. Fig. 2): means over seeds with 95% t-interval bands, and each path's
    barrier above the endpoints' interpolation, max_t f(t) − ((1 − t) f(0) + t f(1)), with
    its interval: the error barrier in points (Frankle et al. 2020), the loss barrier in
    nats (Entezari et al. 2022); in shades of the run's `colour`."""
    if isinstance(curves, CurveEvaluation):
        curves = {0: curves}
    curves = dict(sorted(curves.items()))
    fig, (ax_error, ax_loss) = plt.subplots(1, 2, figsize=(13, 5.2), layout="constrained")
    path_axis(ax_error, curves, "error", colour=colour)
    log_axis_if_decades(ax_loss, np.concatenate(path_axis(ax_loss, curves, "loss", colour=colour)))
    for ax, quantity in ((ax_error, "error"), (ax_loss, "loss")):
        ax.set(xlabel="t along the path", ylabel=AXIS_LABELS[quantity], title=quantity)
        ax.grid(alpha=0.3)
        ax.set_xlim(0, 1)
        legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    heading = f"Mode connectivity between SGDR restarts ({endpoints(curves[min(curves)])})"
    note = seeds_note(len(curves))
    fig.suptitle(f"{heading}\n{note}" if note else heading)
    return fig


def loss_plane(ev: CurveEvaluation, seed: int | None = None, colour: object = "red") -> Figure:
    """Training and validation loss over the plane through {w_a, w_b, θ} (log colour scale),
    u and v on one scale, with the bends, the curve, the straight line and the run's saved
    iterates projected in the run's `colour` (Gotmare et al. Fig. 3); the plane of one seed,
    named in the title when given."""
    x0, x1, y0, y1 = ev.plane_x[0], ev.plane_x[-1], ev.plane_y[0], ev.plane_y[-1]
    height = min(4.0, max(0.5, 10.0 * (y1 - y0) / (x1 - x0)))  # inches of each plane
    width = min(10.0, height * (x1 - x0) / (y1 - y0))  # about
    fig, axes = plt.subplots(
        2, 1, figsize=(12, 2 * height + 3.6), layout="constrained", squeeze=False
    )
    xx, yy = np.meshgrid(ev.plane_x, ev.plane_y, indexing="ij")
    epochs = ev.checkpoint_epochs()
    for ax, metric in zip(axes[:, 0], ("train_loss", "val_loss"), strict=True):
        z = np.clip(ev.plane[metric], 1e-6, None)
        levels = np.geomspace(z.min(), z.max(), 20) if z.max() > z.min() else 10
        cs = ax.contourf(xx, yy, z, levels=levels, norm=LogNorm(), cmap="viridis_r")
        bar = fig.colorbar(cs, cax=ax.inset_axes([1.01, 0.0, 0.015, 1.0]), format="%.2g")
        bar.locator = LogLocator(subs=(1.0, 2.0, 5.0))
        bar.ax.tick_params(labelsize="x-small")
        ends = ev.bends_xyz[[0, -1]]
        ax.plot(ends[:, 0], ends[:, 1], "w--", lw=1.5, label="straight line")
        ax.plot(ev.curve_xyz[:, 0], ev.curve_xyz[:, 1], "w-", lw=2, label="fitted curve")
        ax.plot(ev.bends_xyz[1:-1, 0], ev.bends_xyz[1:-1, 1], "wD", ms=6, label="bend")
        _projected_iterates(ax, ev, epochs, colour, width)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.set(xlabel="u: towards w_b (weight-space distance)", ylabel="v: towards\nthe bend")
        name = METRIC_LABELS[metric].split(" (")[0]
        ax.set_title(f"{name} (cross-entropy, nats; colour on a log scale)", loc="left", pad=24)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncol=len(labels), fontsize="small",
        facecolor="0.55", framealpha=1,
    )  # fmt: skip
    which = f"seed {seed}; " if seed is not None else ""
    fig.suptitle(
        f"Loss plane through both endpoints and the bend ({which}{endpoints(ev)})\n"
        "u and v on one scale (weight-space distance); labels above: the iterates' epochs"
    )
    return fig


def _projected_iterates(
    ax, ev: CurveEvaluation, epochs: Sequence[int], colour: object, width: float
) -> None:
    """The run's saved iterates projected onto the plane: filled inside the grid, hollow on
    its border (clipped) where they fall outside it; each labelled with its epoch above the
    plane (`width` inches wide), the labels spread apart with a leader line to their
    iterate."""
    if not len(ev.checkpoints_xyz):
        return
    x0, x1, y0, y1 = ev.plane_x[0], ev.plane_x[-1], ev.plane_y[0], ev.plane_y[-1]
    xs, ys = ev.checkpoints_xyz[:, 0], ev.checkpoints_xyz[:, 1]
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    cx, cy = np.clip(xs, x0, x1), np.clip(ys, y0, y1)
    kw = {"s": 40, "zorder": 5, "clip_on": False}
    label = f"{ev.run_a} iterates (projected)"
    ax.scatter(cx[inside], cy[inside], c=[colour], edgecolors="white", **kw, label=label)
    if (~inside).any():
        label = "iterate beyond the grid (clipped to its edge)"
        outside = {"facecolors": "white", "edgecolors": colour, "lw": 1.5}
        ax.scatter(cx[~inside], cy[~inside], **outside, **kw, label=label)
    wanted = (cx - x0) / (x1 - x0)
    at = spread(wanted, gap=0.32 / width)
    for x, y, e, u in zip(cx, cy, epochs, at, strict=True):
        ax.annotate(
            f"e{e}", (x, y), xytext=(u, 1.04), textcoords=("axes fraction", "axes fraction"),
            ha="center", va="bottom", fontsize=8, color="black", annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "0.35", "lw": 0.6, "shrinkB": 3},
        )  # fmt: skip
