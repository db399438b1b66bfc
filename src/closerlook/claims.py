"""The claims of Gotmare et al. (ICLR 2019) that findings.md decides: one registry, one small
function per claim.

A claim function reads the evidence and returns the effect in every seed with the numbers
behind it, for one similarity measure (or for none); it raises :class:`NotMeasured` when the
evidence cannot say (a run missing, diverged or too short, an analysis not configured).
closerlook.decision turns the effects into a verdict; closerlook.findings renders them.
Each claim names the preconditions it needs (closerlook.preconditions), whether supporting
it speaks for or against its paper finding, or only gives context (`polarity`), and which
margin it is read with (accuracy, similarity, or none for a barrier against its threshold).

The paper's findings, by letter:
(a) restarts are not explained by escaping barriers; (b) warmup keeps the deeper layers from
changing too much, and freezing them gives similar stability; (c) distillation's knowledge
lands in the deeper layers; (d) shallow layers are more alike across networks than deeper
ones; (e) mode connectivity joins different optima by high-accuracy curves.
"""

from __future__ import annotations

import math

from closerlook import connectivity_claims, instability
from closerlook.claim_spec import (
    ACCURACY,
    AGAINST,
    CLAIMS,
    CONTEXT,
    FOR,
    NONE,
    PAPER_FINDINGS,
    SIMILARITY,
    Claim,
    claim,
)
from closerlook.contrasts import (
    distillation_gains,
    restart_against_drop,
    shallow_minus_deeper,
    warmup_gains,
)
from closerlook.decision import NONINFERIOR
from closerlook.effects import (
    Measured,
    NotMeasured,
    Settings,
    accuracies,
    accuracy_text,
    check_runs,
    read_epoch,
    run_problem,
)
from closerlook.evidence import Evidence, diverged_epoch

__all__ = [
    "connectivity_claims",  # registers the claims decided on barriers (RQ1.1, 1.2, 4.3, 4.4)
    "ACCURACY", "AGAINST", "CLAIMS", "CONTEXT", "FOR", "NONE", "PAPER_FINDINGS", "SIMILARITY",
    "Claim",
]  # fmt: skip


# ------------------------------------------------------------------------- RQ1: restarts
@claim(
    "RQ1.3",
    "a",
    "A restart moves the representations no farther than a step-decay learning-rate drop "
    "does over a window of the same length: per-layer CCA across a restart is on par with "
    "CCA across a drop, or higher.",
    "CCA above its floor across a restart minus across a step-decay drop (mean over layers)",
    "a restart moves the network no farther than a drop",
    "a restart moves the network farther than a drop",
    kind=NONINFERIOR,
    similarity=True,
    requires=("restarts_move",),
)
def restart_vs_drop(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return restart_against_drop(ev, s, method)


@claim(
    "RQ1.4",
    "a",
    "SGDR, read at its last completed cycle, ends with a validation accuracy on par with "
    "step decay and single-cycle cosine.",
    "SGDR accuracy minus the best baseline's",
    "SGDR is on par with the best baseline or better",
    "SGDR trails the best baseline",
    kind=NONINFERIOR,
    polarity=CONTEXT,
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
def _early_lows(ev: Evidence) -> tuple[str, dict[str, dict[int, float]]]:
    """The lowest validation accuracy in RQ2's window of every configured RQ2 run, per seed,
    and the same in words."""
    if not ev.questions["rq2"].get("window"):
        raise NotMeasured("RQ2's runs are not configured (questions.rq2), so it has no window")
    w = instability.Window(*ev.questions["rq2"]["window"])
    lows, parts = {}, []
    for _, run, _ in ev.rq2_setups():
        if run in ev.metrics:
            low = {seed: instability.lowest_accuracy(ev.metrics[run][seed], w) for seed in ev.seeds}
            lows[run] = {seed: a for seed, (a, _) in low.items()}
            parts.append(
                f"{run} " + " / ".join(f"{100 * a:.1f}% (epoch {e})" for a, e in low.values())
            )
    return f"lowest validation accuracy in {w.text()}: " + ", ".join(parts), lows


def _early_gain(ev: Evidence, s: Settings, role: str, against: str) -> Measured:
    """The lowest early validation accuracy of RQ2 setup `role` minus `against`'s, per seed."""
    q = ev.questions["rq2"]
    run, other = q[role]["run"], q[against]["run"]
    numbers, lows = _early_lows(ev)
    problem = run_problem(ev, [run, other], s, allow_diverged=True)
    if problem:
        raise NotMeasured(problem, numbers)
    return Measured({seed: lows[run][seed] - lows[other][seed] for seed in ev.seeds}, numbers)


@claim(
    "RQ2.1",
    "b",
    "A large batch at a high learning rate trains less stably without warmup than with it: "
    "after the warmup period, early in training, its validation accuracy falls lower.",
    "lowest early validation accuracy, warmup minus no warmup",
    "warmup keeps early training more stable",
    "without warmup early training is as stable",
    polarity=CONTEXT,
    requires=("no_warmup_unstable",),
)
def warmup_stability(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return _early_gain(ev, s, "warmup", "no_warmup")


@claim(
    "RQ2.2",
    "b",
    "Warmup protects the deeper layers specifically: its gain in CCA to initialisation "
    "(with minus without warmup), read after the instability, is larger in the deeper "
    "layers than in the shallow ones.",
    "warmup's CCA gain above the floor, deeper minus shallow layers",
    "warmup's gain is larger in the deeper layers",
    "warmup's gain is not larger in the deeper layers",
    similarity=True,
    depth=True,
    requires=("no_warmup_unstable", "warmup_stable", "read_after_instability"),
)
def warmup_protects_deeper(ev: Evidence, s: Settings, method: str | None) -> Measured:
    m = warmup_gains(ev, s, method)
    m.effects = {seed: dp - sh for seed, (sh, dp) in m.effects.items()}
    return m


@claim(
    "RQ2.3",
    "b",
    "Warmup keeps the deeper layers closer to initialisation than training without it.",
    "deeper-layer CCA to initialisation above the floor, warmup minus no warmup",
    "with warmup the deeper layers stay closer",
    "without warmup the deeper layers stay as close",
    similarity=True,
    depth=True,
    requires=("no_warmup_unstable", "warmup_stable", "read_after_instability"),
)
def warmup_deeper_gain(ev: Evidence, s: Settings, method: str | None) -> Measured:
    m = warmup_gains(ev, s, method)
    m.effects = {seed: dp for seed, (_, dp) in m.effects.items()}
    return m


@claim(
    "RQ2.4",
    "b",
    "Freezing the fully-connected layers during the warmup period recovers warmup's "
    "stability: early in training the frozen run's validation accuracy falls no lower.",
    "lowest early validation accuracy, frozen classifier minus warmup",
    "frozen is on par with warmup or better",
    "frozen trails warmup",
    kind=NONINFERIOR,
    requires=("no_warmup_unstable", "warmup_stable"),
)
def frozen_stability(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return _early_gain(ev, s, "frozen", "warmup")


@claim(
    "RQ2.5",
    "b",
    "After training, the large batch without warmup is less accurate (or diverged) than "
    "with warmup.",
    "final accuracy gain with warmup",
    "warmup ends more accurate",
    "the run without warmup ends as accurate",
    polarity=CONTEXT,
    requires=("no_warmup_unstable",),
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
    "RQ2.6",
    "b",
    "After training, the run with the classifier frozen during the warmup period is as "
    "accurate as the run with warmup.",
    "final accuracy of frozen classifier minus warmup",
    "frozen ends on par with warmup or better",
    "frozen ends behind warmup",
    kind=NONINFERIOR,
    polarity=CONTEXT,
    requires=("no_warmup_unstable", "warmup_stable"),
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
    "deeper-layer CCA gain above the floor with distillation",
    "the distilled student is closer",
    "the plain student is as close",
    similarity=True,
    depth=True,
    requires=("teacher_better",),
)
def distilled_deeper_gain(ev: Evidence, s: Settings, method: str | None) -> Measured:
    m = distillation_gains(ev, s, method)
    m.effects = {seed: dp for seed, (_, dp) in m.effects.items()}
    return m


@claim(
    "RQ3.2",
    "c",
    "The teacher's knowledge lands in the deeper layers: distillation's gain in CCA with the "
    "teacher is larger there than in the shallow layers.",
    "distillation's CCA gain above the floor, deeper minus shallow layers",
    "the gain is larger in the deeper layers",
    "the gain is not larger in the deeper layers",
    similarity=True,
    depth=True,
    requires=("teacher_better",),
)
def distilled_lands_deeper(ev: Evidence, s: Settings, method: str | None) -> Measured:
    m = distillation_gains(ev, s, method)
    m.effects = {seed: dp - sh for seed, (sh, dp) in m.effects.items()}
    return m


@claim(
    "RQ3.3",
    "c",
    "Distillation improves the student's validation accuracy.",
    "accuracy gain with distillation",
    "distillation helps",
    "the plain student is as accurate",
    polarity=CONTEXT,
    requires=("teacher_better",),
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
    "shallow minus deeper-layer CCA above the floor, replicate k vs its partner k + 500",
    "the shallow layers are more alike",
    "the deeper layers are as alike",
    similarity=True,
    depth=True,
)
def independent_shallow_alike(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return shallow_minus_deeper(ev, s, method, "independent", last=True)


@claim(
    "RQ4.2",
    "d",
    "Networks trained with different heuristics (SGDR and step decay) are more alike in "
    "their shallow layers than in their deeper layers at the end of training.",
    "shallow minus deeper-layer CCA above the floor, SGDR vs step decay",
    "the shallow layers are more alike",
    "the deeper layers are as alike",
    similarity=True,
    depth=True,
)
def heuristics_shallow_alike(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return shallow_minus_deeper(ev, s, method, "heuristics", last=False)
