"""The claims decided on mode connectivity (closerlook.barriers): the error barrier along the
straight line and along a fitted curve between two checkpoints (Garipov et al. 2018;
Frankle et al. 2020), for SGDR's restarts (finding (a); RQ1.1, RQ1.2), independently trained
optima (finding (e); RQ4.3) and optima trained differently, the robustness of (e) (RQ4.4).

A claim over several curves (every configured restart pair; every robustness curve) reads
the largest barrier among them in each seed: a valley is connected when every pair is.
"""

from __future__ import annotations

from collections.abc import Sequence

from closerlook.claim_spec import CONTEXT, NONE, claim
from closerlook.effects import Measured, NotMeasured, Settings, barrier_effect
from closerlook.evidence import Evidence


def configured_curves(ev: Evidence, names: Sequence[str | None]) -> list[str]:
    """The curves of `names` the study has (a name left at its default that is not
    configured is left out), in order, once each."""
    return [n for n in dict.fromkeys(names) if n and n in ev.curve_sets]


def restart_curves(ev: Evidence) -> list[str]:
    """RQ1's curves between SGDR restarts: `questions.rq1.curve` (needed: a claim on it is
    not measured without it), then `earlier` where it is configured."""
    q = ev.questions.get("rq1", {})
    main = q.get("curve")
    if not main:
        return []
    return [main, *(n for n in configured_curves(ev, [q.get("earlier")]) if n != main)]


def robustness_curves(ev: Evidence) -> list[str]:
    """RQ4's curves between optima trained differently (`questions.rq4.robustness`)."""
    return configured_curves(ev, ev.questions.get("rq4", {}).get("robustness", []))


def largest_barrier(
    ev: Evidence, s: Settings, names: Sequence[str], path: str, seeds: str = ""
) -> Measured:
    """Per seed, the largest `path` error barrier (train) among the curves `names` minus the
    threshold, with every curve's numbers."""
    if not names:
        raise NotMeasured("no such curve is configured")
    each = [barrier_effect(ev, s, name, path, seeds) for name in names]
    effects = {seed: max(m.effects[seed] for m in each) for seed in ev.seeds}
    if len(each) == 1:
        return each[0]
    numbers = "; ".join(f"curve '{n}': {m.numbers}" for n, m in zip(names, each, strict=True))
    extra = {f"{n}.{k}": v for n, m in zip(names, each, strict=True) for k, v in m.extra.items()}
    return Measured(effects, numbers, extra=extra)


def negated(m: Measured) -> Measured:
    """The threshold minus the barrier: positive where the path has none."""
    m.effects = {seed: -x for seed, x in m.effects.items()}
    return m


# ------------------------------------------------------------------------- RQ1: restarts
@claim(
    "RQ1.1",
    "a",
    "The straight line between SGDR iterates at two restarts crosses a barrier: its training "
    "error rises above the interpolation of the endpoints' errors.",
    "line error barrier (train, a fraction) minus its threshold, the largest over the "
    "restart pairs",
    "the line has an error barrier",
    "the line has no error barrier",
    margin=NONE,
    polarity=CONTEXT,
)
def line_barrier(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return largest_barrier(ev, s, restart_curves(ev), "line")


@claim(
    "RQ1.2",
    "e",
    "A simple curve joins the same iterates without that barrier: the restarts stay in one "
    "connected valley.",
    "threshold minus the curve's error barrier (train, a fraction), the largest over the "
    "restart pairs",
    "the curve has no error barrier",
    "the curve has an error barrier too",
    margin=NONE,
    requires=("restart_line_barrier",),
)
def restart_curve(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return negated(largest_barrier(ev, s, restart_curves(ev), "curve"))


# ----------------------------------------------------------------- RQ4: connected optima
@claim(
    "RQ4.3",
    "e",
    "A simple curve joins two independently trained optima (replicate k and its partner "
    "k + 500) without an error barrier, where the straight line between them meets one: the "
    "surface between them is connected.",
    "threshold minus the curve's error barrier (train, a fraction), replicate k vs k + 500",
    "the curve between independent optima has no error barrier",
    "the curve between independent optima has an error barrier",
    margin=NONE,
    requires=("independent_line_barrier",),
)
def independent_optima_connected(ev: Evidence, s: Settings, method: str | None) -> Measured:
    name = ev.questions.get("rq4", {}).get("curve")
    if not name:
        raise NotMeasured("questions.rq4.curve names no curve")
    return negated(barrier_effect(ev, s, name, "curve", " (replicate k → k + 500)"))


@claim(
    "RQ4.4",
    "e",
    "Mode connectivity is robust to how the optima were trained: a simple curve joins optima "
    "of different heuristics (SGDR and step decay; a large batch with warmup and a small "
    "batch), networks that share no initialisation, without an error barrier where the "
    "straight line meets one.",
    "threshold minus the curve's error barrier (train, a fraction), the largest over the "
    "robustness curves",
    "the curves between differently trained optima have no error barrier",
    "a curve between differently trained optima has an error barrier",
    margin=NONE,
    requires=("robust_line_barrier",),
)
def robust_connectivity(ev: Evidence, s: Settings, method: str | None) -> Measured:
    return negated(largest_barrier(ev, s, robustness_curves(ev), "curve"))
