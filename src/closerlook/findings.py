"""findings.md and findings.json: every claim of closerlook.claims decided on the study's
numbers, across seeds and similarity measures, after its preconditions; and each paper
finding's combined verdict.

Each claim's effect is measured in every seed and decided by the rule of closerlook.decision
(the 95% Student-t interval against 0 and the margin; one seed: farther than the margin from
the bound). A claim whose precondition fails (closerlook.preconditions) is *not testable
here*. Similarity claims are decided under every measure computed; the primary measure
(`figures.method`) gives the headline verdict. A depth claim also reports sensitivity rows:
the same claim on the other partitions of closerlook.partitions. findings.md and
findings.json are two renderings of one evaluation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from closerlook import preconditions
from closerlook.claims import CLAIMS, CONTEXT, FOR, Claim
from closerlook.decision import (
    CONTRADICTS,
    INCONCLUSIVE,
    NOT_TESTABLE,
    SUPPORTS,
    VERDICTS,
    Decision,
    decide,
)
from closerlook.effects import Measured, NotMeasured, Settings
from closerlook.evidence import Evidence, load_evidence
from closerlook.partitions import PRIMARY, Partition
from closerlook.preconditions import Check
from closerlook.stats import Interval

__all__ = ["Settings", "Evidence", "load_evidence", "all_findings", "CLAIMS"]


@dataclass
class Sensitivity:
    """A depth claim decided on another partition (primary measure)."""

    variant: str
    partition: Partition
    decision: Decision


@dataclass
class Finding:
    """One claim decided: the headline `decision` (the primary measure's, or the only one),
    the decision under every similarity measure (`decisions`), the values measured
    (`numbers`), its preconditions (`checks`), the partition it was read on and the
    sensitivity rows, and machine-readable values (`extra`: barriers)."""

    claim_id: str
    decision: Decision
    numbers: str
    decisions: dict[str, Decision] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    partition: Partition | None = None
    sensitivity: list[Sensitivity] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return self.decision.verdict

    @property
    def reason(self) -> str:
        return self.decision.reason

    @property
    def effect(self) -> Interval | None:
        """The mean effect across seeds with its 95% interval (None when not measured)."""
        return self.decision.effect

    @property
    def seeds_supporting(self) -> int:
        return self.decision.seeds_supporting

    @property
    def n_seeds(self) -> int:
        return self.decision.n_seeds

    @property
    def per_seed(self) -> dict[int, float]:
        return self.decision.per_seed

    @property
    def by_method(self) -> dict[str, str]:
        return {m: d.verdict for m, d in self.decisions.items()}

    @property
    def method_reasons(self) -> dict[str, str]:
        return {m: d.reason for m, d in self.decisions.items()}

    @property
    def spec(self) -> Claim:
        return CLAIMS[self.claim_id]

    @property
    def question(self) -> str:
        return self.spec.question

    @property
    def claim(self) -> str:
        return self.spec.statement

    @property
    def paper(self) -> str:
        return self.spec.paper

    @property
    def effect_name(self) -> str:
        return self.spec.effect

    @property
    def one_seed(self) -> bool:
        return self.decision.one_seed

    @property
    def speaks(self) -> str:
        """Whether the verdict speaks for the paper's finding, against it, or neither."""
        polarity = self.spec.polarity
        if polarity == CONTEXT or self.verdict not in (SUPPORTS, CONTRADICTS):
            return "neither"
        return "for" if (self.verdict == SUPPORTS) == (polarity == FOR) else "against"

    def verdict_cell(self) -> str:
        """The verdict in words, marked "1 seed" when no interval across seeds stands behind
        it."""
        word = "not testable here" if self.verdict == NOT_TESTABLE else self.verdict
        return f"{word} (1 seed)" if self.one_seed and self.verdict != NOT_TESTABLE else word


def _measure(c: Claim, ev: Evidence, s: Settings, m: str | None) -> Measured | NotMeasured:
    try:
        return c.measure(ev, s, m)
    except NotMeasured as e:
        return e


def _decision(c: Claim, ev: Evidence, s: Settings, measured: Measured | NotMeasured) -> Decision:
    if isinstance(measured, NotMeasured):
        return Decision(INCONCLUSIVE, measured.reason, n_seeds=len(ev.seeds))
    return decide(measured.effects, c.rule(s), c.what, c.opposite, measured.outright)


def _not_testable(d: Decision, failed: Sequence[Check]) -> Decision:
    why = "; ".join(f"{k.requires} ({k.detail})" for k in failed)
    return dataclasses.replace(d, verdict=NOT_TESTABLE, reason=f"not testable here: it needs {why}")


def _sensitivity(c: Claim, ev: Evidence, s: Settings, method: str | None) -> list[Sensitivity]:
    out = []
    for variant in ev.questions.get("partitions", {}).get(c.question.lower(), {}):
        if variant == PRIMARY:
            continue
        measured = _measure(c, ev, dataclasses.replace(s, partition=variant), method)
        if isinstance(measured, Measured) and measured.partition is not None:
            out.append(Sensitivity(variant, measured.partition, _decision(c, ev, s, measured)))
    return out


def evaluate(c: Claim, ev: Evidence, s: Settings) -> Finding:
    """Claim `c` decided on `ev`: its preconditions first (one that fails makes every
    verdict not testable), then under every measure for a similarity claim (the primary
    one's verdict first), once otherwise, and on the sensitivity partitions."""
    checks = [preconditions.measure(name, ev, s) for name in c.requires]
    failed = [k for k in checks if k.holds is False]
    methods: list[str | None] = list(ev.measures) if c.similarity else [None]
    decisions: dict[str | None, Decision] = {}
    first: Measured | NotMeasured | None = None
    for m in methods:
        measured = _measure(c, ev, s, m)
        first = measured if first is None else first
        d = _decision(c, ev, s, measured)
        decisions[m] = _not_testable(d, failed) if failed else d
    d = decisions[methods[0]]
    numbers = first.numbers if first is not None else ""
    if len(d.per_seed) > 1 and d.effect is not None:
        under = f" ({methods[0]})" if methods[0] else ""
        per = " / ".join(f"{x:+.3f}" for x in d.per_seed.values())
        numbers = f"{numbers}; effect per seed{under} {per}"
    measured = first if isinstance(first, Measured) else None
    return Finding(
        c.id,
        d,
        numbers or "not measured",
        {m: x for m, x in decisions.items() if m is not None},
        checks,
        measured.partition if measured else None,
        _sensitivity(c, ev, s, methods[0]) if c.depth and measured else [],
        (measured.extra or {}) if measured else {},
    )


def all_findings(ev: Evidence, s: Settings) -> list[Finding]:
    """Every claim of the registry, in order."""
    return [evaluate(c, ev, s) for c in CLAIMS.values()]


def verdicts(ev: Evidence, settings: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(claim id, verdict cell, reason) of every claim, for the summary figure."""
    found = all_findings(ev, Settings.from_config(settings))
    return [(f.claim_id, f.verdict_cell(), f.reason) for f in found]


# ------------------------------------------------------------------------- per finding
SUPPORTED, CONTRADICTED, MIXED = "supported", "contradicted", "mixed"
FINDING_RULE = (
    "A paper finding is **supported** when at least one of its claims speaks for it and none "
    "against it, **contradicted** when at least one speaks against it and none for it, "
    "**mixed** when claims speak both ways, **not testable here** when every claim that "
    "could speak is not testable, and **inconclusive** otherwise. A claim speaks *for* the "
    "finding when it supports a claim the finding predicts (or contradicts one the finding "
    "rules out) and *against* it the other way round; context claims (accuracies, "
    "warmup's stabilising, the line barrier that RQ1.2 needs) speak neither way."
)


def finding_verdict(findings: Sequence[Finding], letter: str) -> str:
    """The combined verdict of paper finding `letter` under FINDING_RULE."""
    mine = [f for f in findings if f.paper == letter and f.spec.polarity != CONTEXT]
    speaks = {f.speaks for f in mine}
    if "for" in speaks and "against" in speaks:
        return MIXED
    if "for" in speaks:
        return SUPPORTED
    if "against" in speaks:
        return CONTRADICTED
    if mine and all(f.verdict == NOT_TESTABLE for f in mine):
        return "not testable here"
    return INCONCLUSIVE


def summary(findings: Sequence[Finding]) -> str:
    """The overall line: how many claims each verdict has, which are contradicted, undecided
    or not testable, and how many similarity claims every measure agrees on."""
    counts = {v: sum(f.verdict == v for f in findings) for v in VERDICTS}
    line = (
        ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in counts.items())
        + f" of {len(findings)} claims"
    )
    words = (
        (CONTRADICTS, "contradicted"),
        (INCONCLUSIVE, "undecided"),
        (NOT_TESTABLE, "not testable"),
    )
    for verdict, word in words:
        ids = [f.claim_id for f in findings if f.verdict == verdict]
        if ids:
            line += f"; {word}: {', '.join(ids)}"
    similar = [f for f in findings if f.by_method and f.verdict != NOT_TESTABLE]
    agree = sum(len(set(f.by_method.values())) == 1 for f in similar)
    measures = max((len(f.by_method) for f in similar), default=0)
    plural = "s" if measures != 1 else ""
    agreement = (
        f"{agree} of {len(similar)} testable similarity claims agree across {measures} measure"
    )
    return f"{line}; {agreement}{plural}"
