"""findings.md: every claim of closerlook.claims decided on the study's numbers, across seeds
and similarity measures, and the document that reports them.

Each claim's effect is measured in every seed and decided by the rule of closerlook.decision
(the 95% Student-t interval against 0 and the margin). Similarity claims are decided under
every measure computed; the primary measure (`figures.method`) gives the headline verdict
and every measure's verdict is kept. The overall count of verdicts is a summary line, not a
claim of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from closerlook.claims import CLAIMS, PAPER_FINDINGS, Claim
from closerlook.decision import CONTRADICTS, INCONCLUSIVE, SUPPORTS, Decision, decide
from closerlook.effects import NotMeasured, Settings
from closerlook.evidence import Evidence, load_evidence
from closerlook.provenance import atomic_path
from closerlook.stats import Interval

__all__ = ["Settings", "Evidence", "load_evidence", "all_findings", "write", "CLAIMS"]


@dataclass
class Finding:
    """One claim decided: the headline `decision` (the primary measure's, or the only one),
    the decision under every similarity measure (`decisions`, empty where no measure
    applies) and the values measured (`numbers`)."""

    claim_id: str
    decision: Decision
    numbers: str
    decisions: dict[str, Decision] = field(default_factory=dict)

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

    def verdict_cell(self) -> str:
        """The verdict, marked "1 seed" when no interval across seeds stands behind it."""
        return f"{self.verdict} (1 seed)" if self.one_seed else self.verdict


def evaluate(c: Claim, ev: Evidence, s: Settings) -> Finding:
    """Claim `c` decided on `ev`: under every measure for a similarity claim (the primary
    one's verdict first), once otherwise."""
    methods: list[str | None] = list(ev.measures) if c.similarity else [None]
    decisions: dict[str | None, Decision] = {}
    numbers = ""
    for m in methods:
        try:
            measured = c.measure(ev, s, m)
        except NotMeasured as e:
            decisions[m] = Decision(INCONCLUSIVE, e.reason, n_seeds=len(ev.seeds))
            numbers = numbers or (e.numbers if m == methods[0] else "")
            continue
        decisions[m] = decide(measured.effects, c.rule(s), c.what, c.opposite, measured.outright)
        if m == methods[0]:
            numbers = measured.numbers
    d = decisions[methods[0]]
    if len(d.per_seed) > 1 and d.effect is not None:
        under = f" ({methods[0]})" if methods[0] else ""
        per = " / ".join(f"{x:+.3f}" for x in d.per_seed.values())
        numbers = f"{numbers}; effect per seed{under} {per}"
    return Finding(
        c.id,
        d,
        numbers or "not measured",
        {m: x for m, x in decisions.items() if m is not None},
    )


def all_findings(ev: Evidence, s: Settings) -> list[Finding]:
    """Every claim of the registry, in order."""
    return [evaluate(c, ev, s) for c in CLAIMS.values()]


def verdicts(ev: Evidence, settings: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(claim id, verdict cell, reason) of every claim, for the summary figure."""
    found = all_findings(ev, Settings(**settings))
    return [(f.claim_id, f.verdict_cell(), f.reason) for f in found]


def summary(findings: Sequence[Finding]) -> str:
    """The overall line: how many claims each verdict has, which are contradicted or
    undecided, and how many similarity claims every measure agrees on."""
    counts = {
        v: sum(f.verdict == v for f in findings) for v in (SUPPORTS, CONTRADICTS, INCONCLUSIVE)
    }
    line = ", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(findings)} claims"
    for verdict, word in ((CONTRADICTS, "contradicted"), (INCONCLUSIVE, "undecided")):
        ids = [f.claim_id for f in findings if f.verdict == verdict]
        if ids:
            line += f"; {word}: {', '.join(ids)}"
    similar = [f for f in findings if f.by_method]
    agree = sum(len(set(f.by_method.values())) == 1 for f in similar)
    measures = max((len(f.by_method) for f in similar), default=0)
    plural = "s" if measures != 1 else ""
    agreement = f"{agree} of {len(similar)} similarity claims agree across {measures} measure"
    return f"{line}; {agreement}{plural}"


# ------------------------------------------------------------------------- the document
RULE = (
    "A claim that an effect is positive **supports** only when the whole 95% interval lies "
    "above 0 and the mean passes the margin, and **contradicts** when the whole interval lies "
    "below +margin; a non-inferiority claim (“on par or better”, effect ≥ −margin) supports "
    "when the whole interval lies above −margin and contradicts when it lies wholly below; "
    "anything else is **inconclusive**. With one seed there is no interval: the value decides "
    "against the margin, and the verdict says “1 seed”. Example: effects 0.10, 0.02 and 0.06 "
    "over 3 seeds have mean 0.06 and interval 0.06 ± 4.303 · 0.04/√3 = [−0.039, 0.159], which "
    "contains 0: inconclusive at margin 0.02, although every seed passes it."
)


def _and(items: Sequence[str]) -> str:
    """ "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def effect_line(f: Finding) -> str:
    """e.g. "deeper-layer CCA gain with distillation: +0.120 [0.080, 0.160] over 3 seeds;
    holds for svcca, pwcca and cka (3/3 seeds)"."""
    seeds = f"{f.seeds_supporting}/{f.n_seeds} seeds"
    if f.effect is None:
        size = "not measured"
    else:
        plural = "s" if f.effect.n != 1 else ""
        size = f"{f.effect.format(signed=True)} over {f.effect.n} seed{plural}"
    if not f.by_method:
        return f"{f.effect_name}: {size}; {seeds} support"
    holds = [m for m, v in f.by_method.items() if v == SUPPORTS]
    return f"{f.effect_name}: {size}; holds for {_and(holds) if holds else 'no measure'} ({seeds})"


def measures_line(f: Finding) -> str:
    """Every measure's verdict, with its reason where that differs from the headline's."""
    if not f.by_method:
        return "does not apply (no similarity measure enters this claim)"
    parts = []
    for m, v in f.by_method.items():
        why = f.method_reasons.get(m, "")
        parts.append(f"{m} {v}" if v == SUPPORTS or why == f.reason else f"{m} {v} ({why})")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(findings: Sequence[Finding]) -> list[str]:
    lines = [
        "| claim | paper finding | verdict | effect [95% CI] | seeds | measures | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in findings:
        effect = f.effect.format(signed=True) if f.effect is not None else "—"
        measured = f.effect is not None or f.seeds_supporting
        seeds = f"{f.seeds_supporting}/{f.n_seeds}" if measured else "—"
        holds = sum(v == SUPPORTS for v in f.by_method.values())
        measures = f"{holds}/{len(f.by_method)} support" if f.by_method else "n/a"
        lines.append(
            f"| {f.claim_id} | ({f.paper}) | **{f.verdict_cell()}** | {effect} | {seeds} | "
            f"{measures} | {_cell(f.reason)} |"
        )
    return lines


SYNTHETIC_NOTE = (
    "**These numbers come from a synthetic CIFAR-shaped archive of random class patterns "
    "(`data.synthetic`), not from CIFAR-10: the verdicts below show that every step of the "
    "study runs and say nothing about the paper's findings.**"
)


def render(
    findings: Sequence[Finding], preset: str, method: str, synthetic_data: bool = False
) -> str:
    """findings.md: the rule, a verdict table, the summary line, the paper's findings with
    their claims, then per claim its effect, the verdict under every measure and the
    numbers measured; on synthetic data, first a warning that says so."""
    n_seeds = max((f.n_seeds for f in findings), default=1)
    methods = list(dict.fromkeys([method, *(m for f in findings for m in f.by_method)]))
    lines = [
        f"# Findings — preset `{preset}`",
        "",
        *([SYNTHETIC_NOTE, ""] if synthetic_data else []),
        "Each claim of Gotmare et al., *A Closer Look at Deep Learning Heuristics* (ICLR "
        f"2019), against the numbers this study measured over {n_seeds} "
        f"seed{'s' if n_seeds != 1 else ''}. Every claim is an effect measured in each seed, "
        "given as its mean across seeds with its 95% Student-t interval; “k/n seeds” counts "
        "the seeds whose own effect supports the claim. Similarity claims are decided under "
        f"every measure computed ({', '.join(methods)}); the primary measure `{method}` gives "
        "the headline verdict. Each number names the epoch it was read at.",
        "",
        RULE,
        "",
        *_table(findings),
        "",
        f"Summary: {summary(findings)}.",
        "",
        "## The paper's findings",
        "",
    ]
    for letter, text in PAPER_FINDINGS.items():
        mine = [f for f in findings if f.paper == letter]
        verdicts = ", ".join(f"{f.claim_id} {f.verdict_cell()}" for f in mine) or "no claim"
        lines.append(f"- ({letter}) {text}: {verdicts}")
    question = None
    for f in findings:
        if f.question != question:
            question = f.question
            lines += ["", f"## {question}"]
        lines += [
            "",
            f"**{f.claim_id}** ({f.paper}) {f.claim}",
            "",
            f"- verdict: **{f.verdict_cell()}** — {f.reason}",
            f"- effect: {effect_line(f)}",
            f"- by measure: {measures_line(f)}",
            f"- measured: {f.numbers}",
        ]
    return "\n".join(lines) + "\n"


def write(
    findings: Sequence[Finding],
    path: str | Path,
    preset: str,
    method: str,
    synthetic_data: bool = False,
) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(render(findings, preset, method, synthetic_data))
