"""Generic plotting for the study's figures: 95% bands, learning curves, per-layer profile
panels, and saving (mode connectivity: closerlook.path_plots).

Every per-run quantity is drawn as its mean across seeds; with two or more seeds a band of
the same colour shows the 95% Student-t interval of that mean (closerlook.stats). Per-layer
similarity is drawn as small multiples, one panel per measure, the primary measure first
(closerlook.plan.measures). What each research question draws is closerlook.study_figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from closerlook.evidence import (  # noqa: E402
    LayerProfile,
    diverged_epoch,
    mean_metrics,
    mean_profiles,
    profiles_by_seed,
)
from closerlook.figure_style import (  # noqa: E402
    GREY,
    Periods,
    accuracy_dots,
    pair_styles,
    shade_periods,
    striped_steps,
)
from closerlook.provenance import atomic_path  # noqa: E402
from closerlook.stats import Interval  # noqa: E402

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
    "cka_debiased": "debiased CKA",
    "cka_minibatch": "minibatch CKA",
    "procrustes": "Procrustes",
}

# (profile, label, style) each: the style a colour, or the keywords of its line (a mapping
# with at least "color"; closerlook.figure_style.pair_styles)
Profiles = Sequence[tuple[LayerProfile, str, object]]


def measure_name(method: str) -> str:
    """How a similarity measure is named in titles and axis labels."""
    return MEASURES.get(method, method.upper().replace("_", "-"))


def spans_decades(values: np.ndarray | Sequence[float], decades: float = 1.0) -> bool:
    """Whether positive values span more than `decades` orders of magnitude (use a log axis)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    return len(v) > 1 and math.log10(v.max() / v.min()) > decades


def log_axis_if_decades(ax, values: np.ndarray | Sequence[float]) -> None:
    """A log y axis where `values` span decades, cut a little below the lowest positive
    value (so that bands reaching 0 do not fill the axis)."""
    v = np.asarray(values, dtype=float)
    if spans_decades(v):
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.3 * v[np.isfinite(v) & (v > 0)].min())


def seeds_note(n: int) -> str:
    """What a band means, for titles and legends ("" with a single seed: no band)."""
    return f"mean of {n} seeds, band: 95% t-interval" if n >= 2 else ""


def titled(title: str | None, n: int) -> str:
    """`title` with the seeds note of `n` seeds."""
    note = seeds_note(n)
    return f"{title} ({note})" if title and note else title or note


def legend(ax, **kw) -> None:
    """A legend on `ax`, where it has labelled artists."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**{"fontsize": "small", **kw})


def band(
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


def bottom_legend(fig: Figure, ax, wide: int, most: int) -> None:
    """One legend below the figure for the labelled artists of `ax`: `most` columns, two
    where a label is longer than `wide` characters."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ncol = min(len(labels), 2 if max(map(len, labels)) > wide else most)
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize="small")


# ------------------------------------------------------------------ learning curves
def _seed_count(df: pd.DataFrame) -> int:
    return int(df["seeds"].max()) if "seeds" in df.columns and len(df) else 1


def _metric_curve(ax, metric: str, df: pd.DataFrame, name: str, c, ls: str = "-") -> np.ndarray:
    """One run's curve of `metric` (a frame of `mean_metrics`) with its band, and a cross
    at its first diverged epoch; returns the values drawn."""
    rows = df[df["epoch"] > 0] if metric == "train_loss" else df
    scale = 100 if metric.endswith("acc") else 1
    y = rows[metric].to_numpy(dtype=float) * scale
    ax.plot(rows["epoch"], y, color=c, label=name, lw=1.6, ls=ls)
    if f"{metric}_low" in rows.columns:
        low, high = rows[f"{metric}_low"], rows[f"{metric}_high"]
        band(ax, rows["epoch"], low, high, c, scale, (0.0, 100.0 if scale == 100 else math.inf))
    _diverged(ax, df, y, c)
    return y


def _diverged(ax, df: pd.DataFrame, y: np.ndarray, c) -> None:
    """A dotted line and a cross at the run's first diverged epoch, if any."""
    bad = diverged_epoch(df)
    if bad is not None:
        ax.axvline(bad, color=c, ls=":", lw=1)
        ax.plot([bad], [np.nanmax(y) if np.isfinite(y).any() else 0], "x", color=c, ms=8)


def _lr_panel(ax, metrics: Mapping[str, pd.DataFrame], colours: Mapping[str, object]) -> None:
    """The learning rate per epoch as steps, runs that share a rate striped in their colours."""
    series = {}
    for name, df in metrics.items():
        rows = df[df["epoch"] > 0]
        series[name] = (rows["epoch"].to_numpy(float), rows["lr"].to_numpy(float))
    striped_steps(ax, series, {n: colours.get(n, GREY) for n in metrics})
    for name, df in metrics.items():
        _diverged(ax, df, series[name][1], colours.get(name, GREY))
    if len(metrics) > 1:
        ax.text(
            0.99, 0.98, "striped: runs with the same rate", transform=ax.transAxes,
            ha="right", va="top", fontsize="x-small", color=GREY,
        )  # fmt: skip


def _objectives_note(ax, objectives: Mapping[str, str]) -> None:
    """Above the training-loss panel, which line style is which objective (a title, where no
    legend can cover a curve)."""
    texts = ["solid: cross-entropy", *(f"dashed: {t}" for t in dict.fromkeys(objectives.values()))]
    ax.set_title("; ".join(texts), fontsize="small")


def training_curves(
    metrics: Mapping[str, pd.DataFrame],
    colours: Mapping[str, object],
    panels: Sequence[str] = ("train_loss", "val_acc", "lr"),
    title: str | None = None,
    objectives: Mapping[str, str] | None = None,
    periods: Periods | None = None,
    compared: tuple[str, Mapping[str, Interval]] | None = None,
) -> Figure:
    """Per-epoch curves, one panel per metric of `panels`, one line per run: the mean over
    seeds (a frame of `evidence.mean_metrics`) with its 95% t-interval as a band when there
    are two or more seeds. A run that diverged in any seed ends in a cross at its first
    diverged epoch. Losses spanning decades are drawn on a log scale. A run of `objectives`
    (run -> its training objective, where not cross-entropy) has its training loss dashed;
    `periods` (run -> warmup and freeze periods) are shaded in every panel; `compared`
    (what, run -> accuracy interval) adds a panel of accuracies compared across runs."""
    objectives = {r: o for r, o in (objectives or {}).items() if r in metrics}
    periods = periods or {}
    n_axes = len(panels) + (compared is not None)
    fig, axes = plt.subplots(
        1, n_axes, figsize=(4.4 * n_axes, 4.2), layout="constrained", squeeze=False
    )
    # the legend's source: a panel where every run is drawn solid
    source = next((i for i, m in enumerate(panels) if m != "train_loss"), 0)
    for i, (ax, metric) in enumerate(zip(axes[0], panels, strict=False)):
        shade_periods(ax, periods, colours, labelled=i == source)
        if metric == "lr":
            _lr_panel(ax, metrics, colours)
        else:
            _curves_panel(ax, metric, metrics, colours, objectives)
        ax.set(xlabel="epoch", ylabel=METRIC_LABELS[metric])
        if metric == "train_loss" and objectives:
            ax.set_ylabel("training loss (nats)")
            _objectives_note(ax, objectives)
        ax.grid(alpha=0.3)
    if compared is not None:
        what, accuracies = compared
        accuracy_dots(axes[0][-1], accuracies, colours, what)
        axes[0][-1].set_title(what)
    bottom_legend(fig, axes[0][source], wide=24, most=4)
    n = max((_seed_count(df) for df in metrics.values()), default=1)
    if heading := titled(title, n):
        fig.suptitle(heading)
    return fig


def _curves_panel(
    ax, metric: str, metrics: Mapping[str, pd.DataFrame], colours, objectives: Mapping[str, str]
) -> None:
    """Every run's curve of `metric`; a loss spanning decades on a log axis."""
    drawn = []
    for name, df in metrics.items():
        ls = "--" if metric == "train_loss" and name in objectives else "-"
        drawn.append(_metric_curve(ax, metric, df, name, colours.get(name, GREY), ls))
    if metric.endswith("loss") and drawn:
        log_axis_if_decades(ax, np.concatenate(drawn))


def learning_curves(
    metrics: Mapping[str, Mapping[int, pd.DataFrame]],
    colours: Mapping[str, object],
    objectives: Mapping[str, str] | None = None,
) -> Figure:
    """Training loss, validation accuracy and learning rate per epoch, one line per run:
    `metrics` run -> seed -> metrics frame, drawn as the mean over seeds; the training loss
    of a run of `objectives` (not cross-entropy) dashed."""
    means = {run: mean_metrics(frames) for run, frames in metrics.items()}
    return training_curves(means, colours, title="Learning curves", objectives=objectives)


# ------------------------------------------------------------------ per-layer profiles
def profile_axis(ax, drawn: Profiles, method: str) -> None:
    """Profiles of one measure on one axis: solid lines with markers and, for a mean over
    seeds, its interval as a band; the shuffled baselines dashed."""
    layers: list[str] = []
    for p, _, _ in drawn:
        if len(p.layers) > len(layers):
            layers = p.layers
    for p, label, style in drawn:
        kw = {"marker": "o", **(style if isinstance(style, Mapping) else {"color": style})}
        c = kw["color"]
        x = [layers.index(name) for name in p.layers]
        ax.plot(x, p.values, label=label, lw=1.8, **kw)
        band(ax, x, p.low, p.high, c, limits=(0.0, 1.0))
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


def layer_profile_panels(by_method: Mapping[str, Profiles], title: str) -> Figure:
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
            profile_axis(ax, drawn, method)
            n = max([n, *(p.n for p, _, _ in drawn)])
        else:
            ax.text(0.5, 0.5, "not computed", ha="center", va="center", transform=ax.transAxes)
            ax.set(xlabel="layer (network order)", ylabel=f"{measure_name(method)} similarity")
        ax.set_title(measure_name(method))
    for ax in flat[len(methods) :]:
        ax.set_axis_off()
    bottom_legend(fig, flat[0], wide=30, most=3)
    fig.suptitle(titled(title, n))
    return fig


def draw_layer_similarity(
    table: pd.DataFrame,
    methods: Sequence[str],
    title: str,
    colours: Mapping[str, object] | None = None,
) -> Figure:
    """Per-layer similarity of one tidy table (layers in network order on x), one panel per
    measure of `methods`, one line per compared pair: its mean across the table's seeds with
    the 95% t-interval, in its run's colour (closerlook.figure_style.pair_styles); the
    shuffled baseline dashed."""
    by_method = {
        method: styled(
            mean_profiles(profiles_by_seed(table, method)), colours or {}, LayerProfile.label
        )
        for method in methods
    }
    return layer_profile_panels(by_method, title)


def styled(
    profiles: Sequence[LayerProfile],
    colours: Mapping[str, object],
    label: Callable[[LayerProfile], str],
) -> list[tuple[LayerProfile, str, object]]:
    """Each profile with its label and its style: its run's colour, or shades of it for
    several pairs of one run (closerlook.figure_style.pair_styles)."""
    styles = pair_styles([(p.run_a, p.run_b) for p in profiles], colours)
    return [(p, label(p), st) for p, st in zip(profiles, styles, strict=True)]


def save(fig: Figure, paths: Sequence[str | Path], dpi: int) -> None:
    """Write `fig` to every path (format from the suffix), atomically, then close it."""
    for path in paths:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip("."), bbox_inches="tight")
    plt.close(fig)
