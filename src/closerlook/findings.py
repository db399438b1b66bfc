"""The study's verdicts: each claim of Gotmare et al. (ICLR 2019) against this study's
numbers, across seeds and similarity measures.

Every claim (DESIGN.md §1, RQ1–RQ4) is an *effect* measured in each seed — a difference of
accuracies, a barrier height against its threshold, a gain in similarity — and a decision
band [lower, upper]. One seed **supports** the claim when its effect is above `upper`,
**contradicts** it when below `lower`, and is undecided in between. A band with lower =
upper has no middle (a barrier against its threshold, or non-inferiority: "on par with" is
lower = upper = −margin), and its boundary supports.

Across the n seeds the effects x_1 … x_n are summarised by their mean x̄ and 95% Student-t
interval [lo, hi] (closerlook.stats), and the claim is

- **supports** when x̄ is above `upper` and lo does not reach below `lower`;
- **contradicts** when x̄ is below `lower` and hi does not reach above `upper`;
- **inconclusive** otherwise, and the reason quotes the interval. It is inconclusive too
  when the numbers cannot decide: a run diverged or trained for too few epochs, an artifact
  was not configured, a value is NaN, or there is no shuffled baseline.

With one seed there is no interval and the single effect decides. "k/n seeds" counts the
seeds whose own effect supports the claim.

Similarity claims are decided under every measure computed (SVCCA, PWCCA, CKA, DFT-SVCCA);
the headline verdict is that of the primary measure (`figures.method`), and the verdict of
every measure is kept. "Deeper layers" are the second half of the layers in network order,
"shallow layers" the first half (the middle layer of an odd count belongs to neither);
accuracies are validation accuracies after the last epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from closerlook.stats import Interval, mean_interval

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


# ------------------------------------------------------------------------- deciding
def _bound(x: float) -> str:
    """A band's bound with its sign: "+0.02", "-0.02", "0"."""
    return "0" if x == 0 else f"{x:+g}"


@dataclass(frozen=True)
class Band:
    """The decision band of an effect: above `upper` supports, below `lower` contradicts,
    in between undecided. With lower == upper (non-inferiority) the boundary supports."""

    lower: float
    upper: float

    def supports(self, x: float) -> bool:
        return x > self.upper or (self.lower == self.upper and x >= self.upper)

    def contradicts(self, x: float) -> bool:
        return x < self.lower

    def verdict(self, x: float) -> str:
        if self.supports(x):
            return SUPPORTS
        return CONTRADICTS if self.contradicts(x) else INCONCLUSIVE

    def rule(self) -> str:
        """The condition to support, e.g. "> +0.02" or "≥ -0.02"."""
        return f"{'≥' if self.lower == self.upper else '>'} {_bound(self.upper)}"


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


def decide(effects: Mapping[int, float], band: Band, what: str, opposite: str) -> Decision:
    """The verdict of the per-seed `effects` (seed -> effect) against `band` (module
    docstring); `what` and `opposite` say in words what support and contradiction mean."""
    effects = dict(sorted(effects.items()))
    n = len(effects)
    bad = [s for s, x in effects.items() if not math.isfinite(x)]
    if not effects or bad:
        where = f" (seed {bad[0]})" if bad and n > 1 else ""
        return Decision(INCONCLUSIVE, f"a measured value is NaN{where}", None, 0, n, effects)
    k = sum(band.supports(x) for x in effects.values())
    iv = mean_interval(list(effects.values()))
    text = iv.format(signed=True)
    if not math.isfinite(iv.low):  # one seed: its value decides
        verdict = band.verdict(iv.mean)
    elif band.supports(iv.mean) and not band.contradicts(iv.low):
        verdict = SUPPORTS
    elif band.contradicts(iv.mean) and not band.supports(iv.high):
        verdict = CONTRADICTS
    else:
        verdict = INCONCLUSIVE
    if verdict == SUPPORTS:
        reason = f"{what}: {text} ({band.rule()})"
    elif verdict == CONTRADICTS:
        reason = f"{opposite}: {text} (< {_bound(band.lower)})"
    elif band.supports(iv.mean):
        reason = (
            f"the mean {iv.mean:+.3f} passes {_bound(band.upper)}, but its 95% interval "
            f"[{iv.low:.3f}, {iv.high:.3f}] reaches below {_bound(band.lower)}"
        )
    elif band.contradicts(iv.mean):
        reason = (
            f"the mean {iv.mean:+.3f} is below {_bound(band.lower)}, but its 95% interval "
            f"[{iv.low:.3f}, {iv.high:.3f}] reaches above {_bound(band.upper)}"
        )
    else:
        reason = f"{text} lies between {_bound(band.lower)} and {_bound(band.upper)}"
    return Decision(verdict, reason, iv, k, n, effects)


@dataclass
class Finding:
    """One claim's verdict with the effect behind it: `effect` is the mean across seeds
    with its 95% interval (None when not measured), `by_method` the verdict under every
    similarity measure (empty where no measure applies), `numbers` the values measured."""

    claim_id: str
    verdict: str
    numbers: str
    reason: str
    effect_name: str = ""
    effect: Interval | None = None
    seeds_supporting: int = 0
    n_seeds: int = 0
    by_method: dict[str, str] = field(default_factory=dict)
    method_reasons: dict[str, str] = field(default_factory=dict)

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
    """Why runs cannot support a verdict in some seed (not configured, diverged, too few
    epochs), or None. With `allow_diverged` a diverged seed is no problem (it stopped early,
    so neither are its epochs)."""
    for run in runs:
        frames = ev.metrics.get(run)
        if frames is None:
            return f"run '{run}' is not configured"
        for seed in ev.seeds:
            where = f" in seed {seed}" if len(ev.seeds) > 1 else ""
            df = frames.get(seed)
            if df is None:
                return f"run '{run}' has no metrics for seed {seed}"
            bad = diverged_epoch(df)
            if bad is not None:
                if allow_diverged:
                    continue
                return f"run '{run}' diverged in epoch {bad}{where}"
            epochs = int(df["epoch"].max())
            if epochs < s.min_epochs:
                return f"run '{run}' trained {epochs} epochs{where}, fewer than {s.min_epochs}"
    return None


def accuracies(ev: Evidence, run: str) -> dict[int, float]:
    """The run's final validation accuracy per seed (NaN where a seed is missing)."""
    frames = ev.metrics.get(run, {})
    return {s: final_accuracy(frames[s]) if s in frames else math.nan for s in ev.seeds}


def _each(values: Sequence[float], fmt: str = "{:.4g}") -> str:
    """Per-seed values, "a / b / c" (one value alone)."""
    return " / ".join(fmt.format(v) for v in values)


def _pct(values: Sequence[float]) -> str:
    return _each([100 * v for v in values], "{:.1f}%")


def _accuracy_text(ev: Evidence, runs: Sequence[str]) -> str:
    return ", ".join(
        f"{r} {_pct(list(accuracies(ev, r).values()))}" for r in runs if r in ev.metrics
    )


def _fmt_layers(p: LayerProfile) -> str:
    return ", ".join(f"{name} {v:.3f}" for name, v in zip(p.layers, p.values, strict=True))


def _baseline_mean(p: LayerProfile) -> float:
    return float(np.nanmean(p.baseline)) if np.isfinite(p.baseline).any() else math.nan


def _methods(ev: Evidence) -> list[str]:
    """Every measure, the primary one first."""
    return list(dict.fromkeys([ev.method, *ev.methods]))


def _seed_profiles(
    ev: Evidence, analysis: str, method: str, pairs: int = 1
) -> tuple[dict[int, list[LayerProfile]], str | None]:
    """seed -> the analysis' pairs under `method` for every seed of the study, or why not."""
    by_seed = ev.seed_profiles(analysis, method)
    for seed in ev.seeds:
        if len(by_seed.get(seed, [])) < pairs:
            where = f" in seed {seed}" if len(ev.seeds) > 1 else ""
            return {}, f"analysis '{analysis}' has no {method} values{where}"
    return {s: by_seed[s] for s in ev.seeds}, None


# ------------------------------------------------------------------------- findings
def _inconclusive(
    ev: Evidence, cid: str, name: str, numbers: str, reason: str, similarity: bool = False
) -> Finding:
    methods = _methods(ev) if similarity else []
    return Finding(
        cid,
        INCONCLUSIVE,
        numbers or "not measured",
        reason,
        effect_name=name,
        n_seeds=len(ev.seeds),
        by_method=dict.fromkeys(methods, INCONCLUSIVE),
        method_reasons=dict.fromkeys(methods, reason),
    )


def _with_effects(numbers: str, d: Decision, method: str = "") -> str:
    """The numbers, followed by the effect in every seed when there are several."""
    if len(d.per_seed) < 2:
        return numbers
    under = f" ({method})" if method else ""
    return f"{numbers}; effect per seed{under} {_each(list(d.per_seed.values()), '{:+.3f}')}"


def _finding(cid: str, name: str, numbers: str, d: Decision) -> Finding:
    """A claim to which no similarity measure applies (accuracies, barrier heights)."""
    return Finding(
        cid,
        d.verdict,
        _with_effects(numbers, d),
        d.reason,
        effect_name=name,
        effect=d.effect,
        seeds_supporting=d.seeds_supporting,
        n_seeds=d.n_seeds,
    )


def _similarity_finding(
    ev: Evidence,
    cid: str,
    name: str,
    numbers: str,
    band: Band,
    what: str,
    opposite: str,
    effects_of: Callable[[str], tuple[dict[int, float], str | None]],
) -> Finding:
    """A similarity claim decided under every measure; the primary measure's is the
    headline. `effects_of(method)` gives seed -> effect, or why it cannot be measured."""
    decisions = {}
    for m in _methods(ev):
        effects, trouble = effects_of(m)
        decisions[m] = (
            Decision(INCONCLUSIVE, trouble, None, 0, len(ev.seeds))
            if trouble
            else decide(effects, band, what, opposite)
        )
    d = decisions[ev.method]
    return Finding(
        cid,
        d.verdict,
        _with_effects(numbers, d, ev.method),
        d.reason,
        effect_name=name,
        effect=d.effect,
        seeds_supporting=d.seeds_supporting,
        n_seeds=d.n_seeds or len(ev.seeds),
        by_method={m: x.verdict for m, x in decisions.items()},
        method_reasons={m: x.reason for m, x in decisions.items()},
    )


# ------------------------------------------------------------------------- RQ1
def rq1(ev: Evidence, s: Settings) -> list[Finding]:
    q = ev.questions["rq1"]
    sgdr, baselines = q["runs"][0], list(q["runs"][1:])
    out = []
    names = {
        "RQ1.1": "line barrier above its threshold (train loss)",
        "RQ1.2": "curve barrier below the threshold (train loss)",
        "RQ1.3": "lowest CCA above the shuffled baseline across a restart",
        "RQ1.4": "SGDR accuracy minus the best baseline's",
    }
    missing = [seed for seed in ev.seeds if seed not in ev.curves]
    if not ev.curves:
        reason = f"curve '{q['curve']}' is not configured"
        out += [_inconclusive(ev, i, names[i], "", reason) for i in ("RQ1.1", "RQ1.2")]
    elif missing:
        reason = f"curve '{q['curve']}' has no seed {missing[0]}"
        out += [_inconclusive(ev, i, names[i], "", reason) for i in ("RQ1.1", "RQ1.2")]
    else:
        curves = [ev.curves[seed] for seed in ev.seeds]
        c = curves[0]
        problem = run_problem(ev, list(dict.fromkeys([c.run_a, c.run_b])), s)
        ends = [float(max(x.paths["line"]["train_loss"][[0, -1]])) for x in curves]
        need = [barrier_threshold(e, s) for e in ends]
        line = [x.barriers["line"]["train_loss"] for x in curves]
        bend = [x.barriers["curve"]["train_loss"] for x in curves]
        numbers = (
            f"{c.run_a} epoch {c.epoch_a} → epoch {c.epoch_b}: endpoint training loss "
            f"{_each([x.paths['line']['train_loss'][0] for x in curves])} → "
            f"{_each([x.paths['line']['train_loss'][-1] for x in curves])}; "
            f"barrier height (train loss) line {_each(line)}, curve {_each(bend)} "
            f"(validation loss: line {_each([x.barriers['line']['val_loss'] for x in curves])}, "
            f"curve {_each([x.barriers['curve']['val_loss'] for x in curves])}); "
            f"a barrier counts above {_each(need)}"
        )
        if problem:
            out += [_inconclusive(ev, i, names[i], numbers, problem) for i in ("RQ1.1", "RQ1.2")]
        else:
            at_zero = Band(0.0, 0.0)
            over = dict(zip(ev.seeds, np.subtract(line, need), strict=True))
            under = dict(zip(ev.seeds, np.subtract(need, bend), strict=True))
            out.append(
                _finding(
                    "RQ1.1",
                    names["RQ1.1"],
                    numbers,
                    decide(
                        over,
                        at_zero,
                        "the line's barrier exceeds the threshold",
                        "the line has no barrier",
                    ),
                )
            )
            out.append(
                _finding(
                    "RQ1.2",
                    names["RQ1.2"],
                    numbers,
                    decide(
                        under,
                        at_zero,
                        "the curve stays below the threshold",
                        "the curve has a barrier too",
                    ),
                )
            )

    a = q["restarts"]
    if a not in ev.profiles:
        out.append(
            _inconclusive(
                ev, "RQ1.3", names["RQ1.3"], "", f"analysis '{a}' is not configured", True
            )
        )
    else:

        def lowest_gap(m: str) -> tuple[dict[int, float], str | None]:
            by_seed, trouble = _seed_profiles(ev, a, m)
            if trouble:
                return {}, trouble
            if not all(np.isfinite(p.baseline).any() for ps in by_seed.values() for p in ps):
                return {}, f"no shuffled {m} baseline in the table"
            return {
                seed: min(float(np.nanmin(p.values - p.baseline)) for p in ps)
                for seed, ps in by_seed.items()
            }, None

        means = ev.mean_profiles(a)
        numbers = f"{ev.method}; " + "; ".join(
            f"{p.label()}: mean {np.mean(p.values):.3f} "
            f"(shuffled {_baseline_mean(p):.3f}); "
            f"{_fmt_layers(p)}"
            for p in means
        )
        for p in ev.mean_profiles(q.get("reference") or "")[:1]:
            numbers += (
                f"; for scale, two independently trained networks ({p.run_a}, seed k vs "
                f"k+1, epoch {p.epoch_a}): mean {np.mean(p.values):.3f}; {_fmt_layers(p)}"
            )
        run = means[0].run_a if means else sgdr
        problem = run_problem(ev, [run], s)
        if problem:
            out.append(_inconclusive(ev, "RQ1.3", names["RQ1.3"], numbers, problem, True))
        else:
            out.append(
                _similarity_finding(
                    ev,
                    "RQ1.3",
                    names["RQ1.3"],
                    numbers,
                    Band(s.margin, 0.25),
                    "every layer stays well above its shuffled baseline",
                    "some layer is at its shuffled baseline",
                    lowest_gap,
                )
            )

    numbers = _accuracy_text(ev, [sgdr, *baselines])
    problem = run_problem(ev, [sgdr, *baselines], s)
    if not baselines:
        reason = "no baseline runs named in questions.rq1"
        out.append(_inconclusive(ev, "RQ1.4", names["RQ1.4"], numbers, reason))
    elif problem:
        out.append(_inconclusive(ev, "RQ1.4", names["RQ1.4"], numbers, problem))
    else:
        acc = {r: accuracies(ev, r) for r in [sgdr, *baselines]}
        diff = {seed: acc[sgdr][seed] - max(acc[r][seed] for r in baselines) for seed in ev.seeds}
        d = decide(
            diff,
            Band(-s.margin, -s.margin),
            "SGDR is on par with the best baseline or better",
            "SGDR trails the best baseline",
        )
        out.append(_finding("RQ1.4", names["RQ1.4"], numbers, d))
    return out


# ------------------------------------------------------------------------- RQ2
def rq2(ev: Evidence, s: Settings) -> list[Finding]:
    setups = ev.questions["rq2"]
    run = {role: setups[role]["run"] for role in setups}
    nw, w, fr = run["no_warmup"], run["warmup"], run["frozen"]
    greater = Band(-s.margin, s.margin)
    acc_text = _accuracy_text(ev, list(run.values()))
    out = []

    # RQ2.1: a seed whose no-warmup run diverged supports the claim outright; it is
    # counted, and left out of the interval.
    name = "accuracy gain with warmup"
    problem = run_problem(ev, [w], s) or run_problem(ev, [nw], s, allow_diverged=True)
    if problem:
        out.append(_inconclusive(ev, "RQ2.1", name, acc_text, problem))
    else:
        diverged = [seed for seed in ev.seeds if diverged_epoch(ev.metrics[nw][seed]) is not None]
        aw, anw = accuracies(ev, w), accuracies(ev, nw)
        gains = {seed: aw[seed] - anw[seed] for seed in ev.seeds if seed not in diverged}
        n, k = len(ev.seeds), len(diverged)
        note = f"without warmup the run diverged in {k}/{n} seeds"
        if n == 1 and k:
            epoch = diverged_epoch(ev.metrics[nw][diverged[0]])
            note = f"without warmup the run diverged in epoch {epoch}"
        if not gains:
            d = Decision(SUPPORTS, note, None, k, n)
        else:
            d = decide(
                gains, greater, "warmup is more accurate", "the run without warmup is more accurate"
            )
            d.seeds_supporting += k
            d.n_seeds = n
            if k and d.verdict == CONTRADICTS:
                d.verdict, d.reason = INCONCLUSIVE, f"{note}, but the others show: {d.reason}"
            elif k:
                d.reason = f"{note}; the others: {d.reason}"
        out.append(_finding("RQ2.1", name, acc_text, d))

    def first_pairs(analysis: str, m: str) -> tuple[dict[int, LayerProfile], str | None]:
        by_seed, trouble = _seed_profiles(ev, analysis, m)
        return {seed: ps[0] for seed, ps in by_seed.items()}, trouble

    means = {role: ev.mean_profiles(setup["analysis"]) for role, setup in setups.items()}
    means = {role: ps[0] for role, ps in means.items() if ps}
    cca_text = f"{ev.method}, initialisation vs end of warmup; " + "; ".join(
        f"{run[role]} (epoch {p.epoch_b}): shallow {depth_halves(p.values)[0]:.3f}, "
        f"deeper {depth_halves(p.values)[1]:.3f} [{_fmt_layers(p)}]"
        for role, p in means.items()
    )
    a_nw, a_w = setups["no_warmup"]["analysis"], setups["warmup"]["analysis"]

    name = "shallow minus deeper-layer CCA to initialisation without warmup"
    if a_nw not in ev.profiles:
        reason = f"analysis '{a_nw}' is not configured"
        out.append(_inconclusive(ev, "RQ2.2", name, cca_text, reason, True))
    elif problem := run_problem(ev, [nw], s):
        out.append(_inconclusive(ev, "RQ2.2", name, cca_text, problem, True))
    else:

        def shallow_minus_deep(m: str) -> tuple[dict[int, float], str | None]:
            pairs, trouble = first_pairs(a_nw, m)
            halves = {seed: depth_halves(p.values) for seed, p in pairs.items()}
            return {seed: sh - dp for seed, (sh, dp) in halves.items()}, trouble

        out.append(
            _similarity_finding(
                ev,
                "RQ2.2",
                name,
                cca_text,
                greater,
                "the deeper layers are less similar to initialisation",
                "the shallow layers moved more",
                shallow_minus_deep,
            )
        )

    name = "deeper-layer CCA to initialisation, warmup minus no warmup"
    if a_nw not in ev.profiles or a_w not in ev.profiles:
        out.append(
            _inconclusive(
                ev, "RQ2.3", name, cca_text, "an init-vs-warmup analysis is missing", True
            )
        )
    elif problem := run_problem(ev, [nw, w], s):
        out.append(_inconclusive(ev, "RQ2.3", name, cca_text, problem, True))
    else:

        def deep_difference(m: str) -> tuple[dict[int, float], str | None]:
            with_w, trouble = first_pairs(a_w, m)
            without, trouble2 = first_pairs(a_nw, m)
            if trouble or trouble2:
                return {}, trouble or trouble2
            return {
                seed: depth_halves(with_w[seed].values)[1] - depth_halves(without[seed].values)[1]
                for seed in ev.seeds
            }, None

        out.append(
            _similarity_finding(
                ev,
                "RQ2.3",
                name,
                cca_text,
                greater,
                "with warmup the deeper layers stay closer",
                "without warmup the deeper layers stay closer",
                deep_difference,
            )
        )

    name = "accuracy of frozen classifier minus warmup"
    problem = run_problem(ev, [w, fr], s)
    if problem:
        out.append(_inconclusive(ev, "RQ2.4", name, acc_text, problem))
    else:
        af, aw = accuracies(ev, fr), accuracies(ev, w)
        d = decide(
            {seed: af[seed] - aw[seed] for seed in ev.seeds},
            Band(-s.margin, -s.margin),
            "frozen is on par with warmup or better",
            "frozen trails warmup",
        )
        out.append(_finding("RQ2.4", name, acc_text, d))
    return out


# ------------------------------------------------------------------------- RQ3
def rq3(ev: Evidence, s: Settings) -> list[Finding]:
    a = ev.questions["rq3"]["analysis"]
    greater = Band(-s.margin, s.margin)
    names = {
        "RQ3.1": "deeper-layer CCA gain with distillation",
        "RQ3.2": "deeper minus shallow CCA gain with distillation",
        "RQ3.3": "accuracy gain with distillation",
    }
    means = ev.mean_profiles(a)
    if len(means) < 2:
        reason = f"analysis '{a}' is not configured with two students"
        out = [_inconclusive(ev, i, names[i], "", reason, True) for i in ("RQ3.1", "RQ3.2")]
        out.append(_inconclusive(ev, "RQ3.3", names["RQ3.3"], "", reason))
        return out
    distilled, plain = means[0], means[1]
    sh, dp = depth_halves(distilled.values - plain.values)
    numbers = (
        f"{ev.method}, teacher {distilled.run_a} (epoch {distilled.epoch_a}); "
        f"{distilled.run_b}: {_fmt_layers(distilled)}; {plain.run_b}: {_fmt_layers(plain)}; "
        f"gain shallow {sh:+.3f}, deeper {dp:+.3f}"
    )

    def gains(m: str) -> tuple[dict[int, tuple[float, float]], str | None]:
        by_seed, trouble = _seed_profiles(ev, a, m, pairs=2)
        return {
            seed: depth_halves(ps[0].values - ps[1].values) for seed, ps in by_seed.items()
        }, trouble

    def deep_gain(m: str) -> tuple[dict[int, float], str | None]:
        g, trouble = gains(m)
        return {seed: d for seed, (_, d) in g.items()}, trouble

    def deep_minus_shallow(m: str) -> tuple[dict[int, float], str | None]:
        g, trouble = gains(m)
        return {seed: d - sh for seed, (sh, d) in g.items()}, trouble

    out = []
    problem = run_problem(ev, [distilled.run_a, distilled.run_b, plain.run_b], s)
    claims = (
        ("RQ3.1", deep_gain, "the distilled student is closer", "the plain student is closer"),
        (
            "RQ3.2",
            deep_minus_shallow,
            "the gain is larger in the deeper layers",
            "the gain is larger in the shallow layers",
        ),
    )
    for cid, effects_of, what, opposite in claims:
        if problem:
            out.append(_inconclusive(ev, cid, names[cid], numbers, problem, True))
        else:
            out.append(
                _similarity_finding(
                    ev, cid, names[cid], numbers, greater, what, opposite, effects_of
                )
            )

    d_run, p_run = distilled.run_b, plain.run_b
    acc_text = _accuracy_text(ev, [d_run, p_run])
    problem = run_problem(ev, [d_run, p_run], s)
    if problem:
        out.append(_inconclusive(ev, "RQ3.3", names["RQ3.3"], acc_text, problem))
    else:
        ad, ap = accuracies(ev, d_run), accuracies(ev, p_run)
        d = decide(
            {seed: ad[seed] - ap[seed] for seed in ev.seeds},
            greater,
            "distillation helps",
            "the plain student is more accurate",
        )
        out.append(_finding("RQ3.3", names["RQ3.3"], acc_text, d))
    return out


# ------------------------------------------------------------------------- RQ4
def rq4(findings: Sequence[Finding]) -> Finding:
    """The overall verdict: contradicted if any claim is, supported if all are; and how
    many similarity claims every measure agrees on."""
    counts = {
        v: sum(f.verdict == v for f in findings) for v in (SUPPORTS, CONTRADICTS, INCONCLUSIVE)
    }
    numbers = ", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(findings)} claims"
    similar = [f for f in findings if f.by_method]
    agree = [f for f in similar if len(set(f.by_method.values())) == 1]
    measures = max((len(f.by_method) for f in similar), default=0)
    plural = "s" if measures != 1 else ""
    agreement = (
        f"{len(agree)} of {len(similar)} similarity claims agree across {measures} measure{plural}"
    )
    numbers += f"; {agreement}"
    n_seeds = max((f.n_seeds for f in findings), default=0)

    def finding(verdict: str, reason: str) -> Finding:
        return Finding("RQ4.1", verdict, numbers, f"{reason}; {agreement}", n_seeds=n_seeds)

    if counts[CONTRADICTS]:
        ids = ", ".join(f.claim_id for f in findings if f.verdict == CONTRADICTS)
        return finding(CONTRADICTS, f"contradicted: {ids}")
    if counts[INCONCLUSIVE]:
        ids = ", ".join(f.claim_id for f in findings if f.verdict == INCONCLUSIVE)
        return finding(INCONCLUSIVE, f"undecided: {ids}")
    return finding(SUPPORTS, "every claim is supported")


def all_findings(ev: Evidence, s: Settings) -> list[Finding]:
    """Every claim of CLAIMS, in order."""
    found = [*rq1(ev, s), *rq2(ev, s), *rq3(ev, s)]
    return [*found, rq4(found)]


# ------------------------------------------------------------------------- the document
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


def render(findings: Sequence[Finding], preset: str, method: str) -> str:
    """findings.md: a verdict table, then per claim its effect across seeds, the verdict
    under every measure, and the numbers measured."""
    n_seeds = max((f.n_seeds for f in findings), default=1)
    methods = list(dict.fromkeys([method, *(m for f in findings for m in f.by_method)]))
    lines = [
        f"# Findings — preset `{preset}`",
        "",
        "Each claim of Gotmare et al., *A Closer Look at Deep Learning Heuristics* (ICLR "
        f"2019), against the numbers this study measured over {n_seeds} "
        f"seed{'s' if n_seeds != 1 else ''}. Every claim is an effect measured in each seed; "
        "an effect is given as its mean across seeds with its 95% Student-t interval over "
        "seeds, and “k/n seeds” counts the seeds whose own effect supports the claim. "
        f"Similarity claims are decided under every measure computed ({', '.join(methods)}); "
        f"the primary measure `{method}` gives the headline verdict. Accuracies are "
        "validation accuracies after the last epoch; deeper layers are the second half of "
        "the layers in network order.",
        "",
        "| claim | verdict | effect [95% CI] | seeds | measures | reason |",
        "|---|---|---|---|---|---|",
    ]
    for f in findings:
        effect = f.effect.format(signed=True) if f.effect is not None else "—"
        measured = f.effect is not None or f.seeds_supporting
        seeds = f"{f.seeds_supporting}/{f.n_seeds}" if measured else "—"
        holds = sum(v == SUPPORTS for v in f.by_method.values())
        measures = f"{holds}/{len(f.by_method)} support" if f.by_method else "n/a"
        lines.append(
            f"| {f.claim_id} | **{f.verdict}** | {effect} | {seeds} | {measures} | "
            f"{_cell(f.reason)} |"
        )
    question = None
    for f in findings:
        if f.question != question:
            question = f.question
            lines += ["", f"## {question}"]
        lines += ["", f"**{f.claim_id}** {f.claim}", "", f"- verdict: **{f.verdict}** — {f.reason}"]
        if f.effect_name:
            lines += [f"- effect: {effect_line(f)}", f"- by measure: {measures_line(f)}"]
        lines.append(f"- measured: {f.numbers}")
    return "\n".join(lines) + "\n"


def write(findings: Sequence[Finding], path: str | Path, preset: str, method: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(render(findings, preset, method))
