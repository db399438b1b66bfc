"""Training one run: SGD with a schedule, warmup, frozen layers, distillation, checkpoints,
resume and divergence.

The training set lives on the device as one tensor; each epoch is a random permutation
sliced into batches, with augmentation (random crop, flip) as batched tensor ops. All
randomness comes from one seeded CPU generator whose state is checkpointed, so a resumed
run on the CPU ends with the same metrics as an uninterrupted one. On CUDA the forward
pass runs under bf16 autocast on channels_last tensors (both config, on by default).

One optimisation step (:func:`sgd_step`) sets the learning rate of the global step, sums
the gradients of `accumulation` micro-batches (the same update as one big batch, for a
large batch that does not fit in memory), and steps SGD. Layers frozen at that epoch have
`requires_grad` off, so they get no gradient, no momentum and no weight decay.

Checkpoints are first written to a resume folder that lies outside the workflow's declared
outputs, and linked to their final names only when the run is complete (DESIGN.md §4).
Besides epoch ends, a run's `save_iterations` checkpoint the weights right after given
optimizer steps, mid-epoch (:class:`StepCheckpoints`: a hook of :func:`train_epoch` that only
reads, so the training is the same with and without them).
A non-finite loss ends the run as *diverged*: it is recorded, not raised, and every
checkpoint the run still owes is written as a placeholder marked diverged.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from closerlook import device as devices
from closerlook import distill, models, points, schedules
from closerlook.config import config_hash as hash_of
from closerlook.data import Dataset, Split
from closerlook.provenance import atomic_path, load_sealed, record, seal, sha256

log = logging.getLogger("closerlook.train")

METRICS_COLUMNS = [
    "epoch",
    "lr",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "seconds",
    "diverged",
]

# Steps between checks of the running loss for NaN/inf (each check waits for the device).
DIVERGENCE_CHECK_EVERY = 16

# loss(logits, images, labels): the objective of one (micro-)batch.
Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

# hook(running loss sum of the epoch, learning rate of the step), called after a step.
StepHook = Callable[[torch.Tensor, float], None]


# ------------------------------------------------------------------------- augmentation
def crop_flip(
    x: torch.Tensor, padding: int, oy: torch.Tensor, ox: torch.Tensor, mirror: torch.Tensor
) -> torch.Tensor:
    """Zero-pad every image by `padding`, cut the H×W window at offsets (oy, ox) and mirror
    the images marked in `mirror` left-right: two batched gathers (rows, then columns read
    forwards or backwards), no per-image Python."""
    b, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = oy[:, None] + torch.arange(h, device=x.device)  # (B, H) rows of each window
    x = padded.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * padding))
    j = torch.arange(w, device=x.device)
    cols = ox[:, None] + torch.where(mirror[:, None], w - 1 - j, j)  # (B, W)
    return x.gather(3, cols[:, None, None, :].expand(b, c, h, w))


def random_crop_flip(
    x: torch.Tensor, padding: int, flip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Random crop with `padding` and, with `flip`, random horizontal flips of a batch."""
    return crop_flip(x, padding, *Augment(padding, flip).draw(len(x), generator, x.device))


def crop_padding(image_size: int) -> int:
    """4 pixels for 32×32 images (the study's setting), scaled down for smaller ones."""
    return max(1, round(4 * image_size / 32))


@dataclass(frozen=True)
class Augment:
    """Random crop with `padding` pixels of zero padding, and optionally horizontal flips."""

    padding: int
    flip: bool

    def draw(
        self, n: int, generator: torch.Generator, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Offsets (oy, ox) and flip marks for `n` images, drawn on the CPU from `generator`
        and moved to `device` in one transfer (one per epoch, not one per step: a copy from
        host memory would make the host wait for the device at every step)."""
        span = 2 * self.padding + 1
        offsets = torch.randint(0, span, (3, n), generator=generator)
        if self.flip:
            offsets[2] = (torch.rand(n, generator=generator) < 0.5).long()
        else:
            offsets[2] = 0
        oy, ox, mirror = offsets.to(device, non_blocking=True)
        return oy, ox, mirror.bool()

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return crop_flip(x, self.padding, *self.draw(len(x), generator, x.device))


# ------------------------------------------------------------------------- precision
@dataclass(frozen=True)
class Precision:
    """bf16 autocast and channels_last memory layout; both only ever on CUDA."""

    autocast: bool = False
    channels_last: bool = False

    @classmethod
    def for_run(cls, run: Mapping[str, Any], dev: torch.device) -> Precision:
        cuda = dev.type == "cuda"
        return cls(cuda and run.get("amp", True), cuda and run.get("channels_last", True))

    def context(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def prepare(self, model: nn.Module) -> nn.Module:
        return model.to(memory_format=torch.channels_last) if self.channels_last else model


# ------------------------------------------------------------------------- objectives
def cross_entropy(logits: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels)


def distillation(
    teacher: nn.Module, temperature: float, alpha: float, precision: Precision = Precision()
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
    """The registered layers frozen during `epoch` (0-based): the configured groups for the
    first `freeze.epochs` epochs, or the whole run when `epochs` is not set."""
    if not freeze or (freeze.get("epochs") is not None and epoch >= freeze["epochs"]):
        return set()
    return {layer for group in freeze["layers"] for layer in groups[group]}


def set_frozen(model: models.LayeredNet, frozen: set[str]) -> None:
    """Turn gradients off for the parameters of the `frozen` stages, on for all others."""
    for name, stage in model.stages.items():
        for p in stage.parameters():
            p.requires_grad_(name not in frozen)


# ------------------------------------------------------------------------- one step
def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def sgd_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    lr: float,
    objective: Objective = cross_entropy,
    accumulation: int = 1,
    precision: Precision = Precision(),
) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD update on a batch, the gradient summed over `accumulation` micro-batches
    (each weighted by its share of the batch, so the update equals the full batch's).

    Returns (summed loss, number correct) as device tensors, without waiting for the device.
    """
    set_lr(optimizer, lr)
    optimizer.zero_grad(set_to_none=True)
    loss_sum = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device, dtype=torch.long)
    n = len(labels)
    for x, y in zip(images.chunk(accumulation), labels.chunk(accumulation), strict=True):
        x = precision.layout(x)
        with precision.context():
            logits = model(x)
        loss = objective(logits.float(), x, y)
        (loss * (len(y) / n)).backward()
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
    optimizer.step()
    return loss_sum, correct


@dataclass
class EpochResult:
    loss_sum: float
    correct: int
    steps: int
    diverged: bool
    lr: float  # the rate of the last step taken


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Split,
    batch_size: int,
    epoch: int,
    lr_at: schedules.Schedule,
    generator: torch.Generator,
    objective: Objective = cross_entropy,
    augment: Augment | None = None,
    accumulation: int = 1,
    precision: Precision = Precision(),
    after_step: Mapping[int, StepHook] | None = None,
) -> EpochResult:
    """One pass over `train` (already on the device) in a random order; stops early, marked
    diverged, once the running loss is not finite. `after_step` maps a step of this epoch
    (1-based) to a hook called right after it (a mid-epoch checkpoint); hooks only read."""
    n = len(train)
    steps = math.ceil(n / batch_size)
    perm = torch.randperm(n, generator=generator).to(train.images.device)
    if augment is not None:
        oy, ox, mirror = augment.draw(n, generator, train.images.device)
    loss_sum = torch.zeros((), device=train.images.device)
    correct = torch.zeros((), device=train.images.device, dtype=torch.long)
    lr = lr_at(epoch)
    for i in range(steps):
        rows = slice(i * batch_size, (i + 1) * batch_size)
        idx = perm[rows]
        x, y = train.images[idx], train.labels[idx]
        if augment is not None:
            x = crop_flip(x, augment.padding, oy[rows], ox[rows], mirror[rows])
        lr = lr_at(epoch + i / steps)
        batch_loss, batch_correct = sgd_step(
            model, optimizer, x, y, lr, objective, accumulation, precision
        )
        loss_sum += batch_loss
        correct += batch_correct
        if after_step and i + 1 in after_step:
            after_step[i + 1](loss_sum, lr)
        if (i + 1) % DIVERGENCE_CHECK_EVERY == 0 or i + 1 == steps:
            if not torch.isfinite(loss_sum):
                return EpochResult(math.nan, int(correct), i + 1, True, lr)
    return EpochResult(loss_sum.item(), int(correct), steps, False, lr)


# ------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(
    model: nn.Module, split: Split, batch_size: int = 1024, precision: Precision = Precision()
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on `split`, in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(split), batch_size):
        x, y = split.images[i : i + batch_size], split.labels[i : i + batch_size]
        with precision.context():
            out = model(precision.layout(x)).float()
        loss_sum += F.cross_entropy(out, y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
    model.train(was_training)
    return loss_sum / len(split), correct / len(split)


# ------------------------------------------------------------------------- state
@dataclass
class TrainState:
    """Everything a resumed run needs: weights, optimizer, position, RNG, history."""

    epoch: int = 0
    step: int = 0
    diverged: bool = False
    metrics: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class StepPosition:
    """Where a step checkpoint is taken: after optimizer step `step` (1-based, counted from
    the start of training), at fractional epoch `epoch` (e.g. 0.4: 200 of 500 steps)."""

    step: int
    epoch: float


def _snapshot(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    generator: torch.Generator,
    meta: Mapping[str, Any],
    lr: float,
    epoch: int | None = None,
    step: StepPosition | None = None,
) -> dict[str, Any]:
    """A checkpoint of epoch `epoch` (default: the state's), or of the optimizer step
    `step` (a mid-epoch point of `save_iterations`: "point" "stepN", "step" N and the
    fractional "epoch" it falls at). A checkpoint asked for a point the run never reached
    because it diverged is a *placeholder*: it holds the weights at divergence, says so, and
    names both points."""
    requested = state.epoch if epoch is None else epoch
    position: dict[str, Any] = {"epoch": requested}  # what the provenance records
    schedule = {"step": state.step, "epoch": state.epoch, "lr": lr}
    what = points.label(requested)
    if step is not None:
        position = {"point": points.step_point(step.step), "step": step.step, "epoch": step.epoch}
        what = points.label(position["point"])
        if not state.diverged:  # taken mid-epoch, right after the step
            schedule = {"step": step.step, "epoch": step.epoch, "lr": lr}
    diverged = {"diverged": state.diverged}
    if state.diverged:
        diverged.update(
            diverged_at_epoch=state.epoch,
            placeholder=True,
            note=(
                f"diverged placeholder for {what}: the run diverged in epoch "
                f"{state.epoch}; weights are those at divergence"
            ),
        )
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": state.step,
        **position,
        **diverged,
        "schedule": schedule,
        "metrics": list(state.metrics),
        "rng": {"generator": generator.get_state(), "torch": torch.get_rng_state()},
        **meta,
        "provenance": record(**meta["provenance"], **position, **diverged),
    }


def _save(obj: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(seal(obj), tmp)


def _link_or_copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`train_run`; a truncated or altered file raises
    :class:`closerlook.provenance.IntegrityError` naming the path and the remedy."""
    return load_sealed(path, map_location=map_location)


def model_from_checkpoint(ckpt: Mapping[str, Any]) -> models.LayeredNet:
    """Rebuild the network a checkpoint holds, with its weights, on the CPU."""
    net = models.build(ckpt["model_spec"], tuple(ckpt["in_shape"]), ckpt["num_classes"])
    net.load_state_dict(ckpt["model"])
    return net


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_metrics(rows: list[Mapping[str, Any]], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, METRICS_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in METRICS_COLUMNS})


def _eta(seconds_per_epoch: float, remaining: int) -> str:
    s = int(seconds_per_epoch * remaining)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ------------------------------------------------------------------------- the run
def train_run(
    run: Mapping[str, Any],
    model_spec: Mapping[str, Any],
    data: Dataset,
    checkpoints: Mapping[points.Point, str | Path],
    metrics_path: str | Path,
    resume_dir: str | Path,
    device: str = "auto",
    config_hash: str = "",
    teacher_checkpoint: str | Path | None = None,
) -> TrainState:
    """Train `run` and write the checkpoint of every point in `checkpoints` (an epoch, or a
    step "stepN": the weights right after the N-th optimizer step) and metrics.csv.

    `run` is a resolved run mapping (see closerlook.config.run_config); a run with `distill`
    needs `teacher_checkpoint`. Progress is kept in `resume_dir`; calling again after a kill
    continues from the last finished epoch (step checkpoints already written are kept).
    """
    dev = devices.resolve(device)
    precision = Precision.for_run(run, dev)
    resume_dir = Path(resume_dir)
    epochs, batch_size = run["epochs"], run["batch_size"]
    steps_per_epoch = math.ceil(len(data.train) / batch_size)
    wanted, steps = _split_points(checkpoints, resume_dir, steps_per_epoch, epochs)

    torch.manual_seed(run["seed"])
    generator = torch.Generator().manual_seed(run["seed"])
    model = precision.prepare(models.build(model_spec, data.image_shape, data.num_classes).to(dev))
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.0, momentum=run["momentum"], weight_decay=run["weight_decay"]
    )
    lr_at = schedules.from_config(run["schedule"], epochs, run.get("warmup_epochs", 0))
    groups = models.layer_groups(model_spec)
    augment = Augment(crop_padding(data.image_shape[-1]), run["flip"]) if run["augment"] else None

    provenance: dict[str, Any] = {
        "run": run["name"],
        "replicate": int(run.get("replicate", 0)),
        "seed": int(run["seed"]),
        "config_hash": config_hash,
    }
    objective: Objective = cross_entropy
    if run.get("distill"):
        if teacher_checkpoint is None:
            raise ValueError(f"run {run['name']!r} distills but no teacher checkpoint was given")
        d = run["distill"]
        teacher_ckpt = load_checkpoint(teacher_checkpoint)
        if teacher_ckpt.get("diverged"):
            log.warning("%s: the teacher %s diverged", run["name"], teacher_checkpoint)
        teacher = precision.prepare(model_from_checkpoint(teacher_ckpt).to(dev))
        objective = distillation(teacher, d["temperature"], d["alpha"], precision)
        provenance.update(
            teacher_checkpoint=str(teacher_checkpoint), teacher_sha256=sha256(teacher_checkpoint)
        )
    # Resume only a state made with the same settings and the same teacher.
    resume_hash = hash_of([config_hash, provenance.get("teacher_sha256")])
    provenance["device"] = str(dev)
    meta = {
        "model_spec": dict(model_spec),
        "in_shape": list(data.image_shape),
        "num_classes": data.num_classes,
        "run_config": dict(run),
        "resume_hash": resume_hash,
        "provenance": provenance,
    }

    train = data.train.to(dev)
    val = data.val.to(dev)
    state = _resume(resume_dir, resume_hash, wanted, steps, model, optimizer, generator)
    if state is None:
        shutil.rmtree(resume_dir, ignore_errors=True)
        resume_dir.mkdir(parents=True)
        state = TrainState()
        val_loss, val_acc = evaluate(model, val, precision=precision)
        state.metrics.append(
            {
                "epoch": 0,
                "lr": lr_at(0),
                "train_loss": math.nan,
                "train_acc": math.nan,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "seconds": 0.0,
                "diverged": False,
            }
        )
        _checkpoint(model, optimizer, state, generator, meta, resume_dir, wanted, lr_at(0))
    else:
        log.info("%s: resuming after epoch %d from %s", run["name"], state.epoch, resume_dir)

    n = len(train)
    lr = lr_at(state.epoch)
    while state.epoch < epochs and not state.diverged:
        t0 = time.perf_counter()
        model.train()
        set_frozen(model, frozen_at(run.get("freeze"), state.epoch, groups))
        hooks = steps.hooks(
            state,
            lambda at, rate: _save(
                _snapshot(model, optimizer, state, generator, meta, rate, step=at),
                steps.path(at.step),
            ),
        )
        result = train_epoch(
            model,
            optimizer,
            train,
            batch_size,
            state.epoch,
            lr_at,
            generator,
            objective,
            augment,
            run.get("accumulation", 1),
            precision,
            hooks,
        )
        epoch_lr, lr = lr_at(state.epoch), result.lr
        state.step += result.steps
        state.epoch += 1
        if result.diverged:
            state.diverged = True
            val_loss = val_acc = math.nan
            log.warning(
                "%s: DIVERGED in epoch %d (non-finite loss by step %d of %d, lr %.4g); "
                "stopping the run and marking its remaining checkpoints diverged",
                run["name"],
                state.epoch,
                result.steps,
                steps_per_epoch,
                lr,
            )
        else:
            val_loss, val_acc = evaluate(model, val, precision=precision)
        seconds = time.perf_counter() - t0
        row = {
            "epoch": state.epoch,
            "lr": epoch_lr,
            "train_loss": result.loss_sum / n,
            "train_acc": math.nan if result.diverged else result.correct / n,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "seconds": seconds,
            "diverged": result.diverged,
        }
        if not result.diverged:
            log.info(
                "%s epoch %d/%d lr %.4g train_loss %.4f train_acc %.4f val_loss %.4f "
                "val_acc %.4f %.0f img/s ETA %s",
                run["name"],
                state.epoch,
                epochs,
                epoch_lr,
                row["train_loss"],
                row["train_acc"],
                val_loss,
                val_acc,
                n / seconds,
                _eta(seconds, epochs - state.epoch),
            )
        state.metrics.append(row)
        _checkpoint(model, optimizer, state, generator, meta, resume_dir, wanted, lr)

    _finish(
        model, optimizer, state, generator, meta, resume_dir, wanted, steps, Path(metrics_path), lr
    )
    return state


def _snapshot_path(resume_dir: Path, epoch: int) -> Path:
    return resume_dir / f"epoch{epoch:03d}.pt"


@dataclass
class StepCheckpoints:
    """A run's mid-epoch checkpoints (`save_iterations`): optimizer step -> final path.
    Each is written to the resume folder right after its step, once: a resumed run that
    takes the step again keeps the file already there (on the CPU it holds the same weights)."""

    wanted: dict[int, Path]
    resume_dir: Path
    steps_per_epoch: int

    def path(self, step: int) -> Path:
        return self.resume_dir / f"{points.file_tag(points.step_point(step))}.pt"

    def position(self, step: int) -> StepPosition:
        return StepPosition(step, step / self.steps_per_epoch)

    def hooks(
        self, state: TrainState, save: Callable[[StepPosition, float], None]
    ) -> dict[int, StepHook]:
        """Hooks for the epoch after `state` (in-epoch step -> hook) that save each step due
        in it and not saved yet, unless the loss is no longer finite (the run is diverging:
        its placeholder is written at the end)."""
        hooks: dict[int, StepHook] = {}
        for step in self.wanted:
            i = step - state.step
            if 1 <= i <= self.steps_per_epoch and not self.path(step).exists():
                at = self.position(step)

                def hook(loss_sum: torch.Tensor, lr: float, at: StepPosition = at) -> None:
                    if torch.isfinite(loss_sum):
                        save(at, lr)

                hooks[i] = hook
        return hooks


def _split_points(
    checkpoints: Mapping[points.Point, str | Path],
    resume_dir: Path,
    steps_per_epoch: int,
    epochs: int,
) -> tuple[dict[int, Path], StepCheckpoints]:
    """The epoch checkpoints (epoch -> path) and the step checkpoints of `checkpoints`; a
    step beyond the run's last (epochs x steps per epoch) is a ValueError."""
    wanted: dict[int, Path] = {}
    steps: dict[int, Path] = {}
    for point, path in checkpoints.items():
        point = points.parse(point)
        if points.is_step(point):
            steps[points.step_number(point)] = Path(path)
        else:
            wanted[int(point)] = Path(path)
    late = [n for n in sorted(steps) if n > epochs * steps_per_epoch]
    if late:
        raise ValueError(
            f"step {late[0]} is beyond the run's {epochs * steps_per_epoch} steps "
            f"({epochs} epochs of {steps_per_epoch})"
        )
    return wanted, StepCheckpoints(steps, resume_dir, steps_per_epoch)


def _resume(
    resume_dir: Path,
    resume_hash: str,
    wanted: Mapping[int, Path],
    steps: StepCheckpoints,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> TrainState | None:
    last = resume_dir / "last.pt"
    if not last.exists():
        return None
    try:
        ckpt = load_checkpoint(last, map_location=next(model.parameters()).device)
    except Exception as exc:  # noqa: BLE001 - an unreadable resume state means start over
        log.warning("ignoring unreadable resume state %s (%s); starting over", last, exc)
        return None
    if ckpt.get("resume_hash") != resume_hash:
        log.info("resume state %s is from another configuration; starting over", last)
        return None
    position = ckpt["schedule"]
    lost: list[points.Point] = [
        e for e in wanted if e <= position["epoch"] and not _snapshot_path(resume_dir, e).exists()
    ]
    lost += [
        points.step_point(n)
        for n in steps.wanted
        if n <= position["step"] and not steps.path(n).exists()
    ]
    if lost:
        what = points.label(lost[0])
        log.warning("resume state %s lacks the snapshot of %s; starting over", last, what)
        return None
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    generator.set_state(ckpt["rng"]["generator"].cpu())
    torch.set_rng_state(ckpt["rng"]["torch"].cpu())
    return TrainState(position["epoch"], position["step"], ckpt["diverged"], list(ckpt["metrics"]))


def _checkpoint(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    generator: torch.Generator,
    meta: Mapping[str, Any],
    resume_dir: Path,
    wanted: Mapping[int, Path],
    lr: float,
) -> None:
    """Save the resume state, and a snapshot if this epoch is one to keep."""
    snap = _snapshot(model, optimizer, state, generator, meta, lr)
    if state.epoch in wanted:
        _save(snap, _snapshot_path(resume_dir, state.epoch))
    _save(snap, resume_dir / "last.pt")


def _finish(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    generator: torch.Generator,
    meta: Mapping[str, Any],
    resume_dir: Path,
    wanted: Mapping[int, Path],
    steps: StepCheckpoints,
    metrics_path: Path,
    lr: float,
) -> None:
    """Publish the snapshots and metrics under their final names, then drop the resume state.

    After a divergence, the epochs and steps not reached are written with the weights at
    divergence and marked as diverged placeholders, so downstream jobs run and figures show
    the failure."""
    todo: list[tuple[str, Path, Path, dict[str, Any]]] = [
        (f"epoch {e}", final, _snapshot_path(resume_dir, e), {"epoch": e})
        for e, final in sorted(wanted.items())
    ]
    todo += [
        (f"step {n}", final, steps.path(n), {"step": steps.position(n)})
        for n, final in sorted(steps.wanted.items())
    ]
    for what, final, snap, point in todo:
        if not snap.exists():
            if not state.diverged:
                raise RuntimeError(f"checkpoint for {what} is missing in {resume_dir}")
            _save(_snapshot(model, optimizer, state, generator, meta, lr, **point), snap)
        _link_or_copy(snap, final)
    write_metrics(state.metrics, metrics_path)
    # The resume state goes first: a kill while the folder is removed leaves no state that
    # claims snapshots it no longer has.
    (resume_dir / "last.pt").unlink(missing_ok=True)
    shutil.rmtree(resume_dir, ignore_errors=True)
