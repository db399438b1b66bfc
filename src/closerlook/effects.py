"""Reading a claim's effect out of the evidence: the verdicts' settings, similarity above its
noise floor, depth contrasts on named partitions, barriers against the interpolated
endpoints, accuracies at an epoch, and the checks that make a claim unmeasurable
(closerlook.claims uses these).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from closerlook.evidence import CurveEvaluation, Evidence, LayerProfile, diverged_epoch
from closerlook.noise_floor import corrected, has_floor
from closerlook.partitions import PRIMARY, Partition, halves, partition_of, split


@dataclass
class Settings:
    """Thresholds of the verdicts (config `findings`); `partition` is the depth partition a
    depth claim is read on (the primary one, or a sensitivity row's)."""

    accuracy_margin: float = 0.01
    similarity_margin: float = 0.02
    error_barrier: float = 0.02
    min_epochs: int = 10
    include_output: bool = False
    window: float = 0.25
    spike: float = 1.0
    partition: str = PRIMARY

    @classmethod
    def from_config(cls, f: Mapping[str, Any]) -> Settings:
        """The settings of config `findings` (missing keys: the defaults)."""
        m, inst = f.get("margin", {}), f.get("instability", {})
        return cls(
            accuracy_margin=m.get("accuracy", cls.accuracy_margin),
            similarity_margin=m.get("similarity", cls.similarity_margin),
            error_barrier=f.get("error_barrier", cls.error_barrier),
            min_epochs=f.get("min_epochs", cls.min_epochs),
            include_output=f.get("include_output", cls.include_output),
            window=inst.get("window", cls.window),
            spike=inst.get("spike", cls.spike),
        )


class NotMeasured(Exception):
    """The evidence cannot decide the claim: `reason` says why; `numbers` what was seen."""

    def __init__(self, reason: str, numbers: str = ""):
        super().__init__(reason)
        self.reason, self.numbers = reason, numbers


@dataclass
class Measured:
    """A claim's effect per seed (seed -> value; +inf is an outright support), the numbers
    behind it in words, and for a depth claim the partition it was read on."""

    effects: dict[int, float]
    numbers: str
    outright: str = ""  # why the +inf seeds support, in words
    partition: Partition | None = None
    extra: dict[str, Any] | None = None  # machine-readable values (barriers) for findings.json


# ------------------------------------------------------------------------- similarity
def floor_values(p: LayerProfile) -> np.ndarray:
    """The profile's per-layer similarity above its noise floor (closerlook.noise_floor);
    NotMeasured when a layer has no shuffled baseline."""
    if not has_floor(p.baseline):
        raise NotMeasured(
            f"{p.label()} under {p.method} has no shuffled baseline (similarity.baseline), "
            "so its noise floor cannot be removed"
        )
    return corrected(p.values, p.baseline)


def depth_means(
    layers: Sequence[str], values: Sequence[float], deeper: Sequence[str] | None = None
) -> tuple[float, float]:
    """(mean over the shallow layers, mean over the deeper layers): `deeper` names the
    deeper layers (the others are shallow); without it, the second half against the first
    (the middle layer of an odd count is in neither). NaN where a side is empty."""
    p = halves(layers, "") if deeper is None else split(layers, deeper, "")
    return p.means(layers, values)


def partition(ev: Evidence, question: str, layers: Sequence[str], s: Settings) -> Partition:
    """The depth partition `s.partition` of `question` (closerlook.partitions)."""
    return partition_of(ev.questions, question, layers, s.partition)


def fmt_layers(p: LayerProfile) -> str:
    """ "conv1 0.812 (0.640), ...": raw values, and above the floor in brackets."""
    above = corrected(p.values, p.baseline)
    return ", ".join(
        f"{name} {v:.3f} ({c:.3f})" for name, v, c in zip(p.layers, p.values, above, strict=True)
    )


# ------------------------------------------------------------------------- runs and accuracy
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


# ------------------------------------------------------------------------- barriers
def curves_of(ev: Evidence, name: str) -> list[CurveEvaluation]:
    """The curve `name` in every seed, or NotMeasured."""
    by_seed = ev.curve_sets.get(name)
    if not by_seed:
        raise NotMeasured(f"curve '{name}' is not configured")
    missing = [seed for seed in ev.seeds if seed not in by_seed]
    if missing:
        raise NotMeasured(f"curve '{name}' has no seed {missing[0]}")
    return [by_seed[seed] for seed in ev.seeds]


def barrier_values(curves: Sequence[CurveEvaluation]) -> dict[str, dict[str, list[float]]]:
    """path -> barrier key (error_train, error_val, loss_train, loss_val) -> per seed."""
    keys = list(curves[0].barriers["line"])
    return {
        path: {k: [float(c.barriers[path][k]) for c in curves] for k in keys}
        for path in ("line", "curve")
    }


def barrier_numbers(curves: Sequence[CurveEvaluation], s: Settings, seeds: str = "") -> str:
    """The endpoints' errors and both barriers of line and curve in words (`seeds`: which
    replicates the endpoints are, when not the same one)."""
    c = curves[0]
    err = [
        (1 - x.paths["line"]["train_acc"][0], 1 - x.paths["line"]["train_acc"][-1]) for x in curves
    ]
    b = barrier_values(curves)

    def pts(path: str, key: str) -> str:
        return each([100 * v for v in b[path][key]], "{:.2f}")

    return (
        f"{c.run_a} epoch {c.epoch_a} → {c.run_b} epoch {c.epoch_b}{seeds}: endpoint training "
        f"error {each([100 * a for a, _ in err], '{:.2f}')}% → "
        f"{each([100 * z for _, z in err], '{:.2f}')}%; error barrier (points above the "
        f"endpoints' interpolation), train: line {pts('line', 'error_train')}, curve "
        f"{pts('curve', 'error_train')}; validation: line {pts('line', 'error_val')}, curve "
        f"{pts('curve', 'error_val')}; loss barrier (nats), train: line "
        f"{each(b['line']['loss_train'])}, curve {each(b['curve']['loss_train'])}; validation: "
        f"line {each(b['line']['loss_val'])}, curve {each(b['curve']['loss_val'])}; a barrier "
        f"counts above {100 * s.error_barrier:g} points of training error"
    )


def barrier_effect(ev: Evidence, s: Settings, name: str, path: str, seeds: str = "") -> Measured:
    """The `path` ("line" or "curve") error barrier (train) of curve `name` minus the
    threshold, per seed, with both barriers in words and in `extra`."""
    curves = curves_of(ev, name)
    numbers = barrier_numbers(curves, s, seeds)
    check_runs(ev, [curves[0].run_a, curves[0].run_b], s, numbers)
    over = [c.barriers[path]["error_train"] - s.error_barrier for c in curves]
    extra = {f"{p}_{k}": v for p, d in barrier_values(curves).items() for k, v in d.items()}
    return Measured(dict(zip(ev.seeds, over, strict=True)), numbers, extra=extra)
