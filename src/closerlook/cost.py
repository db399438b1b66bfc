"""What the configured study costs before any job runs (`closerlook plan`): per rule, its
jobs (closerlook.jobs) and per job the predicted wall time on a calibrated machine
(closerlook.calibration), peak host and GPU memory and bytes written; in total GPU- and
CPU-hours and disk by artifact kind.

Sizes are exact where the format fixes them: an activation file holds probe size × every
registered layer's values per image × the stored dtype's bytes (plus its probe header), a
checkpoint the weights, buffers and SGD momentum. Times are the work of a job (epochs ×
images, probe images, measures × layer shapes, curve points × images) over the calibrated
throughputs, plus the job's start-up. Memory is an estimate from the same shapes
(docs/architecture.md, "the plan").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from closerlook import jobs as dag
from closerlook import plan
from closerlook.calibration import Calibration
from closerlook.sizes import (
    activation_bytes,
    checkpoint_bytes,
    net_shapes,
    stored_itemsize,
)

KINDS = ("checkpoints", "activations", "similarity", "curves", "figures")
GPU_RULES = ("train_", "activations", "curve_fit", "curve_evaluate")  # the profile's gpu: 1
FIGURE_BYTES = 150_000  # one figure file (PNG at 150 dpi, or PDF), about
TABLE_ROW_BYTES = 120  # one row of a similarity CSV
COPIES = 3  # working copies of a layer in a comparison (float64, centred, factorised)


@dataclass(frozen=True)
class JobCost:
    seconds: float
    bytes_written: int
    peak_host_bytes: int
    peak_gpu_bytes: int = 0


@dataclass
class RuleCost:
    """The jobs of one rule; `kind` is the artifact kind its outputs count as."""

    kind: str
    gpu: bool
    jobs: list[JobCost] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(j.seconds for j in self.jobs)

    @property
    def bytes_written(self) -> int:
        return sum(j.bytes_written for j in self.jobs)

    def summary(self) -> dict[str, Any]:
        """jobs, the longest job's seconds and largest job's bytes and memory, and totals."""
        return {
            "jobs": len(self.jobs),
            "seconds_per_job": max(j.seconds for j in self.jobs),
            "bytes_per_job": max(j.bytes_written for j in self.jobs),
            "peak_host_bytes": max(j.peak_host_bytes for j in self.jobs),
            "peak_gpu_bytes": max(j.peak_gpu_bytes for j in self.jobs),
            "seconds": self.seconds,
            "bytes": self.bytes_written,
            "kind": self.kind,
            "gpu": self.gpu,
        }


@dataclass
class StudyCost:
    rules: dict[str, RuleCost]
    calibration: Calibration
    largest_file: tuple[str, int]

    def totals(self) -> dict[str, Any]:
        """GPU- and CPU-hours (a GPU job's time counts as GPU time on a CUDA calibration)
        and bytes written by kind, with their total and the largest single file."""
        cuda = self.calibration.device == "cuda"
        gpu = sum(r.seconds for r in self.rules.values() if r.gpu and cuda)
        every = sum(r.seconds for r in self.rules.values())
        disk = {k: sum(r.bytes_written for r in self.rules.values() if r.kind == k) for k in KINDS}
        return {
            "gpu_hours": gpu / 3600,
            "cpu_hours": (every - gpu) / 3600,
            "disk_bytes": {**disk, "total": sum(disk.values())},
            "largest_file": {"name": self.largest_file[0], "bytes": self.largest_file[1]},
        }

    def as_json(self) -> dict[str, Any]:
        c = self.calibration
        return {
            "device": {"kind": c.device, "machine": c.machine, "measured": c.measured},
            "rules": {name: r.summary() for name, r in self.rules.items()},
            "totals": self.totals(),
        }


# ------------------------------------------------------------------------ one job each
@dataclass(frozen=True)
class Context:
    """What every job's cost reads: the config, the calibration, the data's sizes."""

    config: Mapping[str, Any]
    cal: Calibration
    in_shape: tuple[int, int, int]
    sizes: dict[str, int]

    @property
    def data_bytes(self) -> int:
        """The dataset as the jobs hold it: float32 images of both splits."""
        return 4 * math.prod(self.in_shape) * (self.sizes["train"] + self.sizes["val"])

    def spec(self, model: str) -> dict[str, Any]:
        return self.config["models"][model]

    def memory(self, model_bytes: int, working: int) -> tuple[int, int]:
        """(host, GPU) peak bytes of a job holding the data, a model's state and `working`
        bytes: all on the host on a CPU calibration; on CUDA the data and work move to the
        GPU and the host keeps the loaded data."""
        host = self.cal.host_base_bytes + self.data_bytes
        if self.cal.device == "cuda":
            return host, self.data_bytes + model_bytes + working
        return host + model_bytes + working, 0


def train_cost(ctx: Context, run: str) -> JobCost:
    """Epochs × training images at the run's batch, an evaluation of the validation split
    per epoch and of the initial weights, a teacher's forward pass per training image when
    distilled, and a resume snapshot per epoch."""
    s = plan.run_settings(ctx.config, run)
    shapes, cal = net_shapes(ctx.config, s.model), ctx.cal
    spec, ckpt = ctx.spec(s.model), checkpoint_bytes(shapes)
    seconds = cal.job_overhead_s + ctx.data_bytes / cal.read_bytes_per_s
    seconds += cal.train_seconds(spec, ctx.in_shape, s.batch_size, s.epochs * ctx.sizes["train"])
    seconds += cal.forward_seconds(spec, ctx.in_shape, (s.epochs + 1) * ctx.sizes["val"])
    seconds += s.epochs * ckpt / cal.write_bytes_per_s
    t = plan.teacher(ctx.config, run)
    if t:
        teacher = ctx.spec(plan.run_settings(ctx.config, t[0]).model)
        seconds += cal.forward_seconds(teacher, ctx.in_shape, s.epochs * ctx.sizes["train"])
    saved = len(plan.checkpoint_points(s))
    working = 2 * 4 * s.batch_size * shapes.activations_per_image
    host, gpu = ctx.memory(4 * (3 * shapes.parameters + shapes.buffers), working)
    return JobCost(seconds, saved * ckpt + 100 * (s.epochs + 1), host, gpu)


def activation_cost(ctx: Context, dump: dag.Activation) -> JobCost:
    """The probe set's forward pass and the file's bytes at the disk's write rate."""
    model = plan.run_settings(ctx.config, dump.run).model
    shapes, cal, probe = net_shapes(ctx.config, model), ctx.cal, ctx.config["probe"]
    size = activation_bytes(shapes, probe)
    seconds = cal.job_overhead_s + ctx.data_bytes / cal.read_bytes_per_s
    seconds += cal.forward_seconds(ctx.spec(model), ctx.in_shape, probe["size"])
    seconds += size / cal.write_bytes_per_s
    working = 4 * probe["batch_size"] * (shapes.activations_per_image + shapes.layer_values)
    host, gpu = ctx.memory(4 * (shapes.parameters + shapes.buffers), working)
    return JobCost(seconds, size, host, gpu)


def compared_layers(
    ctx: Context, pair: dag.PairJob
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(shape in a, shape in b) of every layer both sides of a pair register, with N first."""
    n = ctx.config["probe"]["size"]
    la = net_shapes(ctx.config, plan.run_settings(ctx.config, pair.a.run).model).layers
    lb = net_shapes(ctx.config, plan.run_settings(ctx.config, pair.b.run).model).layers
    return [((n, *la[k]), (n, *lb[k])) for k in la if k in lb]


def pair_cost(ctx: Context, pair: dag.PairJob) -> JobCost:
    """Every measure and its shuffled baseline on every shared layer (and, for a
    `matrix: true` analysis, the primary measure on every layer i against every j ≥ i),
    after reading both files."""
    cal, layers = ctx.cal, compared_layers(ctx, pair)
    methods, batch = plan.measures(ctx.config), ctx.config["similarity"]["minibatch_size"]
    seconds = cal.job_overhead_s + sum(
        2 * cal.similarity_seconds(m, a, b, batch) for a, b in layers for m in methods
    )
    matrix = plan.matrix_method(ctx.config, pair.analysis)
    if matrix:
        seconds += sum(
            cal.similarity_seconds(matrix, layers[i][0], layers[j][1], batch)
            for i in range(len(layers))
            for j in range(i, len(layers))
        )
    read = sum(math.prod(a) + math.prod(b) for a, b in layers) * stored_itemsize(
        ctx.config["probe"]
    )
    seconds += read / cal.read_bytes_per_s
    # a job of only streamed measures holds one minibatch of rows, any other whole layers
    n = layers[0][0][0]
    rows = min(n, batch) if set(methods) <= set(plan.STREAMED_MEASURES) else n
    widest = max(math.prod(a[1:]) + math.prod(b[1:]) for a, b in layers) * rows
    coefficients = sum(8 * min(a[1], b[1]) * max(math.prod(a[2:]), 1) for a, b in layers) * len(
        methods
    )
    written = coefficients + TABLE_ROW_BYTES * 2 * len(layers) * len(methods)
    return JobCost(seconds, written, cal.host_base_bytes + COPIES * 8 * widest)


def curve_fit_cost(ctx: Context, curve: str) -> JobCost:
    """The curve's epochs of training images at its batch, each step costing the calibrated
    curve-over-plain ratio of the model's training step; a resume snapshot per epoch."""
    fit, model = plan.curve_fit(ctx.config, curve), plan.curve_model(ctx.config, curve)
    shapes, cal = net_shapes(ctx.config, model), ctx.cal
    bends = 4 * fit.n_bends * shapes.parameters
    seconds = cal.job_overhead_s + ctx.data_bytes / cal.read_bytes_per_s
    seconds += cal.curve_epoch_ratio * cal.train_seconds(
        ctx.spec(model), ctx.in_shape, fit.batch_size, fit.epochs * ctx.sizes["train"]
    )
    seconds += fit.epochs * 2 * bends / cal.write_bytes_per_s
    working = 2 * 4 * fit.batch_size * shapes.activations_per_image
    host, gpu = ctx.memory(3 * bends + 4 * shapes.parameters, working)
    return JobCost(seconds, bends + 50_000, host, gpu)


def curve_evaluate_cost(ctx: Context, curve: str) -> JobCost:
    """Line and curve at `points` values of t and the plane's grid² points, each a BN
    recomputation on its images and an evaluation of both splits."""
    ev, model = plan.curve_eval(ctx.config, curve), plan.curve_model(ctx.config, curve)
    shapes, cal = net_shapes(ctx.config, model), ctx.cal
    weights = 2 * ev.points + ev.grid**2
    bn = ev.bn_images or ctx.sizes["train"]
    per_point = bn + ctx.sizes["train"] + ctx.sizes["val"]
    seconds = cal.job_overhead_s + ctx.data_bytes / cal.read_bytes_per_s
    seconds += cal.forward_seconds(ctx.spec(model), ctx.in_shape, weights * per_point)
    fit = plan.curve_fit(ctx.config, curve)
    host, gpu = ctx.memory(
        4 * (fit.n_bends + 4) * shapes.parameters, 4 * 1024 * shapes.activations_per_image
    )
    return JobCost(seconds, 8 * 8 * weights + 20_000, host, gpu)


def small_job(ctx: Context, written: int, seconds: float = 0.5) -> JobCost:
    """A table or figure: the job's start, a little drawing or joining, its files."""
    return JobCost(ctx.cal.light_job_s + seconds, written, ctx.cal.host_base_bytes + 300_000_000)


# ---------------------------------------------------------------------------- the study
DOWNLOAD = JobCost(60.0, 178_000_000, 400_000_000)  # CIFAR-10's archive, over the network


def study_cost(config: Mapping[str, Any], calibration: Calibration) -> StudyCost:
    """Every rule's jobs (closerlook.jobs) with their costs on the calibrated machine."""
    from closerlook.data import split_sizes

    in_shape = plan.DATASET_SHAPES[config["data"]["dataset"]][0]
    ctx = Context(config, calibration, in_shape, split_sizes(config["data"]))
    study = dag.study_jobs(config)
    rules: dict[str, RuleCost] = {}

    def add(rule: str, kind: str, costs: Sequence[JobCost]) -> None:
        if costs:
            rules[rule] = RuleCost(kind, rule.startswith(GPU_RULES), list(costs))

    if study.data_rule == "download_cifar10":
        add(study.data_rule, "data", [DOWNLOAD])
    elif study.data_rule:  # the synthetic archive: its images as uint8
        add(study.data_rule, "data", [small_job(ctx, ctx.data_bytes // 4)])
    for run, seeds in study.trainings.items():
        add(f"train_{run}", "checkpoints", [train_cost(ctx, run)] * len(seeds))
    add("activations", "activations", [activation_cost(ctx, d) for d in study.activations])
    pairs = [pair_cost(ctx, p) for p in study.pairs]
    add("similarity_pair", "similarity", pairs)
    tables = {
        a: sum(c.bytes_written for p, c in zip(study.pairs, pairs, strict=True) if p.analysis == a)
        for a in study.analyses
    }
    add("similarity_table", "similarity", [small_job(ctx, tables[a] // 4) for a in study.analyses])
    add(
        "similarity_matrix_table",
        "similarity",
        [small_job(ctx, 100_000) for _ in study.matrix_analyses],
    )
    add("curve_fit", "curves", [curve_fit_cost(ctx, c) for c, _ in study.curves])
    add("curve_evaluate", "curves", [curve_evaluate_cost(ctx, c) for c, _ in study.curves])
    figure = small_job(ctx, FIGURE_BYTES * len(config["figures"]["formats"]))
    for rule, n in study.counts().items():
        if rule not in rules and rule not in ("findings", "figures"):
            add(rule, "figures", [figure] * n)
    add("findings", "figures", [small_job(ctx, 20_000)])
    add("figures", "figures", [JobCost(0.0, 0, 0)])
    return StudyCost(rules, calibration, largest_file(config))


def largest_file(config: Mapping[str, Any]) -> tuple[str, int]:
    """The largest single artifact: an activation file of the widest model (or a checkpoint
    or a curve's bends where those are larger)."""
    candidates = []
    for run in config["runs"]:
        model = plan.run_settings(config, run).model
        shapes = net_shapes(config, model)
        candidates.append(
            (f"activations of a {model} checkpoint", activation_bytes(shapes, config["probe"]))
        )
        candidates.append((f"checkpoint of {model}", checkpoint_bytes(shapes)))
    for curve in config["curves"]["connections"]:
        shapes = net_shapes(config, plan.curve_model(config, curve))
        candidates.append(
            (
                f"bends of curve {curve}",
                4 * plan.curve_fit(config, curve).n_bends * shapes.parameters,
            )
        )
    return max(candidates, key=lambda c: c[1])
