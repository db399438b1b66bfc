"""The checkpoint and metrics.csv formats, and the resume folder a run keeps them in.

A checkpoint is one sealed torch file (closerlook.provenance.seal): the weights
("model"), the optimizer, the position ("epoch", "step", "schedule"), the RNG states,
the metrics so far, what the network is ("model_spec", "in_shape", "num_classes"), the
run's settings ("run_config"), "resume_hash" and "provenance". A run that diverged writes
*placeholders* for the points it never reached: the weights at divergence, marked so.

Checkpoints are first written to a resume folder that lies outside the workflow's
declared outputs, and linked to their final names only when the run is complete
(docs/architecture.md, artifacts). Besides epoch ends, a run's `save_iterations` save the
weights right after given optimizer steps, mid-epoch (:class:`StepCheckpoints`).

metrics.csv holds one row per epoch (:data:`METRICS_COLUMNS`), epoch 0 the initial weights.
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from closerlook import models, points
from closerlook.provenance import atomic_path, load_sealed, record, seal

if TYPE_CHECKING:
    from closerlook.sgd import StepHook

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


# ------------------------------------------------------------------------- one checkpoint
def snapshot(
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


def save(obj: dict[str, Any], path: Path) -> None:
    """Write a checkpoint sealed (closerlook.provenance.seal), atomically."""
    with atomic_path(path) as tmp:
        torch.save(seal(obj), tmp)


def link_or_copy(src: Path, dst: Path) -> None:
    """Publish `src` as `dst` atomically: a hard link, or a copy across file systems."""
    with atomic_path(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by closerlook.train.train_run; a truncated or altered file
    raises :class:`closerlook.provenance.IntegrityError` naming the path and the remedy."""
    return load_sealed(path, map_location=map_location)


def model_from_checkpoint(ckpt: Mapping[str, Any]) -> models.LayeredNet:
    """Rebuild the network a checkpoint holds, with its weights, on the CPU."""
    net = models.build(ckpt["model_spec"], tuple(ckpt["in_shape"]), ckpt["num_classes"])
    net.load_state_dict(ckpt["model"])
    return net


# ------------------------------------------------------------------------- metrics.csv
def metrics_row(
    epoch: int,
    lr: float,
    train: tuple[float, float],
    val: tuple[float, float],
    seconds: float,
    diverged: bool,
) -> dict[str, Any]:
    """One epoch's row: its rate, (loss, accuracy) on train and val, wall time, divergence."""
    train_loss, train_acc = train
    val_loss, val_acc = val
    return {
        "epoch": epoch,
        "lr": lr,
        "train_loss": train_loss,
        "train_acc": train_acc,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "seconds": seconds,
        "diverged": diverged,
    }


def read_metrics(path: str | Path) -> list[dict[str, str]]:
    """The rows of a metrics.csv as written (every value a string)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_metrics(rows: list[Mapping[str, Any]], path: Path) -> None:
    """Write metrics rows atomically; a column a row lacks is left empty."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, METRICS_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in METRICS_COLUMNS})


# ------------------------------------------------------------------------- the resume folder
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


@dataclass
class ResumeFolder:
    """Where a run keeps its progress (`last.pt`) and its snapshots until it publishes them:
    the epochs it keeps (epoch -> final path) and its step checkpoints."""

    path: Path
    epochs: dict[int, Path]
    steps: StepCheckpoints

    @classmethod
    def of(
        cls,
        checkpoints: Mapping[points.Point, str | Path],
        path: str | Path,
        steps_per_epoch: int,
        epochs: int,
    ) -> ResumeFolder:
        """The folder for `checkpoints` (point -> final path); a step beyond the run's last
        (epochs x steps per epoch) is a ValueError."""
        path = Path(path)
        wanted: dict[int, Path] = {}
        steps: dict[int, Path] = {}
        for point, final in checkpoints.items():
            point = points.parse(point)
            if points.is_step(point):
                steps[points.step_number(point)] = Path(final)
            else:
                wanted[int(point)] = Path(final)
        late = [n for n in sorted(steps) if n > epochs * steps_per_epoch]
        if late:
            raise ValueError(
                f"step {late[0]} is beyond the run's {epochs * steps_per_epoch} steps "
                f"({epochs} epochs of {steps_per_epoch})"
            )
        return cls(path, wanted, StepCheckpoints(steps, path, steps_per_epoch))

    def snapshot_path(self, epoch: int) -> Path:
        return self.path / f"epoch{epoch:03d}.pt"

    def start(self) -> None:
        """An empty folder for a run that starts from scratch."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)

    def resume(
        self,
        resume_hash: str,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
    ) -> TrainState | None:
        """Load the progress into model, optimizer and RNGs; None when there is none to
        trust: no state, an unreadable one, another configuration, or a snapshot missing."""
        last = self.path / "last.pt"
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
            e for e in self.epochs if e <= position["epoch"] and not self.snapshot_path(e).exists()
        ]
        lost += [
            points.step_point(n)
            for n in self.steps.wanted
            if n <= position["step"] and not self.steps.path(n).exists()
        ]
        if lost:
            what = points.label(lost[0])
            log.warning("resume state %s lacks the snapshot of %s; starting over", last, what)
            return None
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        generator.set_state(ckpt["rng"]["generator"].cpu())
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())
        return TrainState(
            position["epoch"], position["step"], ckpt["diverged"], list(ckpt["metrics"])
        )

    def save_epoch(self, snap: dict[str, Any], epoch: int) -> None:
        """Save the resume state, and the snapshot if `epoch` is one to keep; the metrics
        so far go to the folder's metrics.csv, to follow a run while it trains (the run's
        own metrics.csv is written last, when the run is done)."""
        if epoch in self.epochs:
            save(snap, self.snapshot_path(epoch))
        save(snap, self.path / "last.pt")
        write_metrics(snap["metrics"], self.live_metrics)

    @property
    def live_metrics(self) -> Path:
        """The metrics of the epochs done so far, rewritten after every epoch."""
        return self.path / "metrics.csv"

    def publish(
        self,
        placeholder: Callable[..., dict[str, Any]],
        diverged: bool,
        metrics: list[dict[str, Any]],
        metrics_path: Path,
    ) -> None:
        """Link the snapshots and write the metrics under their final names, then drop the
        folder. After a divergence, each epoch and step not reached is written first as
        `placeholder(epoch=e)` / `placeholder(step=position)` (closerlook.checkpoints
        .snapshot), so downstream jobs run and figures show the failure."""
        todo: list[tuple[str, Path, Path, dict[str, Any]]] = [
            (f"epoch {e}", final, self.snapshot_path(e), {"epoch": e})
            for e, final in sorted(self.epochs.items())
        ]
        todo += [
            (f"step {n}", final, self.steps.path(n), {"step": self.steps.position(n)})
            for n, final in sorted(self.steps.wanted.items())
        ]
        for what, final, snap, point in todo:
            if not snap.exists():
                if not diverged:
                    raise RuntimeError(f"checkpoint for {what} is missing in {self.path}")
                save(placeholder(**point), snap)
            link_or_copy(snap, final)
        write_metrics(metrics, metrics_path)
        # The resume state goes first: a kill while the folder is removed leaves no state
        # that claims snapshots it no longer has.
        (self.path / "last.pt").unlink(missing_ok=True)
        shutil.rmtree(self.path, ignore_errors=True)
