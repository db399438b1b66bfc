"""The study's figures, drawn from the tidy artifacts (metrics.csv, similarity tables,
curve evaluations).

Each function takes data (closerlook.results) and returns a matplotlib Figure; `save`
writes it in every configured format. Colours are fixed per run name (`run_colours`) so a
setup looks the same in every figure; the shuffled baseline of a similarity is drawn dashed
in its pair's colour.

- RQ1: `training_curves` (loss, accuracy, learning rate per epoch), `line_and_curve`
  (Gotmare et al. Fig. 2), `loss_plane` (Fig. 3), `layer_profiles` across restarts;
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

from closerlook.provenance import atomic_path  # noqa: E402
from closerlook.results import CurveEvaluation, LayerProfile, diverged_epoch  # noqa: E402

if TYPE_CHECKING:
    from closerlook.findings import Evidence

PALETTE = plt.get_cmap("tab10").colors
GREY = (0.3, 0.3, 0.3)
METRIC_LABELS = {
    "train_loss": "training loss (cross-entropy)",
    "val_loss": "validation loss (cross-entropy)",
    "train_acc": "training accuracy (%)",
    "val_acc": "validation accuracy (%)",
    "lr": "learning rate",
}


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


def _legend(ax, **kw) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**{"fontsize": "small", **kw})


def training_curves(
    metrics: Mapping[str, pd.DataFrame],
    colours: Mapping[str, object],
    panels: Sequence[str] = ("train_loss", "val_acc", "lr"),
    title: str | None = None,
) -> Figure:
    """Per-epoch curves, one panel per metric of `panels`, one line per run; a diverged run
    ends in a cross at its first diverged epoch. Losses spanning decades are drawn on a
    log scale."""
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.4 * len(panels), 4.0), layout="constrained", squeeze=False
    )
    for ax, metric in zip(axes[0], panels, strict=True):
        everything = []
        for name, df in metrics.items():
            c = colours.get(name, GREY)
            rows = df[df["epoch"] > 0] if metric in ("lr", "train_loss") else df
            y = rows[metric].to_numpy(dtype=float) * (100 if metric.endswith("acc") else 1)
            everything.append(y)
            style = {"drawstyle": "steps-pre"} if metric == "lr" else {}
            ax.plot(rows["epoch"], y, color=c, label=name, lw=1.6, **style)
            bad = diverged_epoch(df)
            if bad is not None:
                ax.axvline(bad, color=c, ls=":", lw=1)
                ax.plot([bad], [np.nanmax(y) if len(y) else 0], "x", color=c, ms=8)
        ax.set(xlabel="epoch", ylabel=METRIC_LABELS[metric])
        if metric.endswith("loss") and everything and spans_decades(np.concatenate(everything)):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        ncol = min(len(labels), 2 if max(map(len, labels)) > 24 else 4)
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def learning_curves(metrics: Mapping[str, pd.DataFrame], run_order: Sequence[str]) -> Figure:
    """Training loss, validation accuracy and learning rate per epoch, one line per run."""
    return training_curves(metrics, run_colours(run_order))


def layer_similarity(table: pd.DataFrame, methods: Sequence[str], title: str) -> Figure:
    """Per-layer similarity (layers in network order on x), one line per compared pair and
    one panel per method; the shuffled baseline dashed."""
    from closerlook.results import layer_profiles as profiles_of

    fig, axes = plt.subplots(
        1, len(methods), figsize=(6.5 * len(methods), 3.8), constrained_layout=True, squeeze=False
    )
    cmap = plt.get_cmap("viridis")
    for ax, method in zip(axes[0], methods, strict=True):
        profiles = profiles_of(table, method)
        n = max(1, len(profiles) - 1)
        drawn = [(p, p.label(), cmap(k / n)) for k, p in enumerate(profiles)]
        _draw_profiles(ax, drawn, method)
        ax.set_title(title)
    return fig


def _draw_profiles(
    ax, drawn: Sequence[tuple[LayerProfile, str, object]], method: str, legend: str = "below"
) -> None:
    """Profiles on one axis: solid lines with markers, their shuffled baselines dashed."""
    layers: list[str] = []
    for p, _, _ in drawn:
        if len(p.layers) > len(layers):
            layers = p.layers
    for p, label, c in drawn:
        x = [layers.index(name) for name in p.layers]
        ax.plot(x, p.values, marker="o", color=c, label=label, lw=1.8)
        if np.isfinite(p.baseline).any():
            ax.plot(x, p.baseline, ls="--", color=c, lw=1, alpha=0.8)
    if any(np.isfinite(p.baseline).any() for p, _, _ in drawn):
        ax.plot([], [], ls="--", color=GREY, lw=1, label="shuffled baseline (dashed)")
    ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right")
    ax.set(
        xlabel="layer (network order)",
        ylabel=f"{method.upper().replace('_', '-')} similarity (mean correlation)",
        ylim=(0, 1.02),
    )
    ax.grid(alpha=0.3)
    if legend == "below":
        _legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2)
    else:
        _legend(ax, loc="lower left", fontsize="x-small")


def layer_profiles(
    drawn: Sequence[tuple[LayerProfile, str, object]], method: str, title: str
) -> Figure:
    """Per-layer similarity of several pairs on one axis: (profile, label, colour) each."""
    fig, ax = plt.subplots(figsize=(8.5, 5.2), constrained_layout=True)
    _draw_profiles(ax, drawn, method)
    ax.set_title(title)
    return fig


def graded(n: int, cmap: str = "viridis") -> list:
    """n colours along a sequential map, e.g. for consecutive restarts of one run."""
    m = plt.get_cmap(cmap)
    return [m(0.85 * k / max(1, n - 1)) for k in range(n)]


def _endpoints(ev: CurveEvaluation) -> str:
    return f"t = 0: {ev.run_a} epoch {ev.epoch_a}; t = 1: {ev.run_b} epoch {ev.epoch_b}"


def line_and_curve(ev: CurveEvaluation, colour_of_run: object = None) -> Figure:
    """Loss and accuracy along the straight line and the fitted curve between two iterates
    (Gotmare et al. Fig. 2), with the barrier heights max_t L − max(L(0), L(1))."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    paths = {"line": ("straight line", "--"), "curve": ("curve", "-")}
    split_colour = {"train": "tab:blue", "val": "tab:orange"}
    losses = []
    for path, (name, ls) in paths.items():
        for split, c in split_colour.items():
            b = ev.barriers[path].get(f"{split}_loss", math.nan)
            y = ev.paths[path][f"{split}_loss"]
            losses.append(y)
            ax_loss.plot(
                ev.t, y, ls=ls, color=c, marker=".", label=f"{split} loss, {name} (barrier {b:.3g})"
            )
            ax_acc.plot(
                ev.t,
                100 * ev.paths[path][f"{split}_acc"],
                ls=ls,
                color=c,
                marker=".",
                label=f"{split} accuracy, {name}",
            )
    if spans_decades(np.concatenate(losses)):
        ax_loss.set_yscale("log")
    ax_loss.set(xlabel="t along the path", ylabel="loss (cross-entropy)", title="loss")
    ax_acc.set(xlabel="t along the path", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.set_xlim(0, 1)
        _legend(ax, loc="best")
    fig.suptitle(f"Mode connectivity between SGDR restarts ({_endpoints(ev)})")
    return fig


def loss_plane(ev: CurveEvaluation) -> Figure:
    """Training and validation loss over the plane through {w_a, w_b, θ} (log colour scale)
    with the bends, the curve, the straight line and the run's saved iterates projected
    (Gotmare et al. Fig. 3)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
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
    fig.suptitle(f"Loss plane through both endpoints and the bend ({_endpoints(ev)})")
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


def summary(
    accuracies: Mapping[str, float],
    colours: Mapping[str, object],
    curve: CurveEvaluation | None,
    panels: Sequence[tuple[str, Sequence[tuple[LayerProfile, str, object]]]],
    method: str,
    verdicts: Sequence[tuple[str, str, str]],
) -> Figure:
    """RQ4 on one page: final accuracies, the barrier along line vs curve, the per-layer
    similarity panels of RQ1–RQ3 and every claim's verdict (id, verdict, short reason)."""
    fig = plt.figure(figsize=(16, 10), constrained_layout=True)
    grid = fig.add_gridspec(2, 3)
    ax = fig.add_subplot(grid[0, 0])
    names = list(accuracies)
    ax.barh(
        range(len(names)),
        [100 * accuracies[n] for n in names],
        color=[colours.get(n, GREY) for n in names],
    )
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    lo = min([100 * v for v in accuracies.values() if math.isfinite(v)] or [0])
    ax.set(
        xlabel="final validation accuracy (%)",
        ylabel="run",
        xlim=(max(0, lo - 5), 100),
        title="accuracy after training",
    )
    ax.grid(alpha=0.3, axis="x")

    ax = fig.add_subplot(grid[0, 1])
    if curve is None:
        ax.text(0.5, 0.5, "no curve configured", ha="center", va="center")
        ax.set_axis_off()
    else:
        for path, ls in (("line", "--"), ("curve", "-")):
            b = curve.barriers[path]["train_loss"]
            ax.plot(
                curve.t,
                curve.paths[path]["train_loss"],
                ls=ls,
                color="tab:blue",
                label=f"{path} (barrier {b:.3g})",
            )
        if spans_decades(np.concatenate([curve.paths[p]["train_loss"] for p in ("line", "curve")])):
            ax.set_yscale("log")
        ax.set(
            xlabel=f"t (0: epoch {curve.epoch_a}, 1: epoch {curve.epoch_b})",
            ylabel="training loss (cross-entropy)",
            title="RQ1: line vs curve between restarts",
        )
        ax.grid(alpha=0.3)
        _legend(ax, loc="best")

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
            color=VERDICT_COLOURS.get(verdict, "black"),
            weight="bold",
        )
        short = textwrap.shorten(reason, 56, placeholder="...")
        ax.text(0.42, y, short, fontsize=8, va="top", transform=ax.transAxes)
        y -= step
    fig.suptitle("A closer look at deep-learning heuristics: summary", fontsize=14)
    return fig


ROLES = {
    "no_warmup": "large batch, no warmup",
    "warmup": "large batch, warmup",
    "frozen": "large batch, classifier frozen",
    "small_batch": "small batch",
}


def _rq2_setups(ev: Evidence) -> list[tuple[str, str, str]]:
    """(role, run, analysis) of every RQ2 setup, in the configured order."""
    return [(role, s["run"], s["analysis"]) for role, s in ev.questions.get("rq2", {}).items()]


def _restarts(profiles: Sequence[LayerProfile]) -> list[tuple[LayerProfile, str, object]]:
    colours = graded(len(profiles))
    return [
        (p, f"epoch {p.epoch_a} vs {p.epoch_b}", c) for p, c in zip(profiles, colours, strict=True)
    ]


def _warmup(ev: Evidence, colours: Mapping[str, object]) -> list:
    drawn = []
    for role, run, analysis in _rq2_setups(ev):
        for p in ev.profiles.get(analysis, [])[:1]:
            label = f"{run} ({ROLES.get(role, role)}): epoch {p.epoch_a} vs {p.epoch_b}"
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
    """The RQ figure `name` (closerlook.config.question_parts) from its evidence."""
    method = ev.method
    first = lambda kind: ev.profiles.get(parts[kind][0], []) if parts.get(kind) else []  # noqa: E731
    if name == "rq1_training":
        metrics = {r: ev.metrics[r] for r in parts["runs"]}
        return training_curves(metrics, colours, title="RQ1: SGDR, step decay and cosine")
    if name == "rq1_line_and_curve":
        return line_and_curve(ev.curve)
    if name == "rq1_loss_plane":
        return loss_plane(ev.curve)
    if name == "rq1_restart_cca":
        profiles = first("analyses")
        run = profiles[0].run_a if profiles else ""
        return layer_profiles(_restarts(profiles), method, f"RQ1: {run} across restarts")
    if name == "rq2_warmup":
        setups = [(role, run) for role, run, _ in _rq2_setups(ev) if run in ev.metrics]
        metrics = {f"{run} ({ROLES.get(role, role)})": ev.metrics[run] for role, run in setups}
        shown = {f"{run} ({ROLES.get(role, role)})": colours.get(run, GREY) for role, run in setups}
        return training_curves(metrics, shown, ("val_acc", "lr"), title="RQ2: warmup setups")
    if name == "rq2_warmup_cca":
        return layer_profiles(_warmup(ev, colours), method, "RQ2: initialisation vs end of warmup")
    if name == "rq3_distillation_cca":
        return layer_profiles(
            _distillation(first("analyses"), colours), method, "RQ3: teacher vs student"
        )
    if name == "rq4_summary":
        q = ev.questions
        panels = [
            ("RQ1: CCA across SGDR restarts", _restarts(ev.profiles.get(q["rq1"]["restarts"], []))),
            ("RQ2: CCA initialisation vs end of warmup", _warmup(ev, colours)),
            (
                "RQ3: CCA teacher vs students",
                _distillation(ev.profiles.get(q["rq3"]["analysis"], []), colours),
            ),
        ]
        accuracies = {r: float(df["val_acc"].iloc[-1]) for r, df in ev.metrics.items()}
        return summary(accuracies, colours, ev.curve, panels, method, verdicts)
    raise ValueError(f"unknown study figure {name!r}")


def save(fig: Figure, paths: Sequence[str | Path], dpi: int) -> None:
    """Write `fig` to every path (format from the suffix), atomically, then close it."""
    for path in paths:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip("."), bbox_inches="tight")
    plt.close(fig)
