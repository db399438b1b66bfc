"""The two renderings of one evaluation of the claims (closerlook.findings): findings.md for
people and findings.json for tools (docs/architecture.md, artifacts).

findings.json holds, per claim: id, finding (a–e), polarity, kind (positive / noninferior),
margin, seeds, effect (the mean; null when not measured or outright), interval ([lo, hi] or
null), verdict (supports / contradicts / inconclusive / not_testable), reason, by_measure
(measure -> verdict), layers ({shallow, deeper, partition} for depth claims, else null),
sensitivity (per other partition: its layers, effect and verdict), barriers (error and loss
barriers of line and curve, train and validation, per seed, where they apply),
preconditions (name, requires, value, threshold, holds), seeds_needed and would (the power
statement); per finding its combined verdict, the rule, and its claims.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from closerlook.claims import CLAIMS, CONTEXT, PAPER_FINDINGS
from closerlook.decision import NOT_TESTABLE, SUPPORTS
from closerlook.effects import Settings
from closerlook.findings import FINDING_RULE, Finding, finding_verdict, summary
from closerlook.provenance import atomic_path

SCHEMA_VERSION = 1

RULE = (
    "A claim that an effect is positive **supports** only when the whole 95% interval lies "
    "above 0 and the mean passes the margin, and **contradicts** when the whole interval lies "
    "below +margin; a non-inferiority claim (“on par or better”, effect ≥ −margin) supports "
    "when the whole interval lies above −margin and contradicts when it lies wholly below; "
    "anything else is **inconclusive**. Example: effects 0.10, 0.02 and 0.06 over 3 seeds have "
    "mean 0.06 and interval 0.06 ± 4.303 · 0.04/√3 = [−0.039, 0.159], which contains 0: "
    "inconclusive at margin 0.02, although every seed passes it. With one seed there is no "
    "interval, and a verdict is given only when the value lies farther than the margin from "
    "the claim's bound (positive: supports above +m, contradicts below −m; non-inferiority: "
    "supports above 0, contradicts below −2m); otherwise it is “inconclusive (1 seed)”. A "
    "claim whose precondition fails is **not testable here**. Similarity effects are read on "
    "similarity above its noise floor, (v − b)/(1 − b) with b the shuffled baseline of the "
    "same layer, pair and measure; barriers are measured against the interpolation of the "
    "endpoints (error barrier, in points of error; loss barrier, in nats)."
)
SYNTHETIC_NOTE = (
    "**These numbers come from a synthetic CIFAR-shaped archive of random class patterns "
    "(`data.synthetic`), not from CIFAR-10: the verdicts below show that every step of the "
    "study runs and say nothing about the paper's findings.**"
)
SPEAKS = {"for": "speaks for", "against": "speaks against", "neither": "speaks neither way"}


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


def _speaks(f: Finding) -> str:
    return "context" if f.spec.polarity == CONTEXT else SPEAKS[f.speaks]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(findings: Sequence[Finding]) -> list[str]:
    lines = [
        "| claim | paper finding | verdict | speaks | effect [95% CI] | seeds | measures "
        "| reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in findings:
        effect = f.effect.format(signed=True) if f.effect is not None else "—"
        measured = f.effect is not None or f.seeds_supporting
        seeds = f"{f.seeds_supporting}/{f.n_seeds}" if measured else "—"
        holds = sum(v == SUPPORTS for v in f.by_method.values())
        measures = f"{holds}/{len(f.by_method)} support" if f.by_method else "n/a"
        speaks = "context" if f.spec.polarity == CONTEXT else f.speaks
        lines.append(
            f"| {f.claim_id} | ({f.paper}) | **{f.verdict_cell()}** | {speaks} | {effect} | "
            f"{seeds} | {measures} | {_cell(f.reason)} |"
        )
    return lines


def _claim_lines(f: Finding) -> list[str]:
    polarity = {
        "for": f"supporting it speaks for ({f.paper})",
        "against": f"supporting it speaks against ({f.paper})",
        CONTEXT: f"context for ({f.paper}): it speaks neither way",
    }[f.spec.polarity]
    lines = [
        "",
        f"**{f.claim_id}** ({f.paper}) {f.claim} *({polarity})*",
        "",
        f"- verdict: **{f.verdict_cell()}** — {f.reason}",
        f"- effect: {effect_line(f)}",
        f"- by measure: {measures_line(f)}",
    ]
    if f.partition is not None:
        lines.append(f"- layers ({f.partition.label}): {f.partition.text()}")
    for row in f.sensitivity:
        e = row.decision.effect
        size = e.format(signed=True) if e is not None else "not measured"
        lines.append(
            f"- sensitivity, {row.partition.label} ({row.partition.text()}): {size}, "
            f"**{row.decision.verdict}**"
        )
    if f.decision.power_text():
        lines.append(f"- power: {f.decision.power_text()}")
    lines.append(f"- measured: {f.numbers}")
    return lines


def _preconditions(findings: Sequence[Finding], question: str) -> list[str]:
    seen: dict[str, str] = {}
    for f in findings:
        if f.question == question:
            for k in f.checks:
                seen.setdefault(k.name, k.text())
    if not seen:
        return []
    return ["", "Preconditions:", "", *(f"- {text}" for text in seen.values())]


def render(
    findings: Sequence[Finding],
    preset: str,
    method: str,
    synthetic_data: bool = False,
    design: Sequence[str] = (),
) -> str:
    """findings.md: the rule, a verdict table, the summary line, the design of replicates
    (closerlook.replicates.design), each paper finding's combined verdict, then per research
    question its preconditions and per claim its effect, the verdict under every measure,
    its partition and sensitivity rows, the power statement and the numbers measured; on
    synthetic data, first a warning that says so."""
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
        "the headline verdict. Each number names the epoch it was read at. The same content "
        "is in findings.json.",
        "",
        RULE,
        "",
        *_table(findings),
        "",
        f"Summary: {summary(findings)}.",
        "",
        *(["## Design", "", *(f"- {line}" for line in design), ""] if design else []),
        "## The paper's findings",
        "",
        FINDING_RULE,
        "",
    ]
    for letter, text in PAPER_FINDINGS.items():
        mine = [f for f in findings if f.paper == letter]
        claims = ", ".join(f"{f.claim_id} {f.verdict_cell()} ({_speaks(f)})" for f in mine)
        lines.append(
            f"- ({letter}) {text}: **{finding_verdict(findings, letter)}** — {claims or 'no claim'}"
        )
    question = None
    for f in findings:
        if f.question != question:
            question = f.question
            lines += ["", f"## {question}", *_preconditions(findings, question)]
        lines += _claim_lines(f)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- findings.json
def _num(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def claim_record(f: Finding, s: Settings) -> dict[str, Any]:
    """One claim of findings.json (module docstring)."""
    e, rule = f.effect, CLAIMS[f.claim_id].rule(s)
    interval = [_num(e.low), _num(e.high)] if e is not None and e.n > 1 else None
    layers = None
    if f.partition is not None:
        p = f.partition
        layers = {"partition": p.label, "shallow": list(p.shallow), "deeper": list(p.deeper)}
    return {
        "id": f.claim_id,
        "finding": f.paper,
        "statement": f.claim,
        "polarity": f.spec.polarity,
        "kind": rule.kind,
        "margin": rule.margin,
        "seeds": f.n_seeds,
        "effect": _num(e.mean) if e is not None else None,
        "interval": interval,
        "per_seed": {str(k): _num(v) for k, v in f.per_seed.items()},
        "verdict": f.verdict,
        "reason": f.reason,
        "speaks": f.speaks,
        "by_measure": f.by_method,
        "layers": layers,
        "sensitivity": [
            {
                "variant": r.variant,
                "partition": r.partition.label,
                "shallow": list(r.partition.shallow),
                "deeper": list(r.partition.deeper),
                "effect": _num(r.decision.effect.mean) if r.decision.effect else None,
                "verdict": r.decision.verdict,
            }
            for r in f.sensitivity
        ],
        "barriers": {k: [_num(x) for x in v] for k, v in f.extra.items()} or None,
        "preconditions": [
            {
                "name": k.name,
                "requires": k.requires,
                "value": _num(k.value),
                "threshold": _num(k.threshold),
                "holds": k.holds,
            }
            for k in f.checks
        ],
        "seeds_needed": f.decision.seeds_needed,
        "would": f.decision.would or None,
        "numbers": f.numbers,
    }


def as_json(
    findings: Sequence[Finding],
    s: Settings,
    preset: str,
    method: str,
    synthetic_data: bool = False,
    design: Sequence[str] = (),
) -> dict[str, Any]:
    """findings.json's content: the settings, the design, every claim, every paper finding."""
    return {
        "kind": "findings",
        "schema_version": SCHEMA_VERSION,
        "preset": preset,
        "measure": method,
        "synthetic_data": synthetic_data,
        "design": list(design),
        "settings": {
            "margin": {"accuracy": s.accuracy_margin, "similarity": s.similarity_margin},
            "error_barrier": s.error_barrier,
            "min_epochs": s.min_epochs,
            "include_output": s.include_output,
            "instability": {"window": s.window, "spike": s.spike},
        },
        "claims": [claim_record(f, s) for f in findings],
        "findings": {
            letter: {
                "statement": text,
                "verdict": finding_verdict(findings, letter),
                "claims": [f.claim_id for f in findings if f.paper == letter],
            }
            for letter, text in PAPER_FINDINGS.items()
        },
        "finding_rule": FINDING_RULE.replace("**", "").replace("*", ""),
        "not_testable": [f.claim_id for f in findings if f.verdict == NOT_TESTABLE],
    }


def write(
    findings: Sequence[Finding],
    md_path: str | Path,
    json_path: str | Path | None,
    s: Settings,
    preset: str,
    method: str,
    synthetic_data: bool = False,
    design: Sequence[str] = (),
) -> str:
    """findings.md (and findings.json beside it), each written atomically; the Markdown."""
    text = render(findings, preset, method, synthetic_data, design)
    with atomic_path(md_path) as tmp:
        Path(tmp).write_text(text)
    if json_path is not None:
        content = as_json(findings, s, preset, method, synthetic_data, design)
        with atomic_path(json_path) as tmp:
            Path(tmp).write_text(json.dumps(content, indent=2, allow_nan=False) + "\n")
    return text


def load(path: str | Path) -> Mapping[str, Any]:
    """findings.json read back (plain JSON: nothing in it is executed)."""
    return json.loads(Path(path).read_text())
