"""`closerlook calibrate`: measure this machine's throughputs (closerlook.calibration) for
the models and measures of the given configs, in about a minute or two.

Training is timed through the study's own epoch loop (closerlook.sgd.train_epoch, with
augmentation and the precision a run uses on the device), inference through its evaluation,
a curve epoch through the curve's sampler, each measure on representative shapes. CPU jobs
run one torch thread each (the workflow runs many jobs side by side), and so does this.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from closerlook import data, hdf5_format, models, plan
from closerlook import device as devices
from closerlook.calibration import Calibration, Throughput, similarity_ops
from closerlook.sgd import Augment, Precision, evaluate, train_epoch
from closerlook.sizes import model_batches, network_shapes

log = logging.getLogger("closerlook.calibrate")

# Representative layer shapes of each measure's calibration: a dense layer and a conv map.
DENSE, CONV = (2000, 128), (400, 32, 8, 8)
STEP_BUDGET_S = 1.0  # time spent timing one model at one batch size, per kind of pass


def constant_lr(_epoch: float) -> float:
    return 1e-3


def synchronize(dev: torch.device) -> Callable[[], None]:
    return (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)


def seconds_per_call(call: Callable[[], Any], budget_s: float, sync: Callable[[], None]) -> float:
    """The fastest of repeated calls of `call` within about `budget_s` (one warm-up first)."""
    call()
    sync()
    best, spent = math.inf, 0.0
    while spent < budget_s or best == math.inf:
        t0 = time.perf_counter()
        call()
        sync()
        took = time.perf_counter() - t0
        best, spent = min(best, took), spent + took
    return best


def images(n: int, in_shape: Sequence[int], dev: torch.device) -> data.Split:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, *in_shape, generator=g)
    return data.Split(x.to(dev), torch.randint(0, 10, (n,), generator=g).to(dev))


def measured_batch(
    spec: Mapping[str, Any], in_shape: Sequence[int], batch: int, dev: torch.device
) -> int:
    """The batch actually timed: the run's own on a GPU; on the CPU at most what one
    second of forward passes holds (a CPU's images/s hardly depends on the batch)."""
    if dev.type == "cuda":
        return batch
    net = models.build(spec, tuple(in_shape), 10).eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        net(torch.randn(4, *in_shape))
        per_image = (time.perf_counter() - t0) / 4
    return max(4, min(batch, int(0.3 / max(per_image, 1e-6))))


def measure_model(
    spec: Mapping[str, Any], in_shape: Sequence[int], batch: int, dev: torch.device
) -> Throughput:
    """Training images/s at `batch` (two steps of the epoch loop per call, augmented as
    the paper's runs are) and forward images/s (closerlook.sgd.evaluate)."""
    b = measured_batch(spec, in_shape, batch, dev)
    precision = Precision(autocast=dev.type == "cuda", channels_last=dev.type == "cuda")
    torch.manual_seed(0)
    net = precision.prepare(models.build(spec, tuple(in_shape), 10).to(dev))
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    split, gen = images(2 * b, in_shape, dev), torch.Generator().manual_seed(0)
    augment = Augment(4, True) if in_shape[-1] >= 16 else None
    sync = synchronize(dev)

    def epoch() -> None:
        train_epoch(net, opt, split, b, 0, constant_lr, gen, augment=augment, precision=precision)

    step = seconds_per_call(epoch, STEP_BUDGET_S, sync)
    probe = images(max(b, 256), in_shape, dev)
    fwd = seconds_per_call(lambda: evaluate(net, probe, 1024, precision), STEP_BUDGET_S, sync)
    return Throughput(dict(spec), list(in_shape), batch, b, 2 * b / step, len(probe) / fwd)


def measure_similarity(methods: Sequence[str], dev: torch.device) -> dict[str, float]:
    """Each measure's rate: its `similarity_ops` per second on a dense layer and a conv map
    of independent random activations (the geometric mean of the two)."""
    from closerlook.similarity import layer_similarity

    rng = np.random.default_rng(0)
    rates = {}
    for method in methods:
        logs_of_rates = []
        for shape in (DENSE, CONV):
            a, b = (
                rng.standard_normal(shape, dtype=np.float32),
                rng.standard_normal(shape, dtype=np.float32),
            )
            took = seconds_per_call(
                functools.partial(layer_similarity, a, b, method, device=dev), 0.3, lambda: None
            )
            logs_of_rates.append(math.log(similarity_ops(method, shape, shape) / took))
        rates[method] = math.exp(sum(logs_of_rates) / len(logs_of_rates))
    return rates


def measure_curve_ratio(
    spec: Mapping[str, Any], in_shape: Sequence[int], batch: int, dev: torch.device
) -> float:
    """Seconds of a curve epoch over a plain epoch of the same model and batch (a curve step
    computes w(t) and back-propagates through it)."""
    from closerlook.curve_fit import CurveAtT
    from closerlook.curves import Curve, flat_parameters

    torch.manual_seed(0)
    net = models.build(spec, tuple(in_shape), 10).to(dev)
    w = flat_parameters(net)
    curve = Curve.on_segment(net, w, w + 0.01 * torch.randn_like(w), "polychain", 3)
    at_t = CurveAtT(curve, 5e-4)
    split, gen, sync = (
        images(2 * batch, in_shape, dev),
        torch.Generator().manual_seed(0),
        synchronize(dev),
    )
    opt = torch.optim.SGD([curve.interior], lr=1e-3, momentum=0.9)

    def curve_epoch() -> None:
        train_epoch(
            at_t, opt, split, batch, 0, constant_lr, gen, sampler=at_t, penalty=at_t.penalty
        )

    curved = seconds_per_call(curve_epoch, STEP_BUDGET_S, sync)
    plain_opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    plain = seconds_per_call(
        lambda: train_epoch(net, plain_opt, split, batch, 0, constant_lr, gen),
        STEP_BUDGET_S,
        sync,
    )
    return curved / plain


TORCH_JOB = (
    "import torch, h5py, numpy, closerlook.train, closerlook.activations, closerlook.compare"
)
LIGHT_JOB = "import closerlook.study_figures, closerlook.evidence, matplotlib.pyplot"


def job_start(imports: str = TORCH_JOB) -> tuple[float, int]:
    """(seconds, peak resident bytes) of a job's start: a fresh interpreter importing what
    the job imports (a torch job's, or a table or figure job's: LIGHT_JOB)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", imports], check=True)
    seconds = time.perf_counter() - t0
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def disk_rates(megabytes: int = 128) -> tuple[float, float]:
    """(write, read) bytes/s of an HDF5 file of `megabytes` in the working folder, synced."""
    import h5py

    values = np.random.default_rng(0).standard_normal((megabytes, 1 << 18), dtype=np.float32)
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        path = Path(tmp) / "rate.h5"
        t0 = time.perf_counter()
        with hdf5_format.create(path) as f:
            f.create_dataset("x", data=values)
        with open(path, "rb+") as f:
            os.fsync(f.fileno())
        write = values.nbytes / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        with h5py.File(path, "r") as f:
            f["x"][:]
        read = values.nbytes / (time.perf_counter() - t0)
    return write, read


def machine_description(dev: torch.device) -> str:
    """What machine a calibration describes: the GPU, or the CPU model and its cores."""
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        return f"{name} (CUDA {torch.version.cuda}), {os.cpu_count()} host cores"
    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in info.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def calibrate(configs: Sequence[Mapping[str, Any]], device: str = "auto") -> Calibration:
    """Measure every (model, batch size) the configs train, their measures, a curve epoch."""
    dev = devices.resolve(device)
    threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(1)
    try:
        wanted = model_batches(configs)
        throughputs = []
        for spec, in_shape, batch in wanted:
            t = measure_model(spec, in_shape, batch, dev)
            log.info(
                "%s at batch %d: %.0f train, %.0f forward images/s",
                spec,
                batch,
                t.train_images_per_s,
                t.forward_images_per_s,
            )
            throughputs.append(t)
        methods = dict.fromkeys(m for cfg in configs for m in plan.measures(cfg))
        smallest = min(wanted, key=lambda w: network_shapes(w[0], w[1]).parameters)
        ratio = measure_curve_ratio(smallest[0], smallest[1], min(smallest[2], 64), dev)
        overhead, base = job_start()
        light, _ = job_start(LIGHT_JOB)
        write, read = disk_rates()
        return Calibration(
            device=dev.type, machine=machine_description(dev),
            measured=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            torch=torch.__version__, threads=torch.get_num_threads(), job_overhead_s=overhead,
            light_job_s=light,
            write_bytes_per_s=write, read_bytes_per_s=read, curve_epoch_ratio=ratio,
            host_base_bytes=base, measure_ops_per_s=measure_similarity(list(methods), dev),
            throughputs=throughputs,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
