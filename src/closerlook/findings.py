"""The study's verdicts: each claim of Gotmare et al. (ICLR 2019) against this run's numbers.

For every claim (DESIGN.md §1, RQ1–RQ4) a :class:`Finding` records the numbers measured and
a verdict:

- **supports**: the numbers show what the paper reports;
- **contradicts**: they show the opposite, by more than the noise margin;
- **inconclusive**: they cannot decide, and the reason says why: a run diverged or trained
  for too few epochs, an artifact was not configured, the similarity is at the shuffled
  baseline, or the difference lies within the margin.

"Deeper layers" are the second half of the layers in network order, "shallow layers" the
first half (the middle layer of an odd count belongs to neither). Similarities are those of
one method (`figures.method`), accuracies are validation accuracies after the last epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from closerlook.provenance import atomic_path
from closerlook.results import (  # noqa: F401  (Evidence, load_evidence: re-exported)
    CurveEvaluation,
    Evidence,
    LayerProfile,
    diverged_epoch,
    final_accuracy,
    load_evidence,
)

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"

# The claims, as the paper states them (one line each; ids are stable for tests and tools).
CLAIMS: dict[str, tuple[str, str]] = {
    "RQ1.1": (
        "RQ1",
        "The straight line between SGDR iterates at two restarts crosses a barrier in the "
        "training loss.",
    ),
    "RQ1.2": (
        "RQ1",
        "A simple curve joins the same iterates without that barrier: the restarts stay in "
        "one connected valley rather than hopping between basins.",
    ),
    "RQ1.3": (
        "RQ1",
        "Across a restart the representations change little: per-layer CCA between "
        "consecutive restart iterates stays well above the shuffled baseline.",
    ),
    "RQ1.4": (
        "RQ1",
        "SGDR ends with a validation accuracy on par with step decay and single-cycle cosine.",
    ),
    "RQ2.1": (
        "RQ2",
        "A large batch at a high learning rate trains worse (or diverges) without warmup "
        "than with it.",
    ),
    "RQ2.2": (
        "RQ2",
        "Without warmup the deeper layers move most during the warmup period: CCA between "
        "initialisation and the end of warmup is lower in the deeper layers.",
    ),
    "RQ2.3": (
        "RQ2",
        "Warmup keeps the deeper layers closer to initialisation than training without it.",
    ),
    "RQ2.4": (
        "RQ2",
        "Freezing the fully-connected layers during the warmup period recovers warmup's accuracy.",
    ),
    "RQ3.1": (
        "RQ3",
        "In the deeper layers the distilled student is more similar to the teacher than the "
        "student trained without distillation.",
    ),
    "RQ3.2": (
        "RQ3",
        "The teacher's knowledge lands in the deeper layers: distillation's gain in CCA "
        "with the teacher is larger there than in the shallow layers.",
    ),
    "RQ3.3": ("RQ3", "Distillation improves the student's validation accuracy."),
    "RQ4.1": (
        "RQ4",
        "Mode connectivity and CCA together give a consistent account of restarts, warmup "
        "and distillation (no claim above is contradicted).",
    ),
}


@dataclass
class Settings:
    """Thresholds of the verdicts (config `findings`)."""

    margin: float = 0.02
    barrier_relative: float = 0.1
    barrier_absolute: float = 0.01
    min_epochs: int = 10


@dataclass
class Finding:
    claim_id: str
    verdict: str
    numbers: str
    reason: str

    @property
    def question(self) -> str:
        return CLAIMS[self.claim_id][0]

    @property
    def claim(self) -> str:
        return CLAIMS[self.claim_id][1]


# ------------------------------------------------------------------------- measures
def depth_halves(values: Sequence[float]) -> tuple[float, float]:
    """(mean over the shallow half, mean over the deeper half) of per-layer values in
    network order; the middle layer of an odd count is in neither."""
    v = np.asarray(values, dtype=float)
    half = len(v) // 2
    if half == 0:
        return math.nan, math.nan
    return float(np.mean(v[:half])), float(np.mean(v[len(v) - half :]))


def barrier_threshold(endpoint_loss: float, s: Settings) -> float:
    """The smallest barrier height that counts: max(absolute, relative × endpoint loss)."""
    return max(s.barrier_absolute, s.barrier_relative * endpoint_loss)


def run_problem(ev: Evidence, runs: Sequence[str], s: Settings, allow_diverged: bool = False):
    """Why runs cannot support a verdict (not configured, diverged, too few epochs), or None."""
    for run in runs:
        df = ev.metrics.get(run)
        if df is None:
            return f"run '{run}' is not configured"
        bad = diverged_epoch(df)
        if bad is not None and not allow_diverged:
            return f"run '{run}' diverged in epoch {bad}"
        epochs = int(df["epoch"].max())
        if epochs < s.min_epochs:
            return f"run '{run}' trained {epochs} epochs, fewer than {s.min_epochs}"
    return None


def _fmt_layers(p: LayerProfile) -> str:
    return ", ".join(f"{name} {v:.3f}" for name, v in zip(p.layers, p.values, strict=True))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _inconclusive(cid: str, numbers: str, reason: str) -> Finding:
    return Finding(cid, INCONCLUSIVE, numbers or "not measured", reason)


def _difference_verdict(
    cid: str, diff: float, margin: float, numbers: str, what: str, problem: str | None
) -> Finding:
    """Support when `diff` > margin, contradict when < −margin, else inconclusive."""
    if problem:
        return _inconclusive(cid, numbers, problem)
    if not math.isfinite(diff):
        return _inconclusive(cid, numbers, "a measured value is NaN")
    if diff > margin:
        return Finding(cid, SUPPORTS, numbers, f"{what} by {diff:.3f} (> margin {margin})")
    if diff < -margin:
        return Finding(cid, CONTRADICTS, numbers, f"the opposite, by {-diff:.3f}")
    return _inconclusive(cid, numbers, f"difference {diff:+.3f} within the margin {margin}")


# ------------------------------------------------------------------------- RQ1
def rq1(ev: Evidence, s: Settings) -> list[Finding]:
    q = ev.questions["rq1"]
    sgdr, baselines = q["runs"][0], list(q["runs"][1:])
    out = []
    c = ev.curve
    if c is None:
        reason = f"curve '{q['curve']}' is not configured"
        out += [_inconclusive("RQ1.1", "", reason), _inconclusive("RQ1.2", "", reason)]
    else:
        problem = run_problem(ev, dict.fromkeys([c.run_a, c.run_b]), s)
        line_loss = c.paths["line"]["train_loss"]
        end = float(max(line_loss[0], line_loss[-1]))
        need = barrier_threshold(end, s)
        b_line, b_curve = c.barriers["line"]["train_loss"], c.barriers["curve"]["train_loss"]
        numbers = (
            f"{c.run_a} epoch {c.epoch_a} → epoch {c.epoch_b}: endpoint training loss "
            f"{line_loss[0]:.4g} / {line_loss[-1]:.4g}; barrier height (train loss) line "
            f"{b_line:.4g}, curve {b_curve:.4g} (validation loss: line "
            f"{c.barriers['line']['val_loss']:.4g}, curve {c.barriers['curve']['val_loss']:.4g}); "
            f"a barrier counts above {need:.4g}"
        )
        if problem:
            out += [_inconclusive(i, numbers, problem) for i in ("RQ1.1", "RQ1.2")]
        else:
            out.append(
                Finding("RQ1.1", SUPPORTS, numbers, "the line's barrier exceeds the threshold")
                if b_line > need
                else Finding("RQ1.1", CONTRADICTS, numbers, "the line has no barrier to speak of")
            )
            if b_curve <= need:
                why = "the curve stays below the threshold"
                out.append(Finding("RQ1.2", SUPPORTS, numbers, why))
            else:
                out.append(Finding("RQ1.2", CONTRADICTS, numbers, "the curve has a barrier too"))

    profiles = ev.profiles.get(q["restarts"])
    if not profiles:
        out.append(_inconclusive("RQ1.3", "", f"analysis '{q['restarts']}' is not configured"))
    else:
        lines, gaps = [], []
        for p in profiles:
            gap = float(np.nanmin(p.values - p.baseline)) if np.isfinite(p.baseline).any() else 0
            gaps.append(gap)
            lines.append(
                f"{p.label()}: mean {np.mean(p.values):.3f} "
                f"(shuffled {np.nanmean(p.baseline):.3f}); {_fmt_layers(p)}"
            )
        numbers = f"{ev.method}; " + "; ".join(lines)
        problem = run_problem(ev, [profiles[0].run_a], s)
        lowest = min(gaps)
        if problem:
            out.append(_inconclusive("RQ1.3", numbers, problem))
        elif not all(np.isfinite(p.baseline).any() for p in profiles):
            out.append(_inconclusive("RQ1.3", numbers, "no shuffled baseline in the table"))
        elif lowest > 0.25:
            why = f"every layer is at least {lowest:.3f} above its shuffled baseline"
            out.append(Finding("RQ1.3", SUPPORTS, numbers, why))
        elif lowest > s.margin:
            why = f"some layer is only {lowest:.3f} above its baseline (0.25 needed)"
            out.append(_inconclusive("RQ1.3", numbers, why))
        else:
            why = f"some layer is at its shuffled baseline (gap {lowest:.3f})"
            out.append(Finding("RQ1.3", CONTRADICTS, numbers, why))

    present = [r for r in [sgdr, *baselines] if r in ev.metrics]
    numbers = ", ".join(f"{r} {_pct(final_accuracy(ev.metrics[r]))}" for r in present)
    problem = run_problem(ev, [sgdr, *baselines], s)
    if not baselines:
        out.append(_inconclusive("RQ1.4", numbers, "no baseline runs named in questions.rq1"))
    elif problem:
        out.append(_inconclusive("RQ1.4", numbers, problem))
    else:
        best = max(final_accuracy(ev.metrics[r]) for r in baselines)
        diff = final_accuracy(ev.metrics[sgdr]) - best
        if diff >= -s.margin:
            why = f"SGDR is {diff:+.3f} from the best baseline (within {s.margin} or better)"
            out.append(Finding("RQ1.4", SUPPORTS, numbers, why))
        else:
            out.append(
                Finding("RQ1.4", CONTRADICTS, numbers, f"SGDR trails the best by {-diff:.3f}")
            )
    return out


# ------------------------------------------------------------------------- RQ2
def rq2(ev: Evidence, s: Settings) -> list[Finding]:
    setups = ev.questions["rq2"]
    run = {role: setups[role]["run"] for role in setups}
    acc = {role: final_accuracy(ev.metrics[r]) for role, r in run.items() if r in ev.metrics}
    acc_text = ", ".join(f"{run[role]} {_pct(a)}" for role, a in acc.items())
    out = []

    # RQ2.1: a diverged no-warmup run supports the claim outright.
    nw, w = run["no_warmup"], run["warmup"]
    problem = run_problem(ev, [w], s) or (
        run_problem(ev, [nw], s, allow_diverged=True) if nw in ev.metrics else None
    )
    if nw not in ev.metrics:
        problem = f"run '{nw}' is not configured"
    if not problem and diverged_epoch(ev.metrics[nw]) is not None:
        why = f"without warmup the run diverged in epoch {diverged_epoch(ev.metrics[nw])}"
        out.append(Finding("RQ2.1", SUPPORTS, acc_text, why))
    else:
        diff = acc.get("warmup", math.nan) - acc.get("no_warmup", math.nan)
        out.append(
            _difference_verdict(
                "RQ2.1", diff, s.margin, acc_text, "warmup is more accurate", problem
            )
        )

    prof = {}
    for role, setup in setups.items():
        ps = ev.profiles.get(setup["analysis"])
        if ps:
            prof[role] = ps[0]
    cca_text = f"{ev.method}, initialisation vs end of warmup; " + "; ".join(
        f"{run[role]} (epoch {p.epoch_b}): shallow {depth_halves(p.values)[0]:.3f}, "
        f"deeper {depth_halves(p.values)[1]:.3f} [{_fmt_layers(p)}]"
        for role, p in prof.items()
    )
    if "no_warmup" not in prof:
        reason = f"analysis '{setups['no_warmup']['analysis']}' is not configured"
        out.append(_inconclusive("RQ2.2", cca_text, reason))
    else:
        shallow, deep = depth_halves(prof["no_warmup"].values)
        problem = run_problem(ev, [nw], s, allow_diverged=False)
        out.append(
            _difference_verdict(
                "RQ2.2",
                shallow - deep,
                s.margin,
                cca_text,
                "deeper layers are less similar",
                problem,
            )
        )
    if "no_warmup" not in prof or "warmup" not in prof:
        out.append(_inconclusive("RQ2.3", cca_text, "an init-vs-warmup analysis is missing"))
    else:
        diff = depth_halves(prof["warmup"].values)[1] - depth_halves(prof["no_warmup"].values)[1]
        problem = run_problem(ev, [nw, w], s)
        out.append(
            _difference_verdict(
                "RQ2.3",
                diff,
                s.margin,
                cca_text,
                "with warmup the deeper layers are closer",
                problem,
            )
        )

    fr = run["frozen"]
    problem = run_problem(ev, [w, fr], s)
    if problem:
        out.append(_inconclusive("RQ2.4", acc_text, problem))
    else:
        diff = acc["frozen"] - acc["warmup"]
        if diff >= -s.margin:
            why = f"frozen is {diff:+.3f} from warmup (within {s.margin} or better)"
            out.append(Finding("RQ2.4", SUPPORTS, acc_text, why))
        else:
            why = f"frozen trails warmup by {-diff:.3f}"
            out.append(Finding("RQ2.4", CONTRADICTS, acc_text, why))
    return out


# ------------------------------------------------------------------------- RQ3
def rq3(ev: Evidence, s: Settings) -> list[Finding]:
    name = ev.questions["rq3"]["analysis"]
    profiles = ev.profiles.get(name) or []
    out = []
    if len(profiles) < 2:
        reason = f"analysis '{name}' is not configured with two students"
        out += [_inconclusive(i, "", reason) for i in ("RQ3.1", "RQ3.2")]
        distilled = plain = None
    else:
        distilled, plain = profiles[0], profiles[1]
        gain = distilled.values - plain.values
        sh, dp = depth_halves(gain)
        numbers = (
            f"{ev.method}, teacher {distilled.run_a} (epoch {distilled.epoch_a}); "
            f"{distilled.run_b}: {_fmt_layers(distilled)}; {plain.run_b}: {_fmt_layers(plain)}; "
            f"gain shallow {sh:+.3f}, deeper {dp:+.3f}"
        )
        problem = run_problem(ev, [distilled.run_a, distilled.run_b, plain.run_b], s)
        out.append(
            _difference_verdict(
                "RQ3.1", dp, s.margin, numbers, "the distilled student is closer", problem
            )
        )
        out.append(
            _difference_verdict(
                "RQ3.2",
                dp - sh,
                s.margin,
                numbers,
                "the gain is larger in the deeper layers",
                problem,
            )
        )
    if distilled is None:
        out.append(_inconclusive("RQ3.3", "", f"analysis '{name}' is not configured"))
    else:
        d, p = distilled.run_b, plain.run_b
        problem = run_problem(ev, [d, p], s)
        numbers = ""
        if d in ev.metrics and p in ev.metrics:
            numbers = f"{d} {_pct(final_accuracy(ev.metrics[d]))}, "
            numbers += f"{p} {_pct(final_accuracy(ev.metrics[p]))}"
            diff = final_accuracy(ev.metrics[d]) - final_accuracy(ev.metrics[p])
        else:
            diff = math.nan
        out.append(
            _difference_verdict("RQ3.3", diff, s.margin, numbers, "distillation helps", problem)
        )
    return out


# ------------------------------------------------------------------------- RQ4
def rq4(findings: Sequence[Finding]) -> Finding:
    """The overall verdict: contradicted if any claim is, supported if all are."""
    counts = {
        v: sum(f.verdict == v for f in findings) for v in (SUPPORTS, CONTRADICTS, INCONCLUSIVE)
    }
    numbers = ", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(findings)} claims"
    if counts[CONTRADICTS]:
        ids = ", ".join(f.claim_id for f in findings if f.verdict == CONTRADICTS)
        return Finding("RQ4.1", CONTRADICTS, numbers, f"contradicted: {ids}")
    if counts[INCONCLUSIVE]:
        ids = ", ".join(f.claim_id for f in findings if f.verdict == INCONCLUSIVE)
        return Finding("RQ4.1", INCONCLUSIVE, numbers, f"undecided: {ids}")
    return Finding("RQ4.1", SUPPORTS, numbers, "every claim is supported")


def all_findings(ev: Evidence, s: Settings) -> list[Finding]:
    """Every claim of CLAIMS, in order."""
    found = [*rq1(ev, s), *rq2(ev, s), *rq3(ev, s)]
    return [*found, rq4(found)]


# ------------------------------------------------------------------------- the document
def render(findings: Sequence[Finding], preset: str, method: str) -> str:
    """findings.md: a verdict table, then per claim the numbers and the reason."""
    lines = [
        f"# Findings — preset `{preset}`",
        "",
        "Each claim of Gotmare et al., *A Closer Look at Deep Learning Heuristics* (ICLR "
        "2019), against the numbers this run measured. Similarity: "
        f"`{method}`; accuracies are validation accuracies after the last epoch; "
        "deeper layers are the second half of the layers in network order.",
        "",
        "| claim | verdict | reason |",
        "|---|---|---|",
    ]
    lines += [f"| {f.claim_id} | **{f.verdict}** | {f.reason} |" for f in findings]
    question = None
    for f in findings:
        if f.question != question:
            question = f.question
            lines += ["", f"## {question}"]
        lines += [
            "",
            f"**{f.claim_id}** {f.claim}",
            "",
            f"- verdict: **{f.verdict}** — {f.reason}",
            f"- measured: {f.numbers}",
        ]
    return "\n".join(lines) + "\n"


def write(findings: Sequence[Finding], path: str | Path, preset: str, method: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(render(findings, preset, method))
