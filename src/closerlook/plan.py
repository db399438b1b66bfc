"""The derived plan of a validated config (closerlook.config): pure functions from the config
to what each job does, as dataclasses where a job takes many settings.

- runs: :class:`RunSettings` of one replicate, the checkpoints it saves (epochs, SGDR cycle
  ends, optimizer steps), its teacher;
- analyses: the pairs of checkpoints each compares, and the seed of each pair's partner;
- curves: the endpoints, their seed offsets, :class:`CurveFit` and :class:`CurveEval`;
- the questions: the primary similarity measure first, RQ1's reading epochs, RQ2's deeper
  layers.

Nothing here imports torch or reads a file (docs/architecture.md, "the plan").
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from closerlook import replicates as design
from closerlook import schedules
from closerlook.config import ConfigError
from closerlook.points import Point, step_point

# (C, H, W) and classes of each dataset, known without reading its files (closerlook.data:
# the digits are 8x8 grey images, CIFAR-10's python batches 3x32x32).
DATASET_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "digits": ((1, 8, 8), 10),
    "cifar10": ((3, 32, 32), 10),
}


# Similarity measures a comparison job computes from the activation files one minibatch of
# rows at a time (closerlook.compare), never from a whole layer.
STREAMED_MEASURES = ("cka_minibatch",)


@dataclass
class RunSettings:
    """One replicate of a run: the `training` defaults overridden by the run's own keys,
    with its torch seed (its seed group's base + the replicate index k:
    closerlook.replicates)."""

    name: str
    model: str
    epochs: int
    batch_size: int
    momentum: float
    weight_decay: float
    schedule: dict[str, Any]
    seed: int = 0
    replicate: int = 0
    save_epochs: list[int] = field(default_factory=list)
    save_iterations: list[int] = field(default_factory=list)
    augment: bool = False
    flip: bool = False
    warmup_epochs: float = 0
    accumulation: int = 1
    amp: bool = True
    channels_last: bool = True
    freeze: dict[str, Any] | None = None
    distill: dict[str, Any] | None = None


@dataclass
class CurveFit:
    """Settings of curve training (Garipov et al. 2018, §3.2): the curve family and its
    bends, and SGD with the first endpoint's run's settings unless the curve sets its own."""

    epochs: int
    lr: float
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = False
    flip: bool = False
    seed: int = 0
    kind: str = "polychain"
    n_bends: int = 3


@dataclass
class CurveEval:
    """Settings of a curve's evaluation: points along line and curve, the BatchNorm
    recomputation subset, the loss plane's grid (0: no plane) and margin."""

    points: int = 31
    bn_images: int = 0
    bn_batch_size: int = 512
    grid: int = 21
    margin: float = 0.2
    seed: int = 0


# --------------------------------------------------------------------------------- runs
def run_settings(config: Mapping[str, Any], run: str, replicate: int = 0) -> RunSettings:
    """Replicate k of a run: `training` overridden by the run's keys, torch seed its seed
    group's base + k (closerlook.replicates.seed_base)."""
    if run not in config["runs"]:
        raise ConfigError(f"unknown run '{run}'; runs: {', '.join(config['runs'])}")
    keys = {**copy.deepcopy(config["training"]), **copy.deepcopy(config["runs"][run])}
    keys.pop("pair_with", None)
    keys["seed"] = design.seed_base(config, run) + int(replicate)
    return RunSettings(name=run, replicate=int(replicate), **keys)


def trained_settings(config: Mapping[str, Any], run: str, replicate: int = 0) -> RunSettings:
    """Replicate k of the network a trained run makes for itself and every run identical to
    it (closerlook.replicates.trained_run): its settings, saving every checkpoint any of them
    saves."""
    settings = run_settings(config, run, replicate)
    same = [run_settings(config, r) for r in design.aliases(config, run)]
    settings.save_epochs = sorted({e for s in same for e in s.save_epochs})
    settings.save_iterations = sorted({n for s in same for n in s.save_iterations})
    return settings


def replicates(config: Mapping[str, Any]) -> list[int]:
    """The replicate indices k = 0 .. seeds−1 (folders seed{k})."""
    return list(range(config["seeds"]))


def cycle_ends(run: RunSettings) -> list[int]:
    """The SGDR cycle ends of a run within its epochs (empty for other schedules)."""
    s = run.schedule
    if s["kind"] != "sgdr":
        return []
    return schedules.sgdr_cycle_ends(s["T0"], s["T_mult"], run.epochs)


def restarts(run: RunSettings) -> list[int]:
    """The SGDR cycle ends after which training restarts (every one before the last epoch)."""
    return [e for e in cycle_ends(run) if e < run.epochs]


def drops(run: RunSettings) -> list[int]:
    """The step-decay milestones before a run's last epoch, ascending (empty for other
    schedules): the epochs after which its learning rate drops."""
    s = run.schedule
    if s["kind"] != "step":
        return []
    return sorted({int(m) for m in s["milestones"] if m < run.epochs})


def checkpoint_epochs(run: RunSettings) -> list[int]:
    """Epochs whose weights a run saves: 0 (initialisation), `save_epochs`, the end of every
    SGDR cycle, and the last epoch."""
    epochs = {0, run.epochs, *(e for e in run.save_epochs if e <= run.epochs)}
    epochs.update(cycle_ends(run))
    return sorted(epochs)


def checkpoint_steps(run: RunSettings) -> list[int]:
    """Optimizer steps after which a run also saves its weights (`save_iterations`, counted
    from 1 at the start of training), ascending."""
    return sorted({int(n) for n in run.save_iterations})


def checkpoint_points(run: RunSettings) -> list[Point]:
    """Every checkpoint a run saves (closerlook.points): its epochs (`checkpoint_epochs`),
    then its steps as "stepN" (`checkpoint_steps`)."""
    return [*checkpoint_epochs(run), *map(step_point, checkpoint_steps(run))]


def steps_per_epoch(config: Mapping[str, Any], run: str) -> int:
    """Optimizer steps in one epoch of a run: its batches over the training split."""
    from closerlook.data import split_sizes

    return math.ceil(split_sizes(config["data"])["train"] / run_settings(config, run).batch_size)


def resolve_epoch(config: Mapping[str, Any], run: str, epoch: int | str) -> int:
    """An epoch of one run: an integer, "last" (the run's final epoch) or "last_cycle_end"
    (the last completed SGDR cycle, where the paper reads SGDR's iterates; the final epoch
    of any other schedule)."""
    settings = run_settings(config, run)
    if epoch == "last":
        return settings.epochs
    if epoch == "last_cycle_end":
        return (cycle_ends(settings) or [settings.epochs])[-1]
    return int(epoch)


def teacher(config: Mapping[str, Any], run: str) -> tuple[str, int] | None:
    """(teacher run, teacher epoch) of a distilled run, or None; the epoch defaults to the
    teacher's last."""
    d = run_settings(config, run).distill
    if not d:
        return None
    name = d["teacher"]["run"]
    return name, d["teacher"].get("epoch", run_settings(config, name).epochs)


def model_sources(config: Mapping[str, Any], run: str) -> list[str]:
    """The user's module file that builds a run's model (``arch: python``), or nothing: an
    input of every job that builds it (closerlook.usercode)."""
    source = config["models"][run_settings(config, run).model].get("source")
    return [source] if source else []


def run_sources(config: Mapping[str, Any], run: str) -> list[str]:
    """The user's module files a run's training imports: its model's, its schedule's."""
    schedule = run_settings(config, run).schedule.get("source")
    return list(dict.fromkeys([*model_sources(config, run), *([schedule] if schedule else [])]))


# ----------------------------------------------------------------------------- analyses
# What an analysis compares when it does not say (schema keys of `$defs/analysis`, whose
# meaning depends on the kind, so the schema cannot give them a default).
ANALYSIS_DEFAULTS: dict[str, dict[str, Any]] = {
    "within_run": {"epochs": "cycle_ends", "pairs": "consecutive"},
    "across_runs": {"epoch": "last"},
    "teacher_student": {"epoch": "last", "teacher_epoch": "last"},
    "across_seeds": {"epoch": "last"},
}


def analysis(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An analysis' keys with the defaults of its kind (`ANALYSIS_DEFAULTS`)."""
    a = config["similarity"]["analyses"][name]
    return {**ANALYSIS_DEFAULTS.get(a["kind"], {}), **a}


def analysis_epochs(config: Mapping[str, Any], name: str) -> list[Point]:
    """The saved points a within-run analysis compares, in order: epochs, and steps
    ("stepN") where `epochs` lists them ("saved" is every saved epoch, without steps)."""
    a = analysis(config, name)
    run = run_settings(config, a["run"])
    if a["epochs"] == "cycle_ends":
        return cycle_ends(run)
    if a["epochs"] == "saved":
        return checkpoint_epochs(run)
    return list(a["epochs"])


# A within-run analysis' windows: its key -> the epochs each window starts at.
WINDOWS = {"after_restart": restarts, "after_drop": drops}


def window_pairs(config: Mapping[str, Any], name: str, key: str) -> list[tuple[int, int]]:
    """(e, e + δ) for every start e of window `key` (`WINDOWS`): `after_restart`, each SGDR
    restart against δ epochs into the next cycle (the authors compared 10/12, 30/33, 70/74,
    150/152); `after_drop`, each step-decay drop likewise (its control). δ is one number for
    every start, or one per start in order."""
    a = analysis(config, name)
    delta = a.get(key)
    if delta is None:
        return []
    starts = WINDOWS[key](run_settings(config, a["run"]))
    deltas = [delta] * len(starts) if isinstance(delta, int) else list(delta)
    return [(e, e + d) for e, d in zip(starts, deltas, strict=False)]


Pair = tuple[str, Point, str, Point]


def analysis_pairs(config: Mapping[str, Any], name: str) -> list[Pair]:
    """(run_a, epoch_a, run_b, epoch_b) for each comparison of an analysis:

    - within_run: consecutive points of `epochs` (`pairs: from_first`: the first against
      each later one), then the restart and drop windows (`window_pairs`);
    - across_runs: every pair of its runs (in the order listed) at one epoch;
    - teacher_student: the teacher against each student;
    - across_seeds: the run against itself at one epoch, or at each of `epochs` (in the
      next seed: `partner_seed`).
    """
    a = analysis(config, name)
    kind, epoch = a["kind"], a.get("epoch")
    if kind == "within_run":
        points = analysis_epochs(config, name)
        firsts = points[:1] * len(points) if a["pairs"] == "from_first" else points
        pairs = list(zip(firsts, points[1:], strict=False))
        pairs += [p for key in WINDOWS for p in window_pairs(config, name, key)]
        return [(a["run"], e, a["run"], f) for e, f in dict.fromkeys(pairs)]
    if kind == "across_runs":
        runs = list(a["runs"])
        return [
            (r, resolve_epoch(config, r, epoch), s, resolve_epoch(config, s, epoch))
            for i, r in enumerate(runs)
            for s in runs[i + 1 :]
        ]
    if kind == "across_seeds":
        if "epochs" in a:
            return [(a["run"], e, a["run"], e) for e in analysis_epochs(config, name)]
        e = resolve_epoch(config, a["run"], epoch)
        return [(a["run"], e, a["run"], e)]
    t = a["teacher"]
    te = resolve_epoch(config, t, a["teacher_epoch"])
    return [(t, te, s, resolve_epoch(config, s, epoch)) for s in a["students"]]


def partner_seed(config: Mapping[str, Any], name: str, seed: int) -> int:
    """The replicate of the second checkpoint of an analysis' pair in replicate k: k itself
    (like with like), or its independent partner k + 500 for an across_seeds analysis
    (closerlook.replicates.partner: no two pairs share a network)."""
    kind = config["similarity"]["analyses"][name]["kind"]
    if kind == "across_seeds":
        return design.partner(seed)
    return int(seed)


def measures(config: Mapping[str, Any]) -> list[str]:
    """Every similarity measure, the primary one first: `figures.method`, else the first of
    `similarity.methods`; figures draw them in this order and findings judge by the first."""
    methods = config["similarity"]["methods"]
    return list(dict.fromkeys([config["figures"].get("method") or methods[0], *methods]))


def primary_measure(config: Mapping[str, Any]) -> str:
    """The measure of the RQ figures and of findings' verdicts (`measures`' first)."""
    return measures(config)[0]


def matrix_method(config: Mapping[str, Any], name: str) -> str | None:
    """The measure of an analysis' layer x layer matrix (closerlook.layer_matrix): the
    primary one where the analysis says `matrix: true`, else None."""
    wanted = config["similarity"]["analyses"][name].get("matrix", False)
    return primary_measure(config) if wanted else None


# ------------------------------------------------------------------------------- curves
def curve_endpoints(config: Mapping[str, Any], name: str) -> list[tuple[str, int]]:
    """The two endpoints (run, epoch) of a configured curve: two saved epochs of `run`
    (by default its last two SGDR restarts) or the two `endpoints` given as {run, epoch}."""
    c = config["curves"]["connections"][name]
    if "endpoints" in c:
        return [
            (e["run"], resolve_epoch(config, e["run"], e.get("epoch", "last")))
            for e in c["endpoints"]
        ]
    epochs = c.get("epochs", "last_cycle_ends")
    if epochs == "last_cycle_ends":
        epochs = cycle_ends(run_settings(config, c["run"]))[-2:]
    return [(c["run"], int(e)) for e in epochs]


def curve_replicates(config: Mapping[str, Any], name: str, seed: int) -> tuple[int, int]:
    """The replicates a curve of replicate k joins: k for either endpoint, or its
    independent partner k + 500 for an endpoint with `partner: true` (two independently
    trained optima of one run; closerlook.replicates.partner)."""
    ends = config["curves"]["connections"][name].get("endpoints") or [{}, {}]
    return tuple(design.partner(seed) if e.get("partner") else int(seed) for e in ends)


def curve_fit(config: Mapping[str, Any], name: str) -> CurveFit:
    """A curve's training settings: its own keys, then the first endpoint's run's SGD
    settings (batch size, momentum, weight decay, augmentation)."""
    c = config["curves"]["connections"][name]
    run = run_settings(config, curve_endpoints(config, name)[0][0])
    sgd = {k: c.get(k, getattr(run, k)) for k in ("batch_size", "momentum", "weight_decay")}
    return CurveFit(
        epochs=c["train_epochs"],
        lr=c["lr"],
        **sgd,
        augment=run.augment,
        flip=run.flip,
        seed=c["seed"],
        kind=c["kind"],
        n_bends=c["n_bends"],
    )


def curve_model(config: Mapping[str, Any], name: str) -> str:
    """The model (a key of `models`) both endpoints of a curve share."""
    return run_settings(config, curve_endpoints(config, name)[0][0]).model


def curve_eval(config: Mapping[str, Any], name: str | None = None) -> CurveEval:
    """The evaluation settings every curve shares (`curves` without `connections`); of
    curve `name`, a grid of 0 (no loss plane) where it says `plane: false`."""
    c = config["curves"]
    plane = c["connections"][name].get("plane", True) if name else True
    return CurveEval(
        points=c["points"],
        bn_images=c["bn_images"],
        bn_batch_size=c["bn_batch_size"],
        grid=c["plane"]["grid"] if plane else 0,
        margin=c["plane"]["margin"],
        seed=c["eval_seed"],
    )


# ---------------------------------------------------------------------------- questions
RQ2_ROLES = ("no_warmup", "warmup", "frozen", "small_batch")


def rq2_setups(questions: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(role, run, analysis) of every RQ2 setup the questions give, in the roles' order."""
    q = questions.get("rq2", {})
    return [(r, q[r]["run"], q[r]["analysis"]) for r in RQ2_ROLES if r in q]
