"""How a claim is decided: the standard reading of a 95% confidence interval.

A claim is about an *effect* measured once per seed (a difference of accuracies, a gain in
similarity, a barrier height against its threshold). Across the n seeds the effects
x_1 … x_n are summarised by their mean x̄ and 95% Student-t interval [lo, hi] =
x̄ ∓ t₀.₉₇₅,ₙ₋₁ · s/√n (closerlook.stats), and read with a relevance margin m:

- a claim that the effect is **positive** ("warmup helps") *supports* when the whole interval
  lies above 0 and x̄ > m; it *contradicts* when the whole interval lies below +m (the data
  rule out a relevant effect in the claimed direction); otherwise it is *inconclusive*;
- a **non-inferiority** claim ("on par or better": effect ≥ −m) *supports* when the whole
  interval lies above −m and *contradicts* when it lies wholly below −m.

With one seed there is no interval, and a verdict is given only when the value lies farther
than the margin from the claim's bound b (0 for a positive claim, −m for non-inferiority):
x > b + m supports, x < b − m contradicts, anything in between is inconclusive. So a
positive claim supports above +m and contradicts below −m; non-inferiority supports above 0
and contradicts below −2m; with m = 0 the sign decides and exactly 0 is inconclusive. The
verdict says "1 seed". A value of +inf is an outright support counted without a number (a
run that diverged without warmup); a NaN decides nothing. The seeds that support on their
own (`seeds_supporting`) are counted by the same one-seed rule.

Example (hand-computed): effects 0.10, 0.02, 0.06 over 3 seeds, m = 0.02. x̄ = 0.06,
s = 0.04, t₀.₉₇₅,₂ = 4.303, half-width 4.303 · 0.04/√3 = 0.0994, interval [−0.039, 0.159]:
it contains 0, so the positive claim is inconclusive although every seed is above +m.

Example, one seed (hand-computed), m = 0.02: x = +0.004 lies within 0.02 of the bound 0,
so a positive claim is inconclusive (it neither exceeds +0.02 nor falls below −0.02), while
non-inferiority (bound −0.02) supports, as +0.004 > −0.02 + 0.02 = 0. x = −0.03
contradicts a positive claim (−0.03 < −0.02) and leaves non-inferiority inconclusive
(−0.04 ≤ −0.03 ≤ 0).

With n ≥ 2 values a decision also states its power (`Decision.power_text`): the verdict the
observed mean points to (`would`) and how many seeds the observed SD needs for the interval
to reach it with 80% power (`closerlook.stats.seeds_needed`, noncentral t). For the example
above (x̄ = 0.06 > m, s = 0.04, d = 1.5 against 0) that is 6 seeds for "supports" (power
0.71 at n = 5, 0.83 at n = 6; a simulation of 200 000 samples agrees).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from closerlook.stats import ABOVE, BELOW, POWER, Interval, mean_interval, seeds_needed

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"
NOT_TESTABLE = "not_testable"  # set by a caller when a claim's precondition fails
VERDICTS = (SUPPORTS, CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE)
MAX_SEEDS = 1000  # the largest sample size the power statement searches
POSITIVE, NONINFERIOR = "positive", "noninferior"


def _signed(x: float) -> str:
    return "0" if x == 0 else f"{x:+g}"


@dataclass(frozen=True)
class Rule:
    """How an effect is read: `kind` POSITIVE (effect > margin, interval above 0) or
    NONINFERIOR (effect ≥ −margin), with the relevance `margin` m ≥ 0."""

    kind: str
    margin: float

    @property
    def floor(self) -> float:
        """The bound the whole interval must clear to support: 0, or −m."""
        return 0.0 if self.kind == POSITIVE else -self.margin

    @property
    def ceiling(self) -> float:
        """The bound below which the whole interval contradicts: +m, or −m."""
        return self.margin if self.kind == POSITIVE else -self.margin

    @property
    def point_above(self) -> float:
        """One seed supports above this: the bound plus the margin (+m, or 0)."""
        return self.floor + self.margin

    @property
    def point_below(self) -> float:
        """One seed contradicts below this: the bound minus the margin (−m, or −2m)."""
        return self.floor - self.margin

    def point(self, x: float) -> str:
        """The verdict of one value (one seed): decided only farther than m from the bound."""
        if x > self.point_above:
            return SUPPORTS
        return CONTRADICTS if x < self.point_below else INCONCLUSIVE

    def interval(self, iv: Interval) -> str:
        """The verdict of a mean with its 95% interval (module docstring)."""
        if iv.low > self.floor and (self.kind != POSITIVE or iv.mean > self.margin):
            return SUPPORTS
        return CONTRADICTS if iv.high < self.ceiling else INCONCLUSIVE

    def condition(self, one_seed: bool = False) -> str:
        """What supporting takes, in words."""
        if one_seed and self.margin == 0:
            return f"1 seed: value above {_signed(self.floor)}"
        if one_seed:
            return (
                f"1 seed: value above {_signed(self.point_above)}, "
                f"the bound {_signed(self.floor)} plus the margin {self.margin:g}"
            )
        if self.kind == POSITIVE:
            return f"interval above 0, mean > {_signed(self.margin)}"
        return f"interval above {_signed(-self.margin)}"

    def aim(self, mean: float) -> tuple[str, float, str]:
        """The verdict a true `mean` leads the interval to, the bound it must clear and from
        which side: (SUPPORTS, 0 or −m, "above") when the mean passes the support threshold
        (+m, or −m), else (CONTRADICTS, +m or −m, "below")."""
        if mean > self.ceiling:
            return SUPPORTS, self.floor, ABOVE
        return CONTRADICTS, self.ceiling, BELOW


@dataclass
class Decision:
    """A claim decided under one measure (or without one): the effect per seed, their mean
    with its 95% interval, and how many of the `n_seeds` seeds support on their own."""

    verdict: str
    reason: str
    effect: Interval | None = None
    seeds_supporting: int = 0
    n_seeds: int = 0
    per_seed: dict[int, float] = field(default_factory=dict)
    seeds_needed: int | None = None
    would: str = ""

    @property
    def one_seed(self) -> bool:
        """Decided on a single value, not on an interval across seeds."""
        return self.effect is not None and self.effect.n == 1

    def power_text(self) -> str:
        """How many seeds the observed SD needs for the interval to reach `would` with 80%
        power (one-sample t-test, noncentral t; closerlook.stats.seeds_needed); "" without
        two finite values."""
        if not self.would or self.effect is None or self.effect.n < 2:
            return ""
        sd = _sd(self.per_seed)
        n = f"{self.seeds_needed} seeds" if self.seeds_needed else f"more than {MAX_SEEDS} seeds"
        return (
            f"the observed spread (sd {sd:.3g}) needs {n} to decide '{self.would}' with "
            f"{POWER:.0%} power (one-sample t-test at the {self.effect.confidence:.0%} "
            "interval's level, noncentral t)"
        )


def _sd(per_seed: Mapping[int, float]) -> float:
    """The sample SD (n − 1 in the denominator) of the finite values."""
    x = np.array([v for v in per_seed.values() if math.isfinite(v)], dtype=float)
    return float(x.std(ddof=1)) if len(x) > 1 else math.nan


def _one_seed_reason(iv: Interval, rule: Rule, what: str, opposite: str, verdict: str) -> str:
    text = iv.format(signed=True)
    above, below = _signed(rule.point_above), _signed(rule.point_below)
    if verdict == SUPPORTS:
        return f"{what}: {text} ({rule.condition(one_seed=True)})"
    if verdict == CONTRADICTS:
        return f"{opposite}: {text} (1 seed: value below {below})"
    where = f"within {rule.margin:g} of" if rule.margin else "on"
    return (
        f"1 seed: {text} lies {where} the bound {_signed(rule.floor)} "
        f"(supports above {above}, contradicts below {below})"
    )


def _inconclusive_reason(iv: Interval, rule: Rule) -> str:
    text = f"[{iv.low:.3f}, {iv.high:.3f}]"
    if rule.kind != POSITIVE:
        return f"the 95% interval {text} contains {_signed(-rule.margin)}"
    if iv.low <= 0 and rule.margin == 0:
        return f"the 95% interval {text} contains 0"
    if iv.low <= 0:
        return f"the 95% interval {text} contains 0 and reaches {_signed(rule.margin)}"
    return f"the 95% interval {text} lies above 0, but the mean {iv.mean:+.3f} is within the margin"


def decide(
    effects: Mapping[int, float], rule: Rule, what: str, opposite: str, outright: str = ""
) -> Decision:
    """The verdict of the per-seed `effects` (seed -> effect) under `rule`; `what` and
    `opposite` say in words what support and contradiction mean, `outright` why the +inf
    seeds support. Outright supports beside finite seeds that contradict: inconclusive."""
    d = _decide(effects, rule, what, opposite)
    if not outright or not any(x == math.inf for x in effects.values()):
        return d
    if d.effect is None and d.verdict == SUPPORTS:
        d.reason = outright
    elif d.verdict == CONTRADICTS:
        d.verdict, d.reason = INCONCLUSIVE, f"{outright}, but the others show: {d.reason}"
    else:
        d.reason = f"{outright}; the others: {d.reason}"
    return d


def _decide(effects: Mapping[int, float], rule: Rule, what: str, opposite: str) -> Decision:
    effects = dict(sorted(effects.items()))
    n = len(effects)
    bad = [s for s, x in effects.items() if math.isnan(x) or x == -math.inf]
    if not effects or bad:
        where = f" (seed {bad[0]})" if bad and n > 1 else ""
        return Decision(INCONCLUSIVE, f"a measured value is NaN{where}", None, 0, n, effects)
    outright = [s for s, x in effects.items() if x == math.inf]
    values = [x for x in effects.values() if math.isfinite(x)]
    k = len(outright) + sum(rule.point(x) == SUPPORTS for x in values)
    if not values:
        return Decision(SUPPORTS, what, None, k, n, effects)
    iv = mean_interval(values)
    if iv.n == 1:
        verdict = rule.point(iv.mean)
        return Decision(
            verdict, _one_seed_reason(iv, rule, what, opposite, verdict), iv, k, n, effects
        )
    verdict = rule.interval(iv)
    text = iv.format(signed=True)
    if verdict == SUPPORTS:
        reason = f"{what}: {text} ({rule.condition()})"
    elif verdict == CONTRADICTS:
        reason = f"{opposite}: {text} (interval below {_signed(rule.ceiling)})"
    else:
        reason = _inconclusive_reason(iv, rule)
    would, bound, direction = rule.aim(iv.mean)
    sd = float(np.std(values, ddof=1))
    needed = seeds_needed(iv.mean, sd, bound, direction, iv.confidence, POWER, MAX_SEEDS)
    return Decision(verdict, reason, iv, k, n, effects, needed, would)
