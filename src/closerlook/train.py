"""Training one run: SGD with a schedule, warmup, frozen layers, distillation, checkpoints,
resume and divergence.

The epochs are closerlook.sgd's loop. All randomness comes from one seeded CPU generator
whose state is checkpointed, so a resumed run on the CPU ends with the same metrics as an
uninterrupted one. On CUDA the forward pass runs under bf16 autocast on channels_last
tensors (both config, on by default). Layers frozen at an epoch have `requires_grad` off,
so they get no gradient, no momentum and no weight decay.

Checkpoints, the resume folder and metrics.csv are closerlook.checkpoints'. A non-finite
loss ends the run as *diverged*: it is recorded, not raised, and every checkpoint the run
still owes is written as a placeholder marked diverged.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from closerlook import device as devices
from closerlook import distill, logs, models, points, schedules
from closerlook.checkpoints import (
    ResumeFolder,
    TrainState,
    load_checkpoint,
    metrics_row,
    model_from_checkpoint,
    save,
    snapshot,
)
from closerlook.config import config_hash as hash_of
from closerlook.data import Dataset, Split
from closerlook.plan import RunSettings
from closerlook.provenance import sha256
from closerlook.sgd import (
    Augment,
    Objective,
    Precision,
    crop_padding,
    cross_entropy,
    evaluate,
    train_epoch,
)

log = logging.getLogger("closerlook.train")


# ------------------------------------------------------------------------- objectives
def distillation(
    teacher: nn.Module, temperature: float, alpha: float, precision: Precision
) -> Objective:
    """The distillation objective against `teacher` (in eval mode) on the same images."""
    teacher.eval()

    def loss(logits: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), precision.context():
            teacher_logits = teacher(images).float()
        return distill.distillation_loss(logits, teacher_logits, labels, temperature, alpha)

    return loss


# ------------------------------------------------------------------------- freezing
def frozen_at(freeze: Mapping[str, Any] | None, epoch: int, groups: Mapping[str, list[str]]):
    """The layers frozen during `epoch` (0-based): the configured groups for the first
    `freeze.epochs` epochs, or the whole run when `epochs` is not set. A name that is no
    group is a module path of a user's network (closerlook.usermodels), frozen as it is."""
    if not freeze or (freeze.get("epochs") is not None and epoch >= freeze["epochs"]):
        return set()
    return {layer for group in freeze["layers"] for layer in groups.get(group, [group])}


def set_frozen(model: models.LayeredNet, frozen: set[str]) -> None:
    """Turn gradients off for the parameters under the `frozen` layers (a stage, or a
    module path and everything below it), on for all others."""
    for p in model.parameters():
        p.requires_grad_(True)
    for name in frozen:
        for p in model.layer(name).parameters():
            p.requires_grad_(False)


# ------------------------------------------------------------------------- the run
@dataclass
class Training:
    """A run set up to train: the network, SGD, its schedule and objective, the data on the
    device, the resume folder, and what every checkpoint records (`meta`)."""

    settings: RunSettings
    model: models.LayeredNet
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    lr_at: schedules.Schedule
    augment: Augment | None
    precision: Precision
    objective: Objective
    groups: dict[str, list[str]]
    train: Split
    val: Split
    folder: ResumeFolder
    meta: dict[str, Any]

    def snapshot(self, state: TrainState, lr: float, **point: Any) -> dict[str, Any]:
        """The checkpoint of `state` (closerlook.checkpoints.snapshot)."""
        return snapshot(self.model, self.optimizer, state, self.generator, self.meta, lr, **point)


def set_up(
    settings: RunSettings,
    model_spec: Mapping[str, Any],
    data: Dataset,
    folder: ResumeFolder,
    dev: torch.device,
    config_hash: str,
    teacher_checkpoint: str | Path | None,
) -> Training:
    """The network, SGD, schedule, augmentation and objective of a run, seeded by its seed."""
    precision = Precision.for_run(settings, dev)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    model = precision.prepare(models.build(model_spec, data.image_shape, data.num_classes).to(dev))
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.0, momentum=settings.momentum, weight_decay=settings.weight_decay
    )
    lr_at = schedules.from_config(settings.schedule, settings.epochs, settings.warmup_epochs)
    padding = crop_padding(data.image_shape[-1])
    augment = Augment(padding, settings.flip) if settings.augment else None
    provenance: dict[str, Any] = {
        "run": settings.name,
        "replicate": int(settings.replicate),
        "seed": int(settings.seed),
        "config_hash": config_hash,
    }
    objective = objective_of(settings, teacher_checkpoint, precision, dev, provenance)
    digests = code_digests(model_spec, settings.schedule)
    provenance.update(digests)
    # Resume only a state made with the same settings, teacher and code of the user's.
    resume_hash = hash_of([config_hash, provenance.get("teacher_sha256"), *digests.values()])
    provenance["device"] = str(dev)
    meta = {
        "model_spec": dict(model_spec),
        "in_shape": list(data.image_shape),
        "num_classes": data.num_classes,
        "run_config": dataclasses.asdict(settings),
        "resume_hash": resume_hash,
        "provenance": provenance,
    }
    groups = models.layer_groups(model_spec)
    train, val = data.train.to(dev), data.val.to(dev)
    return Training(
        settings, model, optimizer, generator, lr_at, augment, precision, objective, groups,
        train, val, folder, meta,
    )  # fmt: skip


def code_digests(model_spec: Mapping[str, Any], schedule: Mapping[str, Any]) -> dict[str, str]:
    """SHA-256 of the user's module files the run imports (a python model's factory, a
    python schedule; closerlook.usercode), for provenance and the resume check."""
    digests = {}
    for what, source in (("model", model_spec.get("source")), ("schedule", schedule.get("source"))):
        if source:
            digests[f"{what}_source_sha256"] = sha256(source)
    return digests


def objective_of(
    settings: RunSettings,
    teacher_checkpoint: str | Path | None,
    precision: Precision,
    dev: torch.device,
    provenance: dict[str, Any],
) -> Objective:
    """Cross-entropy, or with `distill` the distillation objective against the teacher
    checkpoint (recorded in `provenance`)."""
    if not settings.distill:
        return cross_entropy
    if teacher_checkpoint is None:
        raise ValueError(f"run {settings.name!r} distills but no teacher checkpoint was given")
    teacher_ckpt = load_checkpoint(teacher_checkpoint)
    if teacher_ckpt.get("diverged"):
        log.warning("%s: the teacher %s diverged", settings.name, teacher_checkpoint)
    teacher = precision.prepare(model_from_checkpoint(teacher_ckpt).to(dev))
    d = settings.distill
    provenance.update(
        teacher_checkpoint=str(teacher_checkpoint), teacher_sha256=sha256(teacher_checkpoint)
    )
    return distillation(teacher, d["temperature"], d["alpha"], precision)


def start_or_resume(run: Training) -> TrainState:
    """The state kept in the resume folder, or a fresh one: epoch 0 evaluated and saved."""
    state = run.folder.resume(run.meta["resume_hash"], run.model, run.optimizer, run.generator)
    if state is not None:
        name, where = run.settings.name, run.folder.path
        log.info("%s: resuming after epoch %d from %s", name, state.epoch, where)
        return state
    run.folder.start()
    state = TrainState()
    val = evaluate(run.model, run.val, precision=run.precision)
    state.metrics.append(metrics_row(0, run.lr_at(0), (math.nan, math.nan), val, 0.0, False))
    run.folder.save_epoch(run.snapshot(state, run.lr_at(0)), state.epoch)
    return state


def run_epoch(run: Training, state: TrainState) -> float:
    """Train the epoch after `state` (its step checkpoints included), evaluate, record its
    metrics row and save it; returns the rate of its last step."""
    t0 = time.perf_counter()
    s, steps = run.settings, run.folder.steps
    run.model.train()
    set_frozen(run.model, frozen_at(s.freeze, state.epoch, run.groups))
    hooks = steps.hooks(
        state, lambda at, lr: save(run.snapshot(state, lr, step=at), steps.path(at.step))
    )
    result = train_epoch(
        run.model, run.optimizer, run.train, s.batch_size, state.epoch, run.lr_at,
        run.generator, run.objective, run.augment, s.accumulation, run.precision, hooks,
    )  # fmt: skip
    epoch_lr, n = run.lr_at(state.epoch), len(run.train)
    state.step += result.steps
    state.epoch += 1
    state.diverged = result.diverged
    if result.diverged:
        val = (math.nan, math.nan)
        log.warning(
            "%s: DIVERGED in epoch %d (non-finite loss by step %d of %d, lr %.4g); "
            "stopping the run and marking its remaining checkpoints diverged",
            s.name, state.epoch, result.steps, steps.steps_per_epoch, result.lr,
        )  # fmt: skip
    else:
        val = evaluate(run.model, run.val, precision=run.precision)
        if not math.isfinite(val[0]):  # finite training steps, but the network has blown up
            state.diverged = True
            log.warning(
                "%s: DIVERGED in epoch %d (non-finite validation loss); stopping the run and "
                "marking its remaining checkpoints diverged", s.name, state.epoch,
            )  # fmt: skip
    seconds = time.perf_counter() - t0
    train = (result.loss_sum / n, math.nan if result.diverged else result.correct / n)
    state.metrics.append(metrics_row(state.epoch, epoch_lr, train, val, seconds, state.diverged))
    if not state.diverged:
        log_progress(s, state.metrics[-1], n)
    run.folder.save_epoch(run.snapshot(state, result.lr), state.epoch)
    return result.lr


def log_progress(settings: RunSettings, row: Mapping[str, Any], images: int) -> None:
    """One line per epoch: the metrics row, images per second and the ETA of the run."""
    seconds, left = row["seconds"], settings.epochs - row["epoch"]
    log.info(
        "%s epoch %d/%d lr %.4g train_loss %.4f train_acc %.4f val_loss %.4f "
        "val_acc %.4f %.0f img/s ETA %s",
        settings.name, row["epoch"], settings.epochs, row["lr"], row["train_loss"],
        row["train_acc"], row["val_loss"], row["val_acc"], images / seconds,
        logs.eta(seconds, left),
    )  # fmt: skip


def train_run(
    settings: RunSettings,
    model_spec: Mapping[str, Any],
    data: Dataset,
    checkpoints: Mapping[points.Point, str | Path],
    metrics_path: str | Path,
    resume_dir: str | Path,
    device: str = "auto",
    config_hash: str = "",
    teacher_checkpoint: str | Path | None = None,
) -> TrainState:
    """Train a run and write the checkpoint of every point in `checkpoints` (an epoch, or a
    step "stepN": the weights right after the N-th optimizer step) and metrics.csv.

    A run with `distill` needs `teacher_checkpoint`. Progress is kept in `resume_dir`;
    calling again after a kill continues from the last finished epoch (step checkpoints
    already written are kept).
    """
    dev = devices.resolve(device)
    steps_per_epoch = math.ceil(len(data.train) / settings.batch_size)
    folder = ResumeFolder.of(checkpoints, resume_dir, steps_per_epoch, settings.epochs)
    run = set_up(settings, model_spec, data, folder, dev, config_hash, teacher_checkpoint)
    state = start_or_resume(run)
    lr = run.lr_at(state.epoch)
    while state.epoch < settings.epochs and not state.diverged:
        lr = run_epoch(run, state)
    folder.publish(
        lambda **point: run.snapshot(state, lr, **point),
        state.diverged,
        state.metrics,
        Path(metrics_path),
    )
    return state
