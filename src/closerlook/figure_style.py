"""How the figures mark what they compare, for every figure alike.

- A run keeps one colour everywhere (closerlook.study_figures.run_colours gives it); several
  pairs of checkpoints of one run are shades of that colour, light to dark, each with its
  own marker; a pair of two different runs is drawn in the second run's colour with markers
  filled in the first run's (`pair_styles`).
- Accuracies compared across runs are dots with their 95% interval on an axis that starts
  near the data, where it starts stated on the axis (`accuracy_dots`): no bar whose length
  would exaggerate a difference.
- Warmup and freeze periods are shaded and hatched in their run's colour (`shade_periods`).
- Lines that coincide are drawn striped in their runs' colours, so that none hides
  another (`striped_steps`).
- Labels of nearby points are spread along one edge with leader lines (`spread`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.colors as mcolors
import numpy as np

from closerlook.stats import Interval

GREY = (0.3, 0.3, 0.3)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
HATCHES = {"warmup": "//", "frozen": "\\\\"}
PERIOD_NAMES = {"warmup": "warmup", "frozen": "classifier frozen"}
Periods = Mapping[str, Sequence[tuple[str, float, float]]]  # run -> (kind, start, end)


def shades(colour: Any, n: int) -> list[tuple[float, float, float]]:
    """n shades of `colour`, from light (mixed with white) to dark (mixed with black); the
    colour itself when n is 1."""
    rgb = np.array(mcolors.to_rgb(colour))
    if n <= 1:
        return [tuple(rgb)] * max(n, 0)
    out = []
    for k in range(n):
        f = -0.45 + 0.8 * k / (n - 1)  # -0.45: nearly halfway to white; +0.35: a third to black
        c = rgb + (1 - rgb) * -f if f < 0 else rgb * (1 - f)
        out.append(tuple(float(v) for v in np.clip(c, 0, 1)))
    return out


def pair_styles(
    pairs: Sequence[tuple[str, str]], colours: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Line styles of compared pairs (run_a, run_b), in order: the colour of run_b (of the run
    where both are one run), in shades where one run has several pairs, each pair its own
    marker; markers filled with run_a's colour where the runs differ."""
    count: dict[str, int] = {}
    for _, b in pairs:
        count[b] = count.get(b, 0) + 1
    seen: dict[str, int] = {}
    styles = []
    for i, (a, b) in enumerate(pairs):
        k = seen[b] = seen.get(b, -1) + 1
        colour = shades(colours.get(b, GREY), count[b])[k]
        style = {"color": colour, "marker": MARKERS[i % len(MARKERS)]}
        if a != b:
            face = colours.get(a, GREY)
            style |= {"markerfacecolor": face, "markeredgecolor": colour, "ms": 7, "mew": 1.5}
        styles.append(style)
    return styles


# ------------------------------------------------------------------ accuracies
def axis_range(means: Sequence[float], ends: Sequence[float]) -> tuple[float, float]:
    """An axis range (in %) around the `means`, padded by a quarter of their spread (at least
    half a point), widened to the intervals' `ends` that lie within half the means' spread
    (at least two points) of them, within 0 to 100: an interval far wider than the
    differences compared is cut at the axis."""
    m = np.asarray([x for x in means if math.isfinite(x)], dtype=float)
    if not len(m):
        return 0.0, 100.0
    lo, hi = float(m.min()), float(m.max())
    reach = max(2.0, 0.5 * (hi - lo))
    e = np.asarray([x for x in ends if math.isfinite(x)], dtype=float)
    e = e[(e >= lo - reach) & (e <= hi + reach)]
    lo, hi = min(lo, *e, lo), max(hi, *e, hi)
    margin = max(0.5, 0.25 * (float(m.max()) - float(m.min())))
    return max(0.0, lo - margin), min(100.0, hi + margin)


def accuracy_dots(
    ax, accuracies: Mapping[str, Interval], colours: Mapping[str, Any], what: str
) -> None:
    """Accuracy `what` per run (fractions in `accuracies`): a dot at the mean over seeds with
    its 95% t-interval as whiskers where there are two or more seeds (an arrow where the
    axis cuts it), the value written at the right; the axis starts near the data and says
    where."""
    names = list(accuracies)
    mean = np.array([100 * accuracies[n].mean for n in names])
    low = np.clip([100 * accuracies[n].low for n in names], 0, 100)
    high = np.clip([100 * accuracies[n].high for n in names], 0, 100)
    n = max((a.n for a in accuracies.values()), default=1)
    lo, hi = axis_range(mean, [*low, *high] if n >= 2 else [])
    for i, name in enumerate(names):
        c = colours.get(name, GREY)
        if n >= 2 and math.isfinite(low[i]):
            a, b = max(low[i], lo), min(high[i], hi)
            ax.errorbar(mean[i], i, xerr=[[mean[i] - a], [b - mean[i]]], color=c, capsize=3)
            for end, edge, mark in ((low[i], lo, "<"), (high[i], hi, ">")):
                if (end < edge) if mark == "<" else (end > edge):
                    ax.plot(edge, i, mark, color=c, ms=6, clip_on=False)
        ax.plot(mean[i], i, "o", color=c, ms=7)
        text = f"{mean[i]:.1f}" + (f" [{low[i]:.1f}, {high[i]:.1f}]" if n >= 2 else "")
        ax.annotate(
            text, (1.0, i), xycoords=("axes fraction", "data"), xytext=(4, 0),
            textcoords="offset points", va="center", fontsize="small",
        )  # fmt: skip
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(lo, hi)
    note = (
        f"dots: mean of {n} seeds, whiskers: 95% t-interval (arrow: cut at the axis)\n"
        if n >= 2
        else ""
    )
    ax.set(xlabel=f"{what} (%), axis from {lo:.1f}%\n{note}".rstrip(), ylabel="run")
    ax.grid(alpha=0.3, axis="x")


# ------------------------------------------------------------------ periods, stripes
def shade_periods(ax, periods: Periods, colours: Mapping[str, Any], labelled: bool) -> None:
    """Each run's warmup and freeze periods (epochs start to end) shaded and hatched in its
    colour, labelled for the legend when `labelled`."""
    for run, spans in periods.items():
        c = colours.get(run, GREY)
        for kind, start, end in spans:
            label = f"{PERIOD_NAMES.get(kind, kind)}: {run}, epochs {start:g}–{end:g}"
            ax.axvspan(
                start, end, facecolor=mcolors.to_rgba(c, 0.08), edgecolor="none",
                hatch=HATCHES.get(kind, ".."), hatchcolor=mcolors.to_rgba(c, 0.4), lw=0,
                label=label if labelled else None, zorder=0,
            )  # fmt: skip


def _chunks(keys: Sequence[tuple[str, ...]]) -> list[tuple[int, int]]:
    """Maximal index ranges [i, j) of equal consecutive keys."""
    out, i = [], 0
    for j in range(1, len(keys) + 1):
        if j == len(keys) or keys[j] != keys[i]:
            out.append((i, j))
            i = j
    return out


def striped_steps(
    ax, series: Mapping[str, tuple[np.ndarray, np.ndarray]], colours: Mapping[str, Any], dash=4.0
) -> None:
    """Step lines (drawn steps-pre), one per run of `series` (run -> (x, y)), each solid;
    where several runs take the same values, dashes of each of their colours in turn are
    drawn over the shared stretch, so that every run shows."""
    values = {
        r: dict(zip(np.asarray(x, float), np.asarray(y, float), strict=True))
        for r, (x, y) in series.items()
    }
    for run, (x, y) in series.items():
        c = colours.get(run, GREY)
        ax.plot(x, y, color=c, lw=1.6, drawstyle="steps-pre", label=run)
    for run, (x, y) in series.items():
        x, y = np.asarray(x, float), np.asarray(y, float)
        keys = [
            tuple(r for r, v in values.items() if np.isclose(v.get(xi, np.nan), yi, rtol=1e-9))
            for xi, yi in zip(x, y, strict=True)
        ]
        for i, j in _chunks(keys):
            share = keys[i]
            if len(share) < 2 or run not in share:
                continue
            xs = np.concatenate([x[max(0, i - 1) : max(0, i - 1) + 1], x[i:j]])
            ys = np.concatenate([y[i : i + 1], y[i:j]])
            m, pos = len(share), share.index(run)
            ax.plot(
                xs, ys, color=colours.get(run, GREY), lw=1.6, drawstyle="steps-pre",
                ls=(pos * dash, (dash, (m - 1) * dash)),
            )  # fmt: skip


def spread(wanted: Sequence[float], gap: float, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """Positions as near `wanted` as can be with at least `gap` between neighbours, within
    [lo, hi] (in the order of `wanted`)."""
    w = np.asarray(wanted, dtype=float)
    order = np.argsort(w, kind="stable")
    p = w[order].copy()
    for i in range(1, len(p)):
        p[i] = max(p[i], p[i - 1] + gap)
    if len(p) and p[-1] > hi:
        p[-1] = hi
        for i in range(len(p) - 2, -1, -1):
            p[i] = min(p[i], p[i + 1] - gap)
    p = np.maximum(p, lo + gap * np.arange(len(p)))
    out = np.empty_like(p)
    out[order] = p
    return out
