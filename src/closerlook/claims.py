"""The claims of Gotmare et al. (ICLR 2019) that findings.md decides: one registry, one small
function per claim.

A claim function reads the evidence and returns the effect in every seed with the numbers
behind it, for one similarity measure (or for none); it raises :class:`NotMeasured` when the
evidence cannot say (a run missing, diverged or too short, an analysis not configured).
closerlook.decision turns the effects into a verdict; closerlook.findings renders them.

The paper's findings, by letter:
(a) restarts are not explained by escaping barriers; (b) warmup keeps the deeper layers from
changing too much, and freezing them gives similar stability; (c) distillation's knowledge
lands in the deeper layers; (d) shallow layers are more alike across networks than deeper
ones; (e) mode connectivity joins different optima by high-accuracy curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from closerlook import points
from closerlook.decision import NONINFERIOR, POSITIVE, Rule
from closerlook.effects import (
    Measured,
    NotMeasured,
    Settings,
    accuracies,
    accuracy_text,
    barrier_numbers,
    check_runs,
    curve_below,
    curves_of,
    distillation_gains,
    pairs_of,
    read_epoch,
    run_problem,
    shallow_minus_deeper,
    warmup_gains,
)
from closerlook.evidence import Evidence, diverged_epoch

PAPER_FINDINGS = {
    "a": "restarts are not explained by escaping barriers",
    "b": "warmup keeps the deeper layers from changing too much; freezing them does too",
    "c": "distillation's knowledge lands in the deeper layers",
    "d": "shallow layers are more alike across networks than deeper ones",
    "e": "different optima are joined by low-loss curves",
}


@dataclass(frozen=True)
class Claim:
    """One claim: what it says, the paper finding it tests, how its effect is read."""

    id: str
    paper: str
    statement: str
    effect: str
    what: str
    opposite: str
    measure: Callable[[Evidence, Settings, str | None], Measured]
    kind: str = POSITIVE
    zero_margin: bool = False
    similarity: bool = False

    @property
    def question(self) -> str:
        return self.id.split(".")[0]

    def rule(self, s: Settings) -> Rule:
        return Rule(self.kind, 0.0 if self.zero_margin else s.margin)


CLAIMS: dict[str, Claim] = {}


def claim(cid: str, paper: str, statement: str, effect: str, what: str, opposite: str, **kw):
    """Register the decorated function as claim `cid` (keywords: Claim's fields)."""

    def register(fn: Callable[[Evidence, Settings, str | None], Measured]):
        CLAIMS[cid] = Claim(cid, paper, statement, effect, what, opposite, fn, **kw)
        return fn

    return register


# ------------------------------------------------------------------------- RQ1: restarts
@claim(
    "RQ1.1",
    "a",
    "The straight line between SGDR iterates at two restarts crosses a barrier in the "
    "training loss.",
    "line barrier minus its threshold (train loss)",
    "the line's barrier exceeds the threshold",
    "the line has no barrier",
    zero_margin=True,
)
def line_barrier(ev: Evidence, s: Settings, method: str | None) -> Measured:
    curves = curves_of(ev, ev.questions["rq1"]["curve"])
    numbers, need = barrier_numbers(curves, s)
    check_runs(ev, [curves[0].run_a, curves[0].run_b], s, numbers)
    over = [c.barriers["line"]["train_loss"] - t for c, t in zip(curves, need, strict=True)]
    return Measured(dict(zip(ev.seeds, over, strict=True)), numbers)


@claim(
    "RQ1.2",
    "e",
    "A simple curve joins the same iterates without that barrier: the restarts stay in one "
    "connected valley.",
    "curve barrier below its threshold (train loss)",
    "the curve stays below the threshold",
    "the curve has a barrier too",
    zero_margin=True,
)
def restart_curve(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return curve_below(ev, s, ev.questions["rq1"]["curve"])


@claim(
    "RQ1.3",
    "a",
    "A restart keeps the network closer to itself than independent training does: per-layer "
    "CCA across each restart is higher than between two independently trained networks at "
    "the restart's epoch.",
    "CCA across a restart minus CCA between independent networks (mean over layers)",
    "a restart stays closer than an independent network",
    "a restart moves as far as independent training",
    similarity=True,
)
def restart_vs_independent(ev: Evidence, s: Settings, method: str | None) -> Measured:
    q = ev.questions["rq1"]
    if not q.get("reference"):
        raise NotMeasured("questions.rq1.reference names no across_seeds analysis")
    restarts, independent = (
        pairs_of(ev, q["restarts"], method),
        pairs_of(ev, q["reference"], method),
    )
    effects = {}
    for seed in ev.seeds:
        twin = {p.epoch_a: p for p in independent[seed]}
        gaps = [
            float(np.nanmean(p.values - twin[p.epoch_a].values))
            for p in restarts[seed]
            if p.epoch_a in twin and p.layers == twin[p.epoch_a].layers
        ]
        if not gaps:
            raise NotMeasured(f"analysis '{q['reference']}' meets no restart's epoch")
        effects[seed] = float(np.mean(gaps))
    twins = {p.epoch_a: p for p in ev.mean_profiles(q["reference"], method)}
    numbers = f"{method}; " + "; ".join(
        f"{p.run_a} {points.pair_label(p.epoch_a, p.epoch_b).replace(' vs ', ' → ')}: mean "
        f"{np.mean(p.values):.3f} against independent networks at "
        f"{points.label(p.epoch_a)}: {np.mean(twins[p.epoch_a].values):.3f}"
        for p in ev.mean_profiles(q["restarts"], method)
        if p.epoch_a in twins
    )
    check_runs(ev, [restarts[ev.seeds[0]][0].run_a], s, numbers)
    return Measured(effects, numbers)


@claim(
    "RQ1.4",
    "a",
    "SGDR, read at its last completed cycle, ends with a validation accuracy on par with "
    "step decay and single-cycle cosine.",
    "SGDR accuracy minus the best baseline's",
    "SGDR is on par with the best baseline or better",
    "SGDR trails the best baseline",
    kind=NONINFERIOR,
)
def sgdr_on_par(ev: Evidence, s: Settings, method: str | None) -> Measured:
    runs = list(ev.questions["rq1"]["runs"])
    epochs = {r: read_epoch(ev, r) for r in runs}
    numbers = accuracy_text(ev, runs, epochs)
    if len(runs) < 2:
        raise NotMeasured("no baseline runs named in questions.rq1", numbers)
    check_runs(ev, runs, s, numbers)
    acc = {r: accuracies(ev, r, epochs[r]) for r in runs}
    return Measured(
        {seed: acc[runs[0]][seed] - max(acc[r][seed] for r in runs[1:]) for seed in ev.seeds},
        numbers,
    )


# ------------------------------------------------------------------------- RQ2: warmup
@claim(
    "RQ2.1",
    "b",
    "A large batch at a high learning rate trains worse (or diverges) without warmup than with it.",
    "accuracy gain with warmup",
    "warmup is more accurate",
    "the run without warmup is more accurate",
)
def warmup_accuracy(ev: Evidence, s: Settings, method: str | None) -> Measured:
    q = ev.questions["rq2"]
    nw, w = q["no_warmup"]["run"], q["warmup"]["run"]
    numbers = accuracy_text(ev, [run for _, run, _ in ev.rq2_setups()], {})
    check_runs(ev, [w], s, numbers)
    problem = run_problem(ev, [nw], s, allow_diverged=True)
    if problem:
        raise NotMeasured(problem, numbers)
    diverged = {seed: diverged_epoch(ev.metrics[nw][seed]) for seed in ev.seeds}
    gone = [seed for seed, e in diverged.items() if e is not None]
    aw, anw = accuracies(ev, w), accuracies(ev, nw)
    note = f"without warmup the run diverged in {len(gone)}/{len(ev.seeds)} seeds"
    if len(ev.seeds) == 1 and gone:
        note = f"without warmup the run diverged in epoch {diverged[gone[0]]}"
    effects = {seed: math.inf if seed in gone else aw[seed] - anw[seed] for seed in ev.seeds}
    return Measured(effects, numbers, note)


@claim(
    "RQ2.2",
    "b",
    "Warmup protects the deeper layers specifically: its gain in CCA to initialisation "
    "(with minus without warmup) is larger in the deeper layers than in the shallow ones.",
    "warmup's CCA gain, deeper minus shallow layers",
    "warmup's gain is larger in the deeper layers",
    "warmup's gain is not larger in the deeper layers",
    similarity=True,
)
def warmup_protects_deeper(ev: Evidence, s: Settings, method: str | None) -> Measured:
    gains, numbers = warmup_gains(ev, s, method)
    return Measured({seed: dp - sh for seed, (sh, dp) in gains.items()}, numbers)


@claim(
    "RQ2.3",
    "b",
    "Warmup keeps the deeper layers closer to initialisation than training without it.",
    "deeper-layer CCA to initialisation, warmup minus no warmup",
    "with warmup the deeper layers stay closer",
    "without warmup the deeper layers stay as close",
    similarity=True,
)
def warmup_deeper_gain(ev: Evidence, s: Settings, method: str | None) -> Measured:
    gains, numbers = warmup_gains(ev, s, method)
    return Measured({seed: dp for seed, (_, dp) in gains.items()}, numbers)


@claim(
    "RQ2.4",
    "b",
    "Freezing the fully-connected layers during the warmup period recovers warmup's accuracy.",
    "accuracy of frozen classifier minus warmup",
    "frozen is on par with warmup or better",
    "frozen trails warmup",
    kind=NONINFERIOR,
)
def frozen_on_par(ev: Evidence, s: Settings, method: str | None) -> Measured:
    q = ev.questions["rq2"]
    w, fr = q["warmup"]["run"], q["frozen"]["run"]
    numbers = accuracy_text(ev, [run for _, run, _ in ev.rq2_setups()], {})
    check_runs(ev, [w, fr], s, numbers)
    af, aw = accuracies(ev, fr), accuracies(ev, w)
    return Measured({seed: af[seed] - aw[seed] for seed in ev.seeds}, numbers)


# ------------------------------------------------------------------------- RQ3: distillation
@claim(
    "RQ3.1",
    "c",
    "In the deeper layers the distilled student is more similar to the teacher than the "
    "student trained without distillation.",
    "deeper-layer CCA gain with distillation",
    "the distilled student is closer",
    "the plain student is as close",
    similarity=True,
)
def distilled_deeper_gain(ev: Evidence, s: Settings, method: str | None) -> Measured:
    gains, numbers = distillation_gains(ev, s, method)
    return Measured({seed: dp for seed, (_, dp) in gains.items()}, numbers)


@claim(
    "RQ3.2",
    "c",
    "The teacher's knowledge lands in the deeper layers: distillation's gain in CCA with the "
    "teacher is larger there than in the shallow layers.",
    "distillation's CCA gain, deeper minus shallow layers",
    "the gain is larger in the deeper layers",
    "the gain is not larger in the deeper layers",
    similarity=True,
)
def distilled_lands_deeper(ev: Evidence, s: Settings, method: str | None) -> Measured:
    gains, numbers = distillation_gains(ev, s, method)
    return Measured({seed: dp - sh for seed, (sh, dp) in gains.items()}, numbers)


@claim(
    "RQ3.3",
    "c",
    "Distillation improves the student's validation accuracy.",
    "accuracy gain with distillation",
    "distillation helps",
    "the plain student is as accurate",
)
def distillation_accuracy(ev: Evidence, s: Settings, method: str | None) -> Measured:
    q = ev.questions["rq3"]
    d, p = q.get("distilled"), q.get("plain")
    if not d or not p:
        raise NotMeasured("questions.rq3 names no distilled and plain students")
    numbers = accuracy_text(ev, [d, p], {})
    check_runs(ev, [d, p], s, numbers)
    ad, ap = accuracies(ev, d), accuracies(ev, p)
    return Measured({seed: ad[seed] - ap[seed] for seed in ev.seeds}, numbers)


# ------------------------------------------------------------------------- RQ4: overall
@claim(
    "RQ4.1",
    "d",
    "Two independently trained networks are more alike in their shallow layers than in "
    "their deeper layers.",
    "shallow minus deeper-layer CCA, seed k vs seed k+1",
    "the shallow layers are more alike",
    "the deeper layers are as alike",
    similarity=True,
)
def independent_shallow_alike(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return shallow_minus_deeper(ev, s, method, "independent", last=True)


@claim(
    "RQ4.2",
    "d",
    "Networks trained with different heuristics (SGDR and step decay) are more alike in "
    "their shallow layers than in their deeper layers at the end of training.",
    "shallow minus deeper-layer CCA, SGDR vs step decay",
    "the shallow layers are more alike",
    "the deeper layers are as alike",
    similarity=True,
)
def heuristics_shallow_alike(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return shallow_minus_deeper(ev, s, method, "heuristics", last=False)


@claim(
    "RQ4.3",
    "e",
    "A simple curve joins two independently trained optima (seed k and seed k+1) without a "
    "barrier in the training loss: the loss surface between them is connected.",
    "curve barrier below its threshold, seed k vs seed k+1 (train loss)",
    "the curve between independent optima stays below the threshold",
    "the curve between independent optima has a barrier",
    zero_margin=True,
)
def independent_optima_connected(ev: Evidence, s: Settings, method: str | None) -> Measured:
    name = ev.questions.get("rq4", {}).get("curve")
    if not name:
        raise NotMeasured("questions.rq4.curve names no curve")
    return curve_below(ev, s, name, " (seed k → seed k+1)")
