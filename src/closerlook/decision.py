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

With one seed there is no interval: the value decides against the margin (x > m supports a
positive claim, x < m contradicts it; x > −m supports non-inferiority, x < −m contradicts),
and the verdict says "1 seed". A value of +inf is an outright support counted without a
number (a run that diverged without warmup); a NaN decides nothing.

Example (hand-computed): effects 0.10, 0.02, 0.06 over 3 seeds, m = 0.02. x̄ = 0.06,
s = 0.04, t₀.₉₇₅,₂ = 4.303, half-width 4.303 · 0.04/√3 = 0.0994, interval [−0.039, 0.159]:
it contains 0, so the positive claim is inconclusive although every seed is above +m.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from closerlook.stats import Interval, mean_interval

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"
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

    def point(self, x: float) -> str:
        """The verdict of one value (one seed)."""
        bound = self.margin if self.kind == POSITIVE else -self.margin
        if x > bound:
            return SUPPORTS
        return CONTRADICTS if x < bound else INCONCLUSIVE

    def interval(self, iv: Interval) -> str:
        """The verdict of a mean with its 95% interval (module docstring)."""
        if iv.low > self.floor and (self.kind != POSITIVE or iv.mean > self.margin):
            return SUPPORTS
        return CONTRADICTS if iv.high < self.ceiling else INCONCLUSIVE

    def condition(self, one_seed: bool = False) -> str:
        """What supporting takes, in words."""
        if one_seed:
            return f"1 seed: value > {_signed(self.ceiling)}"
        if self.kind == POSITIVE:
            return f"interval above 0, mean > {_signed(self.margin)}"
        return f"interval above {_signed(-self.margin)}"


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

    @property
    def one_seed(self) -> bool:
        """Decided on a single value, not on an interval across seeds."""
        return self.effect is not None and self.effect.n == 1


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
    verdict = rule.point(iv.mean) if iv.n == 1 else rule.interval(iv)
    text = iv.format(signed=True)
    if verdict == SUPPORTS:
        reason = f"{what}: {text} ({rule.condition(iv.n == 1)})"
    elif verdict == CONTRADICTS:
        which = "1 seed: value" if iv.n == 1 else "interval"
        reason = f"{opposite}: {text} ({which} below {_signed(rule.ceiling)})"
    elif iv.n == 1:
        reason = f"{text} equals the margin {_signed(rule.ceiling)}"
    else:
        reason = _inconclusive_reason(iv, rule)
    return Decision(verdict, reason, iv, k, n, effects)
