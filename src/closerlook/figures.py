"""The study's own pieces of figures (closerlook.study_figures draws them): the labelled
per-layer profiles of each research question and the one-page RQ4 summary.

- RQ1: consecutive restarts in graded colours, two independently trained networks in grey;
- RQ2: each warmup setup in its run's colour, named by its role;
- RQ3: the teacher against each student, in the student's colour;
- RQ4: `summary`, final accuracies, the error barrier of line and curve, the panels of RQ1–RQ3
  under the primary measure and every claim's verdict.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from closerlook.evidence import CurveEvaluation, LayerProfile
from closerlook.path_plots import path_axis
from closerlook.plots import (
    GREY,
    Profiles,
    graded,
    legend,
    measure_name,
    plt,
    profile_axis,
    seeds_note,
)
from closerlook.points import label as point_label
from closerlook.points import pair_label
from closerlook.stats import Interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from closerlook.evidence import Evidence

ROLES = {
    "no_warmup": "large batch, no warmup",
    "warmup": "large batch, warmup",
    "frozen": "large batch, classifier frozen",
    "small_batch": "small batch",
}
VERDICT_COLOURS = {
    "supports": "tab:green",
    "contradicts": "tab:red",
    "inconclusive": "tab:gray",
    "not testable here": "tab:purple",
}


# ------------------------------------------------------------------ labelled profiles
def restarts(profiles: Sequence[LayerProfile]) -> list[tuple[LayerProfile, str, object]]:
    """Consecutive checkpoints of one run, in graded colours."""
    colours = graded(len(profiles))
    return [
        (p, pair_label(p.epoch_a, p.epoch_b), c) for p, c in zip(profiles, colours, strict=True)
    ]


def reference(profiles: Sequence[LayerProfile]) -> list[tuple[LayerProfile, str, object]]:
    """Two independently trained networks (an across_seeds analysis) at its last epoch,
    drawn in grey."""
    return [(p, f"two seeds of {p.run_a} ({point_label(p.epoch_a)})", GREY) for p in profiles[-1:]]


def role_name(run: str, role: str) -> str:
    """An RQ2 setup's run with its role, e.g. "large_batch (large batch, no warmup)"."""
    return f"{run} ({ROLES.get(role, role)})"


def warmup(ev: Evidence, colours: Mapping[str, object], method: str) -> Profiles:
    """Initialisation against the end of warmup of each RQ2 setup, in its run's colour."""
    drawn = []
    for role, run, analysis in ev.rq2_setups():
        for p in ev.mean_profiles(analysis, method)[:1]:
            label = f"{role_name(run, role)}: {pair_label(p.epoch_a, p.epoch_b)}"
            drawn.append((p, label, colours.get(run, GREY)))
    return drawn


def distillation(profiles: Sequence[LayerProfile], colours: Mapping[str, object]) -> Profiles:
    """The teacher against each student, in the student's colour."""
    return [(p, f"{p.run_a} vs {p.run_b}", colours.get(p.run_b, GREY)) for p in profiles]


# ------------------------------------------------------------------ the RQ4 page
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
    """Training and validation error along line and curve, means over seeds with bands,
    each with its error barrier (closerlook.barriers, Frankle et al. 2020) in the legend."""
    if not curves:
        ax.text(0.5, 0.5, "no curve configured", ha="center", va="center")
        ax.set_axis_off()
        return
    first = curves[min(curves)]
    path_axis(ax, curves, "error")
    ax.set(
        xlabel=f"t (0: epoch {first.epoch_a}, 1: epoch {first.epoch_b})",
        ylabel="error (%)",
        title="RQ1: line vs curve between restarts",
    )
    ax.grid(alpha=0.3)
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize="x-small")


def _verdicts_panel(ax, verdicts: Sequence[tuple[str, str, str]]) -> None:
    """Every claim's id, verdict (in its colour) and short reason, one row each."""
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
        why = reason.removeprefix("not testable here: ")
        short = textwrap.shorten(why, 46, placeholder="...")
        ax.text(0.53, y, short, fontsize=8, va="top", transform=ax.transAxes)
        y -= step


def summary(
    accuracies: Mapping[str, Interval],
    colours: Mapping[str, object],
    curves: Mapping[int, CurveEvaluation],
    panels: Sequence[tuple[str, Profiles]],
    method: str,
    verdicts: Sequence[tuple[str, str, str]],
) -> Figure:
    """RQ4 on one page: final accuracies (mean over seeds with interval error bars), the
    error along line vs curve with its barriers, the per-layer similarity panels of RQ1–RQ3
    under the primary measure `method` and every claim's verdict (id, verdict, short reason)."""
    fig = plt.figure(figsize=(16, 10), layout="constrained")
    grid = fig.add_gridspec(2, 3)
    _accuracy_bars(fig.add_subplot(grid[0, 0]), accuracies, colours)
    _barrier_panel(fig.add_subplot(grid[0, 1]), curves)
    slots = [grid[0, 2], grid[1, 0], grid[1, 1]]
    for slot, (title, drawn) in zip(slots, panels, strict=False):
        ax = fig.add_subplot(slot)
        if drawn:
            profile_axis(ax, drawn, method, inside_legend=True)
        else:
            ax.text(0.5, 0.5, "not configured", ha="center", va="center")
        ax.set_title(title)
    _verdicts_panel(fig.add_subplot(grid[1, 2]), verdicts)
    n = len(curves) or max((a.n for a in accuracies.values()), default=1)
    heading = "A closer look at deep-learning heuristics: summary"
    note = seeds_note(n)
    fig.suptitle(
        f"{heading}\n{note}; similarity: {measure_name(method)}" if note else heading, fontsize=14
    )
    return fig
