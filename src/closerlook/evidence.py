"""Reading the study's artifacts back for figures and findings: per-epoch metrics, per-layer
similarity profiles from the tidy tables, and curve evaluations — per seed, and as the mean
across seeds with its 95% Student-t interval (closerlook.stats).

Nothing here computes science; it only turns files into plain arrays and data frames in a
fixed order (epochs ascending, layers in network order, seeds ascending).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from closerlook.curve_file import BARRIERS, METRICS, PATHS, CurveEvaluation, read_curve
from closerlook.plan import rq2_setups
from closerlook.points import Point, pair_label
from closerlook.points import label as point_label
from closerlook.points import parse as parse_point
from closerlook.stats import Interval, mean_interval, mean_intervals
from closerlook.tables import SHUFFLED


def metrics_frame(path: str | Path) -> pd.DataFrame:
    """A run's metrics.csv (closerlook.checkpoints writes it), sorted by epoch, `diverged`
    as booleans."""
    df = pd.read_csv(path).sort_values("epoch").reset_index(drop=True)
    df["diverged"] = df["diverged"].astype(str).str.lower().isin(("true", "1"))
    return df


def diverged_epoch(df: pd.DataFrame) -> int | None:
    """The first epoch recorded as diverged, or None."""
    bad = df.loc[df["diverged"], "epoch"]
    return int(bad.iloc[0]) if len(bad) else None


def final_accuracy(df: pd.DataFrame) -> float:
    """Validation accuracy (fraction) after the last epoch."""
    return float(df["val_acc"].iloc[-1])


@dataclass
class LayerProfile:
    """One compared pair's similarity per layer, in network order, with its shuffled
    baseline (NaN where the table has none): of one seed, or the mean across `n` seeds with
    the interval [low, high] per layer (`mean_profiles`). epoch_a and epoch_b are checkpoint
    points (closerlook.points): an epoch (int), or an optimizer step "stepN"."""

    run_a: str
    epoch_a: Point
    run_b: str
    epoch_b: Point
    layers: list[str]
    values: np.ndarray
    baseline: np.ndarray
    method: str = ""
    seed: int | None = 0  # None: a mean across seeds
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    n: int = 1
    across_seeds: bool = False  # the second network is the next seed's

    def key(self) -> tuple[str, Point, str, Point]:
        """The compared pair, the same in every seed."""
        return (self.run_a, self.epoch_a, self.run_b, self.epoch_b)

    def label(self) -> str:
        a, b = point_label(self.epoch_a), point_label(self.epoch_b)
        if self.across_seeds:
            return f"{self.run_a} ({a}): replicate k vs k + 500"
        if self.run_a == self.run_b:
            return f"{self.run_a}: {pair_label(self.epoch_a, self.epoch_b)}"
        return f"{self.run_a} ({a}) vs {self.run_b} ({b})"


def layer_profiles(table: pd.DataFrame, method: str) -> list[LayerProfile]:
    """Every pair of a tidy similarity table as a LayerProfile of `method`, pairs in the
    table's order, seeds ascending within a pair (a table without a `seed` column is seed 0;
    epoch_a/epoch_b cells are read as points: 20 or "step200")."""
    if "seed" not in table.columns:
        table = table.assign(seed=0)
    if "seed_b" not in table.columns:
        table = table.assign(seed_b=table["seed"])
    rows = table[table["method"] == method]
    base = table[table["method"] == method + SHUFFLED]
    keys = ["run_a", "epoch_a", "run_b", "epoch_b"]
    out = []
    for key, pair in rows.groupby(keys, sort=False):
        for seed, df in pair.groupby("seed", sort=True):
            df = df.sort_values("layer_index")
            b = base[base["seed"] == seed]
            for k, v in zip(keys, key, strict=True):
                b = b[b[k] == v]
            baseline = b.set_index("layer")["value"].reindex(df["layer"]).to_numpy(dtype=float)
            ra, ea, rb, eb = key
            out.append(
                LayerProfile(
                    str(ra),
                    parse_point(ea),
                    str(rb),
                    parse_point(eb),
                    df["layer"].tolist(),
                    df["value"].to_numpy(dtype=float),
                    baseline,
                    method=method,
                    seed=int(seed),
                    across_seeds=bool((df["seed_b"] != df["seed"]).any()),
                )
            )
    return out


def profiles_by_seed(table: pd.DataFrame, method: str) -> dict[int, list[LayerProfile]]:
    """`layer_profiles` of `method` grouped by seed: seed -> pairs in the table's order."""
    out: dict[int, list[LayerProfile]] = {}
    for p in layer_profiles(table, method):
        out.setdefault(int(p.seed or 0), []).append(p)
    return dict(sorted(out.items()))


def mean_profiles(by_seed: Mapping[int, Sequence[LayerProfile]]) -> list[LayerProfile]:
    """Each pair's mean profile across seeds, with the 95% t-interval of every layer
    (seed None; `n` seeds). Pairs in the order of the first seed; a pair or layer missing
    from some seed is averaged over the seeds that have it."""
    seeds = sorted(by_seed)
    if not seeds:
        return []
    out = []
    for first in by_seed[seeds[0]]:
        same = [p for s in seeds for p in by_seed[s] if p.key() == first.key()]
        layers = first.layers

        def stack(attr: str, same=same, layers=layers) -> np.ndarray:
            rows = []
            for p in same:
                v = dict(zip(p.layers, getattr(p, attr), strict=True))
                rows.append([v.get(name, np.nan) for name in layers])
            return np.array(rows, dtype=float)

        mean, low, high = mean_intervals(stack("values"))
        baseline = stack("baseline")
        with np.errstate(all="ignore"):
            base_mean = np.array(
                [np.nanmean(c) if np.isfinite(c).any() else np.nan for c in baseline.T]
            )
        out.append(
            LayerProfile(
                *first.key(),
                list(layers),
                mean,
                base_mean,
                method=first.method,
                seed=None,
                low=low,
                high=high,
                n=len(same),
                across_seeds=first.across_seeds,
            )
        )
    return out


# ----------------------------------------------------------------- across seeds
METRIC_COLUMNS = ("lr", *METRICS)


def mean_metrics(frames: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """One run's metrics across seeds, per epoch: the mean of every metric with its 95%
    t-interval as `<metric>_low` / `<metric>_high`, `seeds` (how many seeds reached the
    epoch) and `diverged` (any seed diverged by then)."""
    seeds = sorted(frames)
    epochs = sorted(set().union(*(frames[s]["epoch"].tolist() for s in seeds)))
    out: dict[str, Any] = {"epoch": epochs}
    for col in METRIC_COLUMNS:
        samples = np.array(
            [frames[s].set_index("epoch")[col].reindex(epochs).to_numpy(dtype=float) for s in seeds]
        )
        out[col], out[f"{col}_low"], out[f"{col}_high"] = mean_intervals(samples)
    out["seeds"] = [sum(e in set(frames[s]["epoch"]) for s in seeds) for e in epochs]
    diverged = np.array(
        [
            frames[s].set_index("epoch")["diverged"].reindex(epochs).fillna(False).to_numpy(bool)
            for s in seeds
        ]
    )
    out["diverged"] = diverged.any(axis=0)
    return pd.DataFrame(out)


def final_accuracies(frames: Mapping[int, pd.DataFrame]) -> dict[int, float]:
    """Validation accuracy after the last epoch, per seed."""
    return {s: final_accuracy(df) for s, df in sorted(frames.items())}


def mean_paths(
    curves: Mapping[int, CurveEvaluation],
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Line and curve across seeds: path -> metric -> (mean, low, high) over the t grid
    (every seed's file evaluates the same t grid)."""
    seeds = sorted(curves)
    return {
        path: {
            m: mean_intervals(np.array([curves[s].paths[path][m] for s in seeds])) for m in METRICS
        }
        for path in PATHS
    }


def barrier_intervals(curves: Mapping[int, CurveEvaluation]) -> dict[str, dict[str, Interval]]:
    """Barriers across seeds (closerlook.barriers): path -> each of BARRIERS ("error_train",
    "error_val", "loss_train", "loss_val") -> mean and interval."""
    seeds = sorted(curves)
    return {
        path: {k: mean_interval([curves[s].barriers[path][k] for s in seeds]) for k in BARRIERS}
        for path in PATHS
    }


@dataclass
class Evidence:
    """Everything figures and findings read, per seed; anything not configured is left out.

    `method` is the primary similarity measure (config `figures.method`), `methods` every
    measure computed (primary first); `seeds` the replicate indices; `curve_sets` every
    curve loaded, by name."""

    questions: Mapping[str, Any]
    method: str
    methods: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    metrics: dict[str, dict[int, pd.DataFrame]] = field(default_factory=dict)
    profiles: dict[str, dict[str, dict[int, list[LayerProfile]]]] = field(default_factory=dict)
    curve_sets: dict[str, dict[int, CurveEvaluation]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.methods = list(dict.fromkeys([self.method, *self.methods]))

    @property
    def measures(self) -> list[str]:
        """Every measure, the primary one first."""
        return self.methods

    @property
    def curves(self) -> dict[int, CurveEvaluation]:
        """seed -> RQ1's curve (questions.rq1.curve), else the first curve loaded."""
        name = self.questions.get("rq1", {}).get("curve")
        if name in self.curve_sets:
            return self.curve_sets[name]
        return next(iter(self.curve_sets.values()), {})

    def rq2_setups(self) -> list[tuple[str, str, str]]:
        """(role, run, analysis) of every configured RQ2 setup, in the roles' order."""
        return rq2_setups(self.questions)

    @property
    def curve(self) -> CurveEvaluation | None:
        """The curve of the first seed (the loss plane is drawn for one seed)."""
        return self.curves[min(self.curves)] if self.curves else None

    def seed_profiles(
        self, analysis: str, method: str | None = None
    ) -> dict[int, list[LayerProfile]]:
        """seed -> the analysis' pairs under `method` (default: the primary one)."""
        return self.profiles.get(analysis, {}).get(method or self.method, {})

    def mean_profiles(self, analysis: str, method: str | None = None) -> list[LayerProfile]:
        """The analysis' pairs under `method`, averaged across seeds with intervals."""
        return mean_profiles(self.seed_profiles(analysis, method))

    def mean_metrics(self, run: str) -> pd.DataFrame:
        return mean_metrics(self.metrics[run])


def load_evidence(
    parts: Mapping[str, Sequence[str]],
    seeds: Sequence[int],
    metric_paths: Sequence[str | Path],
    table_paths: Sequence[str | Path],
    curve_paths: Sequence[str | Path],
    questions: Mapping[str, Any] | None,
    method: str,
    methods: Sequence[str] = (),
) -> Evidence:
    """Evidence from files: `metric_paths` run-major (every seed of parts["runs"][0], then
    the next run), `table_paths` in the order of parts["analyses"] (one table holds every
    seed), `curve_paths` curve-major (every seed of parts["curves"][0], then the next
    curve); `curves` is the first curve's."""
    runs, analyses = list(parts.get("runs", [])), list(parts.get("analyses", []))
    seeds = list(seeds)
    if len(metric_paths) != len(runs) * len(seeds):
        raise ValueError(
            f"{len(metric_paths)} metrics files for {len(runs)} runs x {len(seeds)} seeds"
        )
    names = list(parts.get("curves", []))
    if len(curve_paths) != len(names) * len(seeds):
        raise ValueError(
            f"{len(curve_paths)} curve files for {len(names)} curves x {len(seeds)} seeds"
        )
    ev = Evidence(questions or {}, method, list(methods), seeds)
    for i, path in enumerate(metric_paths):
        run, seed = runs[i // len(seeds)], seeds[i % len(seeds)]
        ev.metrics.setdefault(run, {})[seed] = metrics_frame(path)
    for a, path in zip(analyses, table_paths, strict=True):
        table = pd.read_csv(path)
        ev.profiles[a] = {m: profiles_by_seed(table, m) for m in ev.measures}
    for i, path in enumerate(curve_paths):
        curve, seed = names[i // len(seeds)], seeds[i % len(seeds)]
        ev.curve_sets.setdefault(curve, {})[seed] = read_curve(path)
    return ev


def from_inputs(
    settings: Mapping[str, Any],
    metric_paths: Sequence[str | Path],
    table_paths: Sequence[str | Path],
    curve_paths: Sequence[str | Path],
) -> Evidence:
    """The evidence of a figure or of findings.md: its rule's settings (parts, seeds,
    measures with the primary first, questions; closerlook.study_figures.settings) and its
    input files, in the order :func:`load_evidence` describes."""
    measures = list(settings["measures"])
    return load_evidence(
        settings["parts"], settings["seeds"], metric_paths, table_paths, curve_paths,
        settings.get("questions"), measures[0], measures,
    )  # fmt: skip
