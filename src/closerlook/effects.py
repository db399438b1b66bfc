"""Reading a claim's effect out of the evidence: depth means, barrier thresholds, accuracies
at an epoch, and the checks that make a claim unmeasurable (closerlook.claims uses these).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from closerlook import points
from closerlook.evidence import CurveEvaluation, Evidence, LayerProfile, diverged_epoch


@dataclass
class Settings:
    """Thresholds of the verdicts (config `findings`)."""

    margin: float = 0.02
    barrier_relative: float = 0.1
    barrier_absolute: float = 0.01
    min_epochs: int = 10


class NotMeasured(Exception):
    """The evidence cannot decide the claim: `reason` says why; `numbers` what was seen."""

    def __init__(self, reason: str, numbers: str = ""):
        super().__init__(reason)
        self.reason, self.numbers = reason, numbers


@dataclass
class Measured:
    """A claim's effect per seed (seed -> value; +inf is an outright support) and the
    numbers behind it, in words."""

    effects: dict[int, float]
    numbers: str
    outright: str = ""  # why the +inf seeds support, in words


def depth_means(
    layers: Sequence[str], values: Sequence[float], deeper: Sequence[str] | None = None
) -> tuple[float, float]:
    """(mean over the shallow layers, mean over the deeper layers) of per-layer values in
    network order. `deeper` names the deeper layers (the others are shallow); by default
    the deeper layers are the second half and the shallow the first (the middle layer of
    an odd count is in neither)."""
    v = np.asarray(values, dtype=float)
    if deeper is not None:
        deep = np.array([name in set(deeper) for name in layers])
        if not deep.any() or deep.all():
            return math.nan, math.nan
        return float(np.mean(v[~deep])), float(np.mean(v[deep]))
    half = len(v) // 2
    if half == 0:
        return math.nan, math.nan
    return float(np.mean(v[:half])), float(np.mean(v[len(v) - half :]))


def barrier_threshold(endpoint_loss: float, s: Settings) -> float:
    """The smallest barrier height that counts: max(absolute, relative × endpoint loss)."""
    return max(s.barrier_absolute, s.barrier_relative * endpoint_loss)


def run_problem(ev: Evidence, runs: Sequence[str], s: Settings, allow_diverged: bool = False):
    """Why a run cannot support a verdict in some seed (not configured, diverged, too few
    epochs), or None; with `allow_diverged` a diverged seed is no problem."""
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
            if bad is not None and not allow_diverged:
                return f"run '{run}' diverged in epoch {bad}{where}"
            epochs = int(df["epoch"].max())
            if bad is None and epochs < s.min_epochs:
                return f"run '{run}' trained {epochs} epochs{where}, fewer than {s.min_epochs}"
    return None


def check_runs(ev: Evidence, runs: Sequence[str], s: Settings, numbers: str = "") -> None:
    """Raise NotMeasured (with the `numbers` seen) when `run_problem` finds one."""
    problem = run_problem(ev, runs, s)
    if problem:
        raise NotMeasured(problem, numbers)


def read_epoch(ev: Evidence, run: str) -> int | None:
    """The epoch at which RQ1 reads a run's accuracy (questions.rq1.read_epochs), or None
    for the run's last epoch."""
    return ev.questions.get("rq1", {}).get("read_epochs", {}).get(run)


def accuracies(ev: Evidence, run: str, epoch: int | None = None) -> dict[int, float]:
    """The run's validation accuracy per seed after `epoch` (default: the last epoch; NaN
    where a seed is missing or never reached the epoch)."""
    out = {}
    for seed in ev.seeds:
        df = ev.metrics.get(run, {}).get(seed)
        rows = df if df is None or epoch is None else df[df["epoch"] == epoch]
        out[seed] = float(rows["val_acc"].iloc[-1]) if rows is not None and len(rows) else math.nan
    return out


def each(values: Sequence[float], fmt: str = "{:.4g}") -> str:
    """Per-seed values, "a / b / c" (one value alone)."""
    return " / ".join(fmt.format(v) for v in values)


def accuracy_text(ev: Evidence, runs: Sequence[str], epochs: dict[str, int | None]) -> str:
    """Each run's validation accuracy per seed with the epoch it was read at (`epochs`, else
    the last epoch of its metrics)."""

    def at(r: str) -> str:
        if epochs.get(r) is not None:
            return f" (epoch {epochs[r]})"
        last = {int(df["epoch"].max()) for df in ev.metrics[r].values()}
        return f" (epoch {last.pop()})" if len(last) == 1 else " (last epoch)"

    def pct(r: str) -> str:
        return each([100 * v for v in accuracies(ev, r, epochs.get(r)).values()], "{:.1f}%")

    return ", ".join(f"{r}{at(r)} {pct(r)}" for r in runs if r in ev.metrics)


def fmt_layers(p: LayerProfile) -> str:
    return ", ".join(f"{name} {v:.3f}" for name, v in zip(p.layers, p.values, strict=True))


def pairs_of(ev: Evidence, analysis: str, method: str | None, least: int = 1):
    """seed -> the analysis' pairs under `method` in every seed, or NotMeasured."""
    if analysis not in ev.profiles:
        raise NotMeasured(f"analysis '{analysis}' is not configured")
    by_seed = ev.seed_profiles(analysis, method)
    for seed in ev.seeds:
        if len(by_seed.get(seed, [])) < least:
            where = f" in seed {seed}" if len(ev.seeds) > 1 else ""
            raise NotMeasured(f"analysis '{analysis}' has no {method} values{where}")
    return {seed: by_seed[seed] for seed in ev.seeds}


def curves_of(ev: Evidence, name: str) -> list[CurveEvaluation]:
    """The curve `name` in every seed, or NotMeasured."""
    by_seed = ev.curve_sets.get(name)
    if not by_seed:
        raise NotMeasured(f"curve '{name}' is not configured")
    missing = [seed for seed in ev.seeds if seed not in by_seed]
    if missing:
        raise NotMeasured(f"curve '{name}' has no seed {missing[0]}")
    return [by_seed[seed] for seed in ev.seeds]


def barrier_numbers(
    curves: Sequence[CurveEvaluation], s: Settings, seeds: str = ""
) -> tuple[str, list[float]]:
    """The endpoints' losses and both barriers in words (`seeds`: which replicates the
    endpoints are, when not the same one), and each seed's threshold."""
    c = curves[0]
    start = [x.paths["line"]["train_loss"][0] for x in curves]
    end = [x.paths["line"]["train_loss"][-1] for x in curves]
    need = [barrier_threshold(max(a, b), s) for a, b in zip(start, end, strict=True)]
    line = [x.barriers["line"]["train_loss"] for x in curves]
    bend = [x.barriers["curve"]["train_loss"] for x in curves]
    text = (
        f"{c.run_a} epoch {c.epoch_a} → {c.run_b} epoch {c.epoch_b}{seeds}: endpoint training loss "
        f"{each(start)} → {each(end)}; barrier height (train loss) line {each(line)}, curve "
        f"{each(bend)} (validation loss: line "
        f"{each([x.barriers['line']['val_loss'] for x in curves])}, curve "
        f"{each([x.barriers['curve']['val_loss'] for x in curves])}); a barrier counts "
        f"above {each(need)}"
    )
    return text, need


# ------------------------------------------------------------------------- shared effects
def curve_below(ev: Evidence, s: Settings, name: str, seeds: str = "") -> Measured:
    curves = curves_of(ev, name)
    numbers, need = barrier_numbers(curves, s, seeds)
    check_runs(ev, [curves[0].run_a, curves[0].run_b], s, numbers)
    under = [t - c.barriers["curve"]["train_loss"] for c, t in zip(curves, need, strict=True)]
    return Measured(dict(zip(ev.seeds, under, strict=True)), numbers)


def warmup_gains(ev: Evidence, s: Settings, method: str | None) -> tuple[dict, str]:
    """seed -> (shallow, deeper) gain of warmup in CCA to initialisation, and the numbers."""
    q = ev.questions["rq2"]
    deeper = q.get("deeper_layers")
    which = ", ".join(deeper) if deeper is not None else "the second half of the layers"
    numbers = f"{method}, initialisation vs end of warmup, deeper layers: {which}"
    for _, run, analysis in ev.rq2_setups():
        for p in ev.mean_profiles(analysis, method)[:1]:
            sh, dp = depth_means(p.layers, p.values, deeper)
            at = points.label(p.epoch_b)
            numbers += f"; {run} ({at}): shallow {sh:.3f}, deeper {dp:.3f}"
    with_w = pairs_of(ev, q["warmup"]["analysis"], method)
    without = pairs_of(ev, q["no_warmup"]["analysis"], method)
    check_runs(ev, [q["no_warmup"]["run"], q["warmup"]["run"]], s, numbers)
    gains = {}
    for seed in ev.seeds:
        pw, pn = with_w[seed][0], without[seed][0]
        (sw, dw), (sn, dn) = (depth_means(p.layers, p.values, deeper) for p in (pw, pn))
        gains[seed] = (sw - sn, dw - dn)
    return gains, numbers


def distillation_gains(ev: Evidence, s: Settings, method: str | None) -> tuple[dict, str]:
    """seed -> (shallow, deeper) gain of distillation in CCA with the teacher, and the
    numbers; the students are named by role (questions.rq3.distilled / plain)."""
    q = ev.questions["rq3"]
    a, roles = q["analysis"], (q.get("distilled"), q.get("plain"))
    by_seed = pairs_of(ev, a, method)

    def by_role(ps):
        found = {p.run_b: p for p in ps}
        if not all(r in found for r in roles):
            raise NotMeasured(f"analysis '{a}' has no pair for the distilled and plain students")
        return [found[r] for r in roles]

    distilled, plain = by_role(ev.mean_profiles(a, method))
    sh, dp = depth_means(distilled.layers, distilled.values - plain.values)
    numbers = (
        f"{method}, teacher {distilled.run_a} (epoch {distilled.epoch_a}); "
        f"{distilled.run_b}: {fmt_layers(distilled)}; {plain.run_b}: {fmt_layers(plain)}; "
        f"gain shallow {sh:+.3f}, deeper {dp:+.3f}"
    )
    check_runs(ev, [distilled.run_a, *roles], s, numbers)
    gains = {}
    for seed, ps in by_seed.items():
        d, p = by_role(ps)
        gains[seed] = depth_means(d.layers, d.values - p.values)
    return gains, numbers


def shallow_minus_deeper(ev: Evidence, s: Settings, method: str | None, key: str, last: bool):
    """Shallow minus deeper-layer similarity of one pair of analysis questions.rq4.<key>
    (its last pair with `last`, else its first), per seed."""
    a = ev.questions.get("rq4", {}).get(key)
    if not a:
        raise NotMeasured(f"questions.rq4.{key} names no analysis")
    which = -1 if last else 0
    by_seed = pairs_of(ev, a, method)
    p = ev.mean_profiles(a, method)[which]
    sh, dp = depth_means(p.layers, p.values)
    numbers = f"{method}, {p.label()}: shallow {sh:.3f}, deeper {dp:.3f} [{fmt_layers(p)}]"
    check_runs(ev, list(dict.fromkeys([p.run_a, p.run_b])), s, numbers)
    halves = {seed: depth_means(ps[which].layers, ps[which].values) for seed, ps in by_seed.items()}
    return Measured({seed: sh - dp for seed, (sh, dp) in halves.items()}, numbers)
