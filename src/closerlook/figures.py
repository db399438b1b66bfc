"""The study's figures, drawn from the tidy artifacts (metrics.csv, similarity tables,
curve evaluations).

Each function takes data (closerlook.results) and returns a matplotlib Figure; `save`
writes it in every configured format. Colours are fixed per run name (`run_colours`) so a
setup looks the same in every figure; the shuffled baseline of a similarity is drawn dashed
in its pair's colour.

Every per-run quantity is drawn as its mean across seeds; with two or more seeds a band of
the same colour (or error bars) shows the 95% Student-t interval of that mean
(closerlook.stats). Per-layer similarity is drawn as small multiples, one panel per computed
measure, the primary measure first.

- RQ1: `training_curves` (loss, accuracy, learning rate per epoch), `line_and_curve`
  (Gotmare et al. Fig. 2), `loss_plane` (Fig. 3, one seed), `layer_profiles` across restarts;
- RQ2: `training_curves` of the warmup setups (Fig. 4a, b), `layer_profiles` of
  initialisation against the end of warmup (Fig. 4c);
- RQ3: `layer_profiles` of teacher against both students (Fig. 6);
- RQ4: `summary`, one page.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from closerlook.points import label as point_label  # noqa: E402
from closerlook.points import pair_label  # noqa: E402
from closerlook.provenance import atomic_path  # noqa: E402
from closerlook.results import (  # noqa: E402
    CurveEvaluation,
    LayerProfile,
    barrier_intervals,
    diverged_epoch,
    final_accuracies,
    mean_metrics,
    mean_paths,
    mean_profiles,
    profiles_by_seed,
)
from closerlook.stats import Interval, mean_interval  # noqa: E402

if TYPE_CHECKING:
    from closerlook.results import Evidence

PALETTE = plt.get_cmap("tab10").colors
GREY = (0.3, 0.3, 0.3)
BAND_ALPHA = 0.2
METRIC_LABELS = {
    "train_loss": "training loss (cross-entropy)",
    "val_loss": "validation loss (cross-entropy)",
    "train_acc": "training accuracy (%)",
    "val_acc": "validation accuracy (%)",
    "lr": "learning rate",
}
MEASURES = {
    "svcca": "SVCCA",
    "pwcca": "PWCCA",
    "cka": "linear CKA",
    "dft_svcca": "DFT-SVCCA",
    "dft_cca": "DFT-CCA",
}

Profiles = Sequence[tuple[LayerProfile, str, object]]  # (profile, label, colour) each


def measure_name(method: str) -> str:
    """How a similarity measure is named in titles and axis labels."""
    return MEASURES.get(method, method.upper().replace("_", "-"))


def colour(name: str, names: Sequence[str]) -> tuple[float, float, float]:
    """A run's colour: its position among all configured runs, so it is stable across figures."""
    return PALETTE[list(names).index(name) % len(PALETTE)] if name in names else GREY


def run_colours(names: Sequence[str], overrides: Mapping[str, str] | None = None) -> dict:
    """Colour of every run: `overrides` (config figures.colours) first, else by position."""
    overrides = overrides or {}
    return {n: overrides.get(n, colour(n, names)) for n in names}


def spans_decades(values: np.ndarray | Sequence[float], decades: float = 1.0) -> bool:
    """Whether positive values span more than `decades` orders of magnitude (use a log axis)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return len(v) > 1 and math.log10(v.max() / v.min()) > decades


def seeds_note(n: int) -> str:
    """What a band means, for titles and legends ("" with a single seed: no band)."""
    return f"mean of {n} seeds, band: 95% t-interval" if n >= 2 else ""


def _titled(title: str | None, n: int) -> str:
    note = seeds_note(n)
    return f"{title} ({note})" if title and note else title or note


def _legend(ax, **kw) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**{"fontsize": "small", **kw})


def _band(
    ax, x, low, high, c, scale: float = 1.0, limits: tuple[float, float] = (0.0, math.inf)
) -> None:
    """The interval [low, high] as a shaded band in colour `c`, where it is defined, cut to
    the quantity's range `limits` (after scaling): a mean loss is never negative, nor an
    accuracy above 100%, so cutting the interval there loses no coverage."""
    if low is None or high is None:
        return
    low = np.clip(scale * np.asarray(low, dtype=float), *limits)
    high = np.clip(scale * np.asarray(high, dtype=float), *limits)
    ok = np.isfinite(low) & np.isfinite(high)
    if ok.any():
        ax.fill_between(
            np.asarray(x, dtype=float), low, high, where=ok, color=c, alpha=BAND_ALPHA, lw=0
        )


def _seed_count(df: pd.DataFrame) -> int:
    return int(df["seeds"].max()) if "seeds" in df.columns and len(df) else 1


def training_curves(
    metrics: Mapping[str, pd.DataFrame],
    colours: Mapping[str, object],
    panels: Sequence[str] = ("train_loss", "val_acc", "lr"),
    title: str | None = None,
) -> Figure:
    """Per-epoch curves, one panel per metric of `panels`, one line per run: the mean over
    seeds (a frame of `results.mean_metrics`) with its 95% t-interval as a band when there
    are two or more seeds. A run that diverged in any seed ends in a cross at its first
    diverged epoch. Losses spanning decades are drawn on a log scale."""
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.4 * len(panels), 4.0), layout="constrained", squeeze=False
    )
    for ax, metric in zip(axes[0], panels, strict=True):
        everything = []
        for name, df in metrics.items():
            c = colours.get(name, GREY)
            rows = df[df["epoch"] > 0] if metric in ("lr", "train_loss") else df
            scale = 100 if metric.endswith("acc") else 1
            y = rows[metric].to_numpy(dtype=float) * scale
            everything.append(y)
            style = {"drawstyle": "steps-pre"} if metric == "lr" else {}
            ax.plot(rows["epoch"], y, color=c, label=name, lw=1.6, **style)
            if metric != "lr" and f"{metric}_low" in rows.columns:
                low, high = rows[f"{metric}_low"], rows[f"{metric}_high"]
                _band(
                    ax,
                    rows["epoch"],
                    low,
                    high,
                    c,
                    scale,
                    (0.0, 100.0 if scale == 100 else math.inf),
                )
            bad = diverged_epoch(df)
            if bad is not None:
                ax.axvline(bad, color=c, ls=":", lw=1)
                ax.plot([bad], [np.nanmax(y) if np.isfinite(y).any() else 0], "x", color=c, ms=8)
        ax.set(xlabel="epoch", ylabel=METRIC_LABELS[metric])
        if metric.endswith("loss") and everything and spans_decades(np.concatenate(everything)):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        ncol = min(len(labels), 2 if max(map(len, labels)) > 24 else 4)
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize="small")
    n = max((_seed_count(df) for df in metrics.values()), default=1)
    if heading := _titled(title, n):
        fig.suptitle(heading)
    return fig


def learning_curves(
    metrics: Mapping[str, Mapping[int, pd.DataFrame]], colours: Mapping[str, object]
) -> Figure:
    """Training loss, validation accuracy and learning rate per epoch, one line per run:
    `metrics` run -> seed -> metrics frame, drawn as the mean over seeds."""
    means = {run: mean_metrics(frames) for run, frames in metrics.items()}
    return training_curves(means, colours, title="Learning curves")


# ------------------------------------------------------------------ per-layer profiles
def _draw_profiles(ax, drawn: Profiles, method: str, legend: str | None = None) -> None:
    """Profiles of one measure on one axis: solid lines with markers and, for a mean over
    seeds, its interval as a band; the shuffled baselines dashed."""
    layers: list[str] = []
    for p, _, _ in drawn:
        if len(p.layers) > len(layers):
            layers = p.layers
    for p, label, c in drawn:
        x = [layers.index(name) for name in p.layers]
        ax.plot(x, p.values, marker="o", color=c, label=label, lw=1.8)
        _band(ax, x, p.low, p.high, c, limits=(0.0, 1.0))
        if np.isfinite(p.baseline).any():
            ax.plot(x, p.baseline, ls="--", color=c, lw=1, alpha=0.8)
    if any(np.isfinite(p.baseline).any() for p, _, _ in drawn):
        ax.plot([], [], ls="--", color=GREY, lw=1, label="shuffled baseline (dashed)")
    ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right")
    ax.set(
        xlabel="layer (network order)",
        ylabel=f"{measure_name(method)} similarity",
        ylim=(0, 1.02),
    )
    ax.grid(alpha=0.3)
    if legend == "inside":
        _legend(ax, loc="lower left", fontsize="x-small")


def layer_profiles(by_method: Mapping[str, Profiles], title: str) -> Figure:
    """Per-layer similarity as small multiples, one panel per measure of `by_method`
    (measure -> (profile, label, colour) of each pair, in the mapping's order), each
    panel titled by its measure; one legend below for all panels."""
    methods = list(by_method)
    ncols = len(methods) if len(methods) <= 3 else 2
    nrows = math.ceil(len(methods) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(5.6 * ncols, 4.2 * nrows + 0.8),
        layout="constrained",
        squeeze=False,
        sharey=True,
    )
    flat = list(axes.ravel())
    n = 1
    for ax, method in zip(flat, methods, strict=False):
        drawn = by_method[method]
        if drawn:
            _draw_profiles(ax, drawn, method)
            n = max([n, *(p.n for p, _, _ in drawn)])
        else:
            ax.text(0.5, 0.5, "not computed", ha="center", va="center", transform=ax.transAxes)
            ax.set(xlabel="layer (network order)", ylabel=f"{measure_name(method)} similarity")
        ax.set_title(measure_name(method))
    for ax in flat[len(methods) :]:
        ax.set_axis_off()
    handles, labels = flat[0].get_legend_handles_labels()
    if handles:
        ncol = min(len(labels), 2 if max(map(len, labels)) > 30 else 3)
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize="small")
    fig.suptitle(_titled(title, n))
    return fig


def layer_similarity(table: pd.DataFrame, methods: Sequence[str], title: str) -> Figure:
    """Per-layer similarity of one tidy table (layers in network order on x), one panel per
    measure of `methods`, one line per compared pair: its mean across the table's seeds with
    the 95% t-interval; the shuffled baseline dashed."""
    cmap = plt.get_cmap("viridis")
    by_method = {}
    for method in methods:
        profiles = mean_profiles(profiles_by_seed(table, method))
        k = max(1, len(profiles) - 1)
        by_method[method] = [(p, p.label(), cmap(0.85 * i / k)) for i, p in enumerate(profiles)]
    return layer_profiles(by_method, title)


def graded(n: int, cmap: str = "viridis") -> list:
    """n colours along a sequential map, e.g. for consecutive restarts of one run."""
    m = plt.get_cmap(cmap)
    return [m(0.85 * k / max(1, n - 1)) for k in range(n)]


# ------------------------------------------------------------------ mode connectivity
def _endpoints(ev: CurveEvaluation) -> str:
    return f"t = 0: {ev.run_a} epoch {ev.epoch_a}; t = 1: {ev.run_b} epoch {ev.epoch_b}"


def _per_seed(curves: Mapping[int, CurveEvaluation] | CurveEvaluation) -> dict:
    return {0: curves} if isinstance(curves, CurveEvaluation) else dict(sorted(curves.items()))


def barrier_label(b: Interval) -> str:
    """A barrier height with three significant digits and, over seeds, its interval:
    "1.49 [1.37, 1.61]"."""
    scale = abs(b.mean) if math.isfinite(b.mean) and b.mean != 0 else 1.0
    return b.format(digits=max(0, 2 - math.floor(math.log10(scale))))


def line_and_curve(curves: Mapping[int, CurveEvaluation] | CurveEvaluation) -> Figure:
    """Loss and accuracy along the straight line and the fitted curve between two iterates
    (Gotmare et al. Fig. 2): the mean over seeds with its 95% t-interval as a band, and the
    barrier heights max_t L − max(L(0), L(1)) with their intervals."""
    curves = _per_seed(curves)
    first = curves[min(curves)]
    means, barriers = mean_paths(curves), barrier_intervals(curves)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    paths = {"line": ("straight line", "--"), "curve": ("curve", "-")}
    split_colour = {"train": "tab:blue", "val": "tab:orange"}
    losses = []
    for path, (name, ls) in paths.items():
        for split, c in split_colour.items():
            b = barriers[path].get(f"{split}_loss", Interval(math.nan, math.nan, math.nan, 0))
            y, low, high = means[path][f"{split}_loss"]
            losses.append(y)
            ax_loss.plot(
                first.t,
                y,
                ls=ls,
                color=c,
                marker=".",
                label=f"{split} loss, {name} (barrier {barrier_label(b)})",
            )
            _band(ax_loss, first.t, low, high, c)
            y, low, high = means[path][f"{split}_acc"]
            ax_acc.plot(
                first.t, 100 * y, ls=ls, color=c, marker=".", label=f"{split} accuracy, {name}"
            )
            _band(ax_acc, first.t, low, high, c, scale=100, limits=(0.0, 100.0))
    if spans_decades(np.concatenate(losses)):
        ax_loss.set_yscale("log")
    ax_loss.set(xlabel="t along the path", ylabel="loss (cross-entropy)", title="loss")
    ax_acc.set(xlabel="t along the path", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.set_xlim(0, 1)
        _legend(ax, loc="best")
    heading = f"Mode connectivity between SGDR restarts ({_endpoints(first)})"
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
    fig.suptitle(f"Loss plane through both endpoints and the bend ({which}{_endpoints(ev)})")
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
    ax.scatter(
        cx[inside],
        cy[inside],
        c="red",
        edgecolors="white",
        **kw,
        label=f"{ev.run_a} iterates (projected)",
    )
    if (~inside).any():
        ax.scatter(
            cx[~inside],
            cy[~inside],
            facecolors="none",
            edgecolors="red",
            lw=1.5,
            **kw,
            label="iterate beyond the grid (clipped)",
        )
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


VERDICT_COLOURS = {"supports": "tab:green", "contradicts": "tab:red", "inconclusive": "tab:gray"}


def _accuracy_bars(ax, accuracies: Mapping[str, Interval], colours: Mapping[str, object]) -> None:
    """Final validation accuracy per run: the mean over seeds, error bars its interval."""
    names = list(accuracies)
    means = np.array([100 * accuracies[n].mean for n in names])
    low = np.clip([100 * accuracies[n].low for n in names], 0, 100)
    high = np.clip([100 * accuracies[n].high for n in names], 0, 100)
    has_interval = np.isfinite(low).any()
    ax.barh(
        range(len(names)),
        means,
        color=[colours.get(n, GREY) for n in names],
        xerr=np.nan_to_num([means - low, high - means]) if has_interval else None,
        error_kw={"ecolor": "black", "capsize": 3, "lw": 1},
    )
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    lo = min([m for m in means if math.isfinite(m)] or [0])
    n = max((a.n for a in accuracies.values()), default=1)
    note = f"\nmean of {n} seeds, bars: 95% t-interval" if n >= 2 else ""
    ax.set(
        xlabel="final validation accuracy (%)",
        ylabel="run",
        xlim=(max(0, lo - 5), 100),
        title=f"accuracy after training{note}",
    )
    ax.grid(alpha=0.3, axis="x")


def _barrier_panel(ax, curves: Mapping[int, CurveEvaluation]) -> None:
    """Training loss along line and curve, mean over seeds with bands."""
    if not curves:
        ax.text(0.5, 0.5, "no curve configured", ha="center", va="center")
        ax.set_axis_off()
        return
    first = curves[min(curves)]
    means, barriers = mean_paths(curves), barrier_intervals(curves)
    for path, ls in (("line", "--"), ("curve", "-")):
        y, low, high = means[path]["train_loss"]
        b = barriers[path]["train_loss"]
        ax.plot(first.t, y, ls=ls, color="tab:blue", label=f"{path} (barrier {barrier_label(b)})")
        _band(ax, first.t, low, high, "tab:blue")
    if spans_decades(np.concatenate([means[p]["train_loss"][0] for p in ("line", "curve")])):
        ax.set_yscale("log")
    ax.set(
        xlabel=f"t (0: epoch {first.epoch_a}, 1: epoch {first.epoch_b})",
        ylabel="training loss (cross-entropy)",
        title="RQ1: line vs curve between restarts",
    )
    ax.grid(alpha=0.3)
    _legend(ax, loc="best")


def summary(
    accuracies: Mapping[str, Interval],
    colours: Mapping[str, object],
    curves: Mapping[int, CurveEvaluation],
    panels: Sequence[tuple[str, Profiles]],
    method: str,
    verdicts: Sequence[tuple[str, str, str]],
) -> Figure:
    """RQ4 on one page: final accuracies (mean over seeds with interval error bars), the
    barrier along line vs curve, the per-layer similarity panels of RQ1–RQ3 under the
    primary measure `method` and every claim's verdict (id, verdict, short reason)."""
    fig = plt.figure(figsize=(16, 10), layout="constrained")
    grid = fig.add_gridspec(2, 3)
    _accuracy_bars(fig.add_subplot(grid[0, 0]), accuracies, colours)
    _barrier_panel(fig.add_subplot(grid[0, 1]), curves)

    slots = [grid[0, 2], grid[1, 0], grid[1, 1]]
    for slot, (title, drawn) in zip(slots, panels, strict=False):
        ax = fig.add_subplot(slot)
        if drawn:
            _draw_profiles(ax, drawn, method, legend="inside")
        else:
            ax.text(0.5, 0.5, "not configured", ha="center", va="center")
        ax.set_title(title)

    ax = fig.add_subplot(grid[1, 2])
    ax.set_axis_off()
    ax.set_title("findings (details in findings.md)")
    y = 0.97
    step = 0.95 / max(1, len(verdicts))
    for cid, verdict, reason in verdicts:
        ax.text(0.0, y, cid, fontsize=9, weight="bold", va="top", transform=ax.transAxes)
        ax.text(
            0.15,
            y,
            verdict,
            fontsize=9,
            va="top",
            transform=ax.transAxes,
            color=VERDICT_COLOURS.get(verdict.split(" (")[0], "black"),
            weight="bold",
        )
        short = textwrap.shorten(reason, 56, placeholder="...")
        ax.text(0.42, y, short, fontsize=8, va="top", transform=ax.transAxes)
        y -= step
    n = len(curves) or max((a.n for a in accuracies.values()), default=1)
    heading = "A closer look at deep-learning heuristics: summary"
    note = seeds_note(n)
    fig.suptitle(
        f"{heading}\n{note}; similarity: {measure_name(method)}" if note else heading, fontsize=14
    )
    return fig


ROLES = {
    "no_warmup": "large batch, no warmup",
    "warmup": "large batch, warmup",
    "frozen": "large batch, classifier frozen",
    "small_batch": "small batch",
}


def _restarts(profiles: Sequence[LayerProfile]) -> list[tuple[LayerProfile, str, object]]:
    colours = graded(len(profiles))
    return [
        (p, pair_label(p.epoch_a, p.epoch_b), c) for p, c in zip(profiles, colours, strict=True)
    ]


def _reference(profiles: Sequence[LayerProfile]) -> list[tuple[LayerProfile, str, object]]:
    """Two independently trained networks (an across_seeds analysis) at its last epoch,
    drawn in grey."""
    return [(p, f"two seeds of {p.run_a} ({point_label(p.epoch_a)})", GREY) for p in profiles[-1:]]


def _warmup(ev: Evidence, colours: Mapping[str, object], method: str) -> list:
    drawn = []
    for role, run, analysis in ev.rq2_setups():
        for p in ev.mean_profiles(analysis, method)[:1]:
            label = f"{run} ({ROLES.get(role, role)}): {pair_label(p.epoch_a, p.epoch_b)}"
            drawn.append((p, label, colours.get(run, GREY)))
    return drawn


def _distillation(profiles: Sequence[LayerProfile], colours: Mapping[str, object]) -> list:
    return [(p, f"{p.run_a} vs {p.run_b}", colours.get(p.run_b, GREY)) for p in profiles]


def study_figure(
    name: str,
    ev: Evidence,
    parts: Mapping[str, Sequence[str]],
    colours: Mapping[str, object],
    verdicts: Sequence[tuple[str, str, str]] = (),
) -> Figure:
    """The RQ figure `name` (closerlook.config.question_parts) from its evidence: means over
    ev.seeds with their intervals, per-layer figures with one panel per measure of
    ev.methods."""
    first = parts["analyses"][0] if parts.get("analyses") else None

    def per_measure(draw) -> dict[str, Profiles]:
        return {m: draw(m) for m in ev.methods}

    def means(analysis: str | None, method: str) -> list[LayerProfile]:
        return ev.mean_profiles(analysis, method) if analysis else []

    if name == "rq1_training":
        metrics = {r: ev.mean_metrics(r) for r in parts["runs"]}
        return training_curves(metrics, colours, title="RQ1: SGDR, step decay and cosine")
    if name == "rq1_line_and_curve":
        return line_and_curve(ev.curves)
    if name == "rq1_loss_plane":
        return loss_plane(ev.curve, min(ev.curves))
    if name == "rq1_restart_cca":
        profiles = means(first, ev.method)
        run = profiles[0].run_a if profiles else ""
        # the second analysis, where configured: questions.rq1.reference (across seeds)
        reference = parts["analyses"][1] if len(parts.get("analyses", [])) > 1 else None

        def drawn(m: str) -> Profiles:
            return _restarts(means(first, m)) + _reference(means(reference, m))

        return layer_profiles(per_measure(drawn), f"RQ1: {run} across restarts")
    if name == "rq2_warmup":
        setups = [(role, run) for role, run, _ in ev.rq2_setups() if run in ev.metrics]
        metrics = {f"{run} ({ROLES.get(role, role)})": ev.mean_metrics(run) for role, run in setups}
        shown = {f"{run} ({ROLES.get(role, role)})": colours.get(run, GREY) for role, run in setups}
        return training_curves(metrics, shown, ("val_acc", "lr"), title="RQ2: warmup setups")
    if name == "rq2_warmup_cca":
        by_method = per_measure(lambda m: _warmup(ev, colours, m))
        return layer_profiles(by_method, "RQ2: initialisation vs end of warmup")
    if name == "rq3_distillation_cca":
        by_method = per_measure(lambda m: _distillation(means(first, m), colours))
        return layer_profiles(by_method, "RQ3: teacher vs student")
    if name == "rq4_summary":
        q, m = ev.questions, ev.method
        panels = [
            ("RQ1: CCA across SGDR restarts", _restarts(means(q["rq1"]["restarts"], m))),
            ("RQ2: CCA initialisation vs end of warmup", _warmup(ev, colours, m)),
            (
                "RQ3: CCA teacher vs students",
                _distillation(means(q["rq3"]["analysis"], m), colours),
            ),
        ]
        accuracies = {
            r: mean_interval(list(final_accuracies(frames).values()))
            for r, frames in ev.metrics.items()
        }
        return summary(accuracies, colours, ev.curves, panels, m, verdicts)
    raise ValueError(f"unknown study figure {name!r}")


def save(fig: Figure, paths: Sequence[str | Path], dpi: int) -> None:
    """Write `fig` to every path (format from the suffix), atomically, then close it."""
    for path in paths:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip("."), bbox_inches="tight")
    plt.close(fig)
