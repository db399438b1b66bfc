"""The preconditions (manipulation checks) of the claims: what must hold in the study before
a claim about a heuristic can be tested at all. One registry, one small function each.

A claim about what warmup does assumes that training without warmup was unstable; a claim
that a curve avoids a barrier assumes that the straight line meets one (a curve starts on the
line, so without a line barrier it trivially has none; Garipov et al. 2018; Frankle et al.
2020); a claim about the knowledge distillation transfers assumes that the teacher knows
more than the plain student (Hinton et al. 2015). A claim whose precondition fails is *not
testable here* (closerlook.findings), counted apart from supports, contradicts and
inconclusive. Each precondition is measured on the mean across seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from closerlook import instability, points
from closerlook.connectivity_claims import restart_curves, robustness_curves
from closerlook.contrasts import instability_epoch, read_point
from closerlook.effects import NotMeasured, Settings, accuracies, curves_of, each
from closerlook.evidence import Evidence, diverged_epoch


@dataclass
class Check:
    """A precondition measured: what it requires, the value against the threshold, whether
    it holds (None: it could not be measured), and the numbers behind it."""

    name: str
    requires: str
    value: float
    threshold: float
    holds: bool | None
    detail: str = ""

    def text(self) -> str:
        state = {True: "holds", False: "fails", None: "not measured"}[self.holds]
        return f"{self.requires}: {self.detail} — **{state}**"


PRECONDITIONS: dict[str, tuple[str, Callable[[Evidence, Settings], Check]]] = {}


def precondition(name: str, question: str):
    """Register the decorated function as precondition `name` of research question
    `question` (rq1 … rq4)."""

    def register(fn: Callable[[Evidence, Settings], Check]):
        PRECONDITIONS[name] = (question, fn)
        return fn

    return register


def measure(name: str, ev: Evidence, s: Settings) -> Check:
    """Precondition `name` on `ev`; one that cannot be measured says why, holds None."""
    try:
        return PRECONDITIONS[name][1](ev, s)
    except (NotMeasured, KeyError) as e:
        reason = e.reason if isinstance(e, NotMeasured) else f"{e} is not configured"
        return Check(name, name.replace("_", " "), math.nan, math.nan, None, reason)


def _line_barrier(ev: Evidence, s: Settings, check: str, names: list[str], what: str) -> Check:
    """Every curve of `names` has a line barrier (mean over seeds); its value is the
    smallest of their means."""
    if not names:
        raise NotMeasured(f"no curve between {what}")
    b = {name: [c.barriers["line"]["error_train"] for c in curves_of(ev, name)] for name in names}
    value = float(min(np.mean(v) for v in b.values()))
    return Check(
        check,
        f"the straight line between {what} has an error barrier (train) above "
        f"{100 * s.error_barrier:g} points",
        value,
        s.error_barrier,
        value > s.error_barrier,
        "; ".join(
            f"{each([100 * x for x in v], '{:.2f}')} points on curve '{n}'" for n, v in b.items()
        ),
    )


def _points(fraction: float) -> str:
    n = 100 * fraction
    return f"{n:g} percentage point{'' if n == 1 else 's'}"


@precondition("restart_line_barrier", "rq1")
def restart_line_barrier(ev: Evidence, s: Settings) -> Check:
    return _line_barrier(ev, s, "restart_line_barrier", restart_curves(ev), "the SGDR iterates")


@precondition("restarts_move", "rq1")
def restarts_move(ev: Evidence, s: Settings) -> Check:
    """SGDR's restarts move the network: the training loss of the epoch after each restart
    rises above the restart's by more than `s.spike` of it (the spike of RQ2's
    instability), in the mean over seeds; the smallest rise over the restarts decides."""
    q = ev.questions.get("rq1", {})
    run = (q.get("runs") or [None])[0]
    if run not in ev.metrics:
        raise NotMeasured("questions.rq1.runs names no SGDR run that is configured")
    rises = [restart_rises(ev.metrics[run][seed]) for seed in ev.seeds]
    if not rises[0]:
        raise NotMeasured(f"run '{run}' has no restart (its learning rate never rises)")
    mean = {e: float(np.mean([r[e] for r in rises if e in r])) for e in rises[0]}
    value = min(mean.values())
    return Check(
        "restarts_move",
        f"the training loss of the epoch after each SGDR restart rises above the restart's by "
        f"more than {100 * s.spike:g}% of it",
        value,
        s.spike,
        value > s.spike,
        "relative rise after epoch "
        + ", ".join(f"{e}: {each([r[e] for r in rises if e in r], '{:+.2f}')}" for e in mean),
    )


def restart_rises(df) -> dict[int, float]:
    """epoch e of each restart -> train_loss(e + 1) / train_loss(e) − 1, where the learning
    rate rises from epoch e to e + 1 (e ≥ 1: epoch 0 is the initial weights)."""
    df = df.sort_values("epoch")
    e, lr, loss = (df[c].to_numpy(dtype=float) for c in ("epoch", "lr", "train_loss"))
    return {
        int(e[i]): float(loss[i + 1] / loss[i] - 1.0)
        for i in range(1, len(e) - 1)
        if lr[i + 1] > lr[i] and loss[i] > 0
    }


@precondition("independent_line_barrier", "rq4")
def independent_line_barrier(ev: Evidence, s: Settings) -> Check:
    name = ev.questions.get("rq4", {}).get("curve")
    names = [name] if name else []  # a missing curve: curves_of says which
    return _line_barrier(ev, s, "independent_line_barrier", names, "the independent optima")


@precondition("robust_line_barrier", "rq4")
def robust_line_barrier(ev: Evidence, s: Settings) -> Check:
    return _line_barrier(
        ev, s, "robust_line_barrier", robustness_curves(ev), "the differently trained optima"
    )


def _spikes(ev: Evidence, run: str, window: instability.Window) -> list[tuple[float, int | None]]:
    """Per seed the largest spike in the window and its epoch; a run recorded as diverged
    up to the window's end spikes without bound."""
    out = []
    for seed in ev.seeds:
        df = ev.metrics[run][seed]
        bad = diverged_epoch(df)
        gone = bad is not None and bad <= window.end
        out.append((math.inf, bad) if gone else instability.loss_spike(df, window))
    return out


def _setup_spikes(ev: Evidence, role: str):
    """(window, run, per-seed spikes, their mean) of RQ2 setup `role`."""
    q = ev.questions["rq2"]
    run, w = q[role]["run"], q.get("window")
    if run not in ev.metrics or not w:
        raise NotMeasured(f"run '{run}' or RQ2's window is not configured")
    window = instability.Window(*w)
    spikes = _spikes(ev, run, window)
    return window, run, spikes, float(np.mean([x for x, _ in spikes]))


def _spike_text(spikes: list[tuple[float, int | None]]) -> str:
    return ", ".join(f"{'∞' if x == math.inf else f'{x:+.2f}'} (epoch {e})" for x, e in spikes)


@precondition("no_warmup_unstable", "rq2")
def no_warmup_unstable(ev: Evidence, s: Settings) -> Check:
    window, run, spikes, value = _setup_spikes(ev, "no_warmup")
    shown = "; ".join(
        f"{r}: {_spike_text(spikes if r == run else _spikes(ev, r, window))}"
        for _, r, _ in ev.rq2_setups()
        if r in ev.metrics
    )
    return Check(
        "no_warmup_unstable",
        f"without warmup the validation loss spikes in {window.text()}: it rises above its "
        f"best earlier value by more than {100 * s.spike:g}% of it (or the run diverges)",
        value,
        s.spike,
        value > s.spike,
        f"largest relative rise {shown}",
    )


@precondition("warmup_stable", "rq2")
def warmup_stable(ev: Evidence, s: Settings) -> Check:
    """The manipulation worked: with warmup the validation loss does not spike in the
    window (a claim about *how* warmup prevents instability presupposes that it does)."""
    window, run, spikes, value = _setup_spikes(ev, "warmup")
    return Check(
        "warmup_stable",
        f"with warmup the validation loss does not spike in {window.text()}: it rises above "
        f"its best earlier value by at most {100 * s.spike:g}% of it",
        value,
        s.spike,
        value <= s.spike,
        f"largest relative rise of {run}: {_spike_text(spikes)}",
    )


@precondition("read_after_instability", "rq2")
def read_after_instability(ev: Evidence, s: Settings) -> Check:
    q = ev.questions["rq2"]
    at = instability_epoch(ev, s)
    if at is None:
        raise NotMeasured("the run without warmup has no spike in the window")
    read = read_point(ev, s, q["no_warmup"]["analysis"], None)
    epoch = read if isinstance(read, int) else math.nan
    return Check(
        "read_after_instability",
        "similarity to initialisation is read at or after the instability it is to explain",
        float(epoch),
        float(at),
        bool(epoch >= at),
        f"read at {points.label(read)}; without warmup the loss first spikes at epoch {at}",
    )


@precondition("teacher_better", "rq3")
def teacher_better(ev: Evidence, s: Settings) -> Check:
    q = ev.questions["rq3"]
    a = q.get("analysis")
    teacher = next((p.run_a for p in ev.mean_profiles(a)), None) if a in ev.profiles else None
    plain = q.get("plain")
    if teacher not in ev.metrics or plain not in ev.metrics:
        raise NotMeasured("the teacher or the plain student is not configured")
    at, ap = accuracies(ev, teacher), accuracies(ev, plain)
    gap = float(np.mean([at[x] - ap[x] for x in ev.seeds]))
    return Check(
        "teacher_better",
        f"the teacher is more accurate than the plain student by more than the accuracy "
        f"margin ({_points(s.accuracy_margin)})",
        gap,
        s.accuracy_margin,
        gap > s.accuracy_margin,
        f"{teacher} {each([100 * v for v in at.values()], '{:.1f}')}% against {plain} "
        f"{each([100 * v for v in ap.values()], '{:.1f}')}%",
    )
