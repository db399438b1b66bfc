"""The study's own pieces of figures (closerlook.study_figures draws them): the labelled
per-layer profiles of each research question and the one-page RQ4 summary.

- RQ1: pairs of restarts in shades of the run's colour, two independently trained networks
  in grey;
- RQ2: each warmup setup in its run's colour, named by its role;
- RQ3: the teacher against each student, in the student's colour;
- RQ4: `summary`, final accuracies, the error barrier of line and curve, the panels of RQ1–RQ3
  under the primary measure and every claim's verdict.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from matplotlib import transforms

from closerlook.evidence import CurveEvaluation, LayerProfile
from closerlook.figure_style import accuracy_dots
from closerlook.path_plots import path_axis
from closerlook.plots import (
    GREY,
    Profiles,
    legend,
    measure_name,
    plt,
    profile_axis,
    seeds_note,
    styled,
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
def restarts(profiles: Sequence[LayerProfile], colours: Mapping[str, object]) -> Profiles:
    """Pairs of checkpoints of one run, in shades of its colour, each with its marker."""
    return styled(profiles, colours, lambda p: pair_label(p.epoch_a, p.epoch_b))


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
def _barrier_panel(ax, curves: Mapping[int, CurveEvaluation], colours: Mapping[str, object]):
    """Training and validation error along line and curve, means over seeds with bands,
    each with its error barrier (closerlook.barriers, Frankle et al. 2020) in the legend."""
    if not curves:
        ax.text(0.5, 0.5, "no curve configured", ha="center", va="center")
        ax.set_axis_off()
        return
    first = curves[min(curves)]
    path_axis(ax, curves, "error", colour=colours.get(first.run_a, GREY))
    ax.set(
        xlabel=f"t (0: epoch {first.epoch_a}, 1: epoch {first.epoch_b})",
        ylabel="error (%)",
        title="RQ1: line vs curve between restarts",
    )
    ax.grid(alpha=0.3)
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize="x-small")


ROW = 0.26  # inches per verdict row
GAP = 10.0  # points between the verdict table's columns
CHAR = 4.3  # points per character of a reason at 9 points, about (refined by measuring)


def _points(t) -> float:
    """A drawn text's width in points."""
    fig = t.get_figure()
    return t.get_window_extent(fig.canvas.get_renderer()).width * 72 / fig.dpi


def _column(ax, x: float, texts: Sequence[str], colours: Sequence[str] = (), **kw) -> list:
    """One column of the verdict table, `x` points from the panel's left edge, one row per
    text (in its colour of `colours`, else black); returns the drawn texts."""
    at = transforms.offset_copy(ax.transAxes, fig=ax.get_figure(), x=x, units="points")
    step, drawn = 1 / max(1, len(texts)), []
    for i, text in enumerate(texts):
        colour = colours[i] if i < len(colours) else "black"
        y = 1 - (i + 0.5) * step
        drawn.append(
            ax.text(0.0, y, text, va="center", transform=at, fontsize=9, color=colour, **kw)
        )
    return drawn


def _width(texts: Sequence) -> float:
    """The widest of drawn texts, in points (0 for none)."""
    return max(map(_points, texts), default=0.0)


def _verdicts_panel(ax, verdicts: Sequence[tuple[str, str, str]]) -> None:
    """Every claim's id, verdict (in its colour) and short reason, one row each, in three
    columns, each as wide as its widest entry."""
    ax.set_axis_off()
    ax.set_title("findings (details in findings.md)", loc="left")
    x = _width(_column(ax, 0.0, [cid for cid, _, _ in verdicts], weight="bold")) + GAP
    colours = [VERDICT_COLOURS.get(v.split(" (")[0], "black") for _, v, _ in verdicts]
    x += _width(_column(ax, x, [v for _, v, _ in verdicts], colours, weight="bold")) + GAP
    room = ax.get_figure().get_figwidth() * 72 * ax.get_position().width - x
    reasons = [r.removeprefix("not testable here: ") for _, _, r in verdicts]
    short = [textwrap.shorten(r, int(room / CHAR), placeholder=" ...") for r in reasons]
    for t, reason in zip(_column(ax, x, short), reasons, strict=True):
        width = _points(t)
        if width > room:  # wider characters than the estimate: shorten to fit
            chars = int(len(t.get_text()) * room / width) - 4
            t.set_text(textwrap.shorten(reason, max(20, chars), placeholder=" ..."))


def summary(
    accuracies: Mapping[str, Interval],
    colours: Mapping[str, object],
    curves: Mapping[int, CurveEvaluation],
    panels: Sequence[tuple[str, Profiles]],
    method: str,
    verdicts: Sequence[tuple[str, str, str]],
) -> Figure:
    """RQ4 on one page: final accuracies (dots: mean over seeds, whiskers: its interval),
    the error along line vs curve with its barriers, the per-layer similarity panels of
    RQ1–RQ3 under the primary measure `method` and, below, every claim's verdict (id,
    verdict, short reason) one row each."""
    table = ROW * (len(verdicts) + 2)
    fig = plt.figure(figsize=(17, 10.5 + table), layout="constrained")
    grid = fig.add_gridspec(3, 3, height_ratios=[5, 5, table])
    accuracy_dots(fig.add_subplot(grid[0:2, 0]), accuracies, colours, "final validation accuracy")
    fig.axes[0].set_title("accuracy after training")
    _barrier_panel(fig.add_subplot(grid[0, 1]), curves, colours)
    slots = [grid[0, 2], grid[1, 1], grid[1, 2]]
    for slot, (title, drawn) in zip(slots, panels, strict=False):
        ax = fig.add_subplot(slot)
        if drawn:
            profile_axis(ax, drawn, method)
            legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize="x-small")
        else:
            ax.text(0.5, 0.5, "not configured", ha="center", va="center")
        ax.set_title(title)
    _verdicts_panel(fig.add_subplot(grid[2, :]), verdicts)
    n = len(curves) or max((a.n for a in accuracies.values()), default=1)
    heading = "A closer look at deep-learning heuristics: summary"
    note = seeds_note(n)
    fig.suptitle(
        f"{heading}\n{note}; similarity: {measure_name(method)}" if note else heading, fontsize=14
    )
    return fig
