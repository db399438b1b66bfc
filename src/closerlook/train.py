"""Training one run: SGD with a schedule, checkpoints, resume and divergence.

The training set lives on the device as one tensor; each epoch is a random permutation
sliced into batches, with augmentation (random crop, flip) as batched tensor ops. All
randomness comes from one seeded CPU generator whose state is checkpointed, so a resumed
run on the CPU ends with the same metrics as an uninterrupted one.

Checkpoints are first written to a resume folder that lies outside the workflow's declared
outputs, and linked to their final names only when the run is complete (DESIGN.md §4).
A non-finite loss ends the run as *diverged*: it is recorded, not raised.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from closerlook import device as devices
from closerlook import models, schedules
from closerlook.data import Dataset, Split
from closerlook.provenance import atomic_path, record

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


# ------------------------------------------------------------------------- augmentation
def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` and cut a random H×W window per image (batched gather)."""
    if padding == 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    oy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (B,1,H,1)
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (B,1,1,W)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the images left-right."""
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def crop_padding(image_size: int) -> int:
    """4 pixels for 32×32 images (the study's setting), scaled down for smaller ones."""
    return max(1, round(4 * image_size / 32))


# ------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int = 1024) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on `split`, in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(split), batch_size):
        x, y = split.images[i : i + batch_size], split.labels[i : i + batch_size]
        with _autocast(x.device):
            out = model(_memory_format(x))
        loss_sum += F.cross_entropy(out.float(), y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
    model.train(was_training)
    return loss_sum / len(split), correct / len(split)


def _autocast(dev: torch.device) -> Any:
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda")


def _memory_format(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.is_cuda and x.dim() == 4 else x


# ------------------------------------------------------------------------- state
@dataclass
class TrainState:
    """Everything a resumed run needs: weights, optimizer, position, RNG, history."""

    epoch: int = 0
    step: int = 0
    diverged: bool = False
    metrics: list[dict[str, Any]] = field(default_factory=list)


def _snapshot(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    generator: torch.Generator,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": state.epoch,
        "step": state.step,
        "diverged": state.diverged,
        "metrics": list(state.metrics),
        "rng": {"generator": generator.get_state(), "torch": torch.get_rng_state()},
        **meta,
        "provenance": record(**meta["provenance"], epoch=state.epoch, diverged=state.diverged),
    }


def _save(obj: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _link_or_copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`train_run`."""
    return torch.load(path, map_location=map_location, weights_only=False)


def model_from_checkpoint(ckpt: Mapping[str, Any]) -> models.LayeredNet:
    """Rebuild the network a checkpoint holds, with its weights, on the CPU."""
    net = models.build(ckpt["model_spec"], tuple(ckpt["in_shape"]), ckpt["num_classes"])
    net.load_state_dict(ckpt["model"])
    return net


def write_metrics(rows: list[Mapping[str, Any]], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, METRICS_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in METRICS_COLUMNS})


def _eta(seconds_per_epoch: float, remaining: int) -> str:
    s = int(seconds_per_epoch * remaining)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ------------------------------------------------------------------------- the loop
def train_run(
    run: Mapping[str, Any],
    model_spec: Mapping[str, Any],
    data: Dataset,
    checkpoints: Mapping[int, str | Path],
    metrics_path: str | Path,
    resume_dir: str | Path,
    device: str = "auto",
    config_hash: str = "",
) -> TrainState:
    """Train `run` and write the checkpoint of every epoch in `checkpoints` and metrics.csv.

    `run` is a resolved run mapping (see closerlook.config.run_config). Progress is kept in
    `resume_dir`; calling again after a kill continues from the last finished epoch.
    """
    dev = devices.resolve(device)
    resume_dir = Path(resume_dir)
    epochs, batch_size = run["epochs"], run["batch_size"]
    wanted = {int(e): Path(p) for e, p in checkpoints.items()}

    torch.manual_seed(run["seed"])
    generator = torch.Generator().manual_seed(run["seed"])
    model = models.build(model_spec, data.image_shape, data.num_classes).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.0, momentum=run["momentum"], weight_decay=run["weight_decay"]
    )
    lr_at = schedules.from_config(run["schedule"], epochs)
    meta = {
        "model_spec": dict(model_spec),
        "in_shape": list(data.image_shape),
        "num_classes": data.num_classes,
        "run_config": dict(run),
        "provenance": {"run": run["name"], "config_hash": config_hash, "device": str(dev)},
    }

    train = data.train.to(dev)
    val = data.val.to(dev)
    state = _resume(resume_dir, config_hash, model, optimizer, generator)
    if state is None:
        shutil.rmtree(resume_dir, ignore_errors=True)
        resume_dir.mkdir(parents=True)
        state = TrainState()
        val_loss, val_acc = evaluate(model, val)
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
        _checkpoint(model, optimizer, state, generator, meta, resume_dir, wanted)
    else:
        log.info("%s: resuming after epoch %d from %s", run["name"], state.epoch, resume_dir)

    n = len(train)
    steps_per_epoch = math.ceil(n / batch_size)
    padding = crop_padding(data.image_shape[-1])
    model.train()
    while state.epoch < epochs and not state.diverged:
        t0 = time.perf_counter()
        epoch_lr = lr_at(state.epoch)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        perm = torch.randperm(n, generator=generator).to(dev)
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size : (i + 1) * batch_size]
            x, y = train.images[idx], train.labels[idx]
            if run["augment"]:
                x = random_crop(x, padding, generator)
                if run["flip"]:
                    x = random_flip(x, generator)
            lr = lr_at(state.epoch + i / steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with _autocast(dev):
                out = model(_memory_format(x))
            loss = F.cross_entropy(out.float(), y)
            if not torch.isfinite(loss):
                state.diverged = True
                log.warning(
                    "%s: DIVERGED at epoch %d step %d (loss %s, lr %.4g); stopping the run",
                    run["name"],
                    state.epoch + 1,
                    i,
                    loss.item(),
                    lr,
                )
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state.step += 1
            loss_sum += loss.detach() * len(y)
            correct += (out.argmax(1) == y).sum()
        state.epoch += 1
        seconds = time.perf_counter() - t0
        if state.diverged:
            row = {
                "epoch": state.epoch,
                "lr": epoch_lr,
                "train_loss": math.nan,
                "train_acc": math.nan,
                "val_loss": math.nan,
                "val_acc": math.nan,
                "seconds": seconds,
                "diverged": True,
            }
        else:
            val_loss, val_acc = evaluate(model, val)
            row = {
                "epoch": state.epoch,
                "lr": epoch_lr,
                "train_loss": loss_sum.item() / n,
                "train_acc": correct.item() / n,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "seconds": seconds,
                "diverged": False,
            }
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
        _checkpoint(model, optimizer, state, generator, meta, resume_dir, wanted)

    _finish(model, optimizer, state, generator, meta, resume_dir, wanted, Path(metrics_path))
    return state


def _resume(
    resume_dir: Path,
    config_hash: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> TrainState | None:
    last = resume_dir / "last.pt"
    if not last.exists():
        return None
    try:
        ckpt = load_checkpoint(last)
    except Exception as exc:  # noqa: BLE001 - an unreadable resume state means start over
        log.warning("ignoring unreadable resume state %s (%s); starting over", last, exc)
        return None
    if ckpt["provenance"].get("config_hash") != config_hash:
        log.info("resume state %s is from another configuration; starting over", last)
        return None
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    generator.set_state(ckpt["rng"]["generator"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    return TrainState(ckpt["epoch"], ckpt["step"], ckpt["diverged"], list(ckpt["metrics"]))


def _checkpoint(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    generator: torch.Generator,
    meta: Mapping[str, Any],
    resume_dir: Path,
    wanted: Mapping[int, Path],
) -> None:
    """Save the resume state, and a snapshot if this epoch is one to keep."""
    snap = _snapshot(model, optimizer, state, generator, meta)
    if state.epoch in wanted:
        _save(snap, resume_dir / f"epoch{state.epoch:03d}.pt")
    _save(snap, resume_dir / "last.pt")


def _finish(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    generator: torch.Generator,
    meta: Mapping[str, Any],
    resume_dir: Path,
    wanted: Mapping[int, Path],
    metrics_path: Path,
) -> None:
    """Publish the snapshots and metrics under their final names, then drop the resume state.

    After a divergence, the epochs not reached are written with the weights at divergence
    and `diverged: True`, so downstream jobs run and the figures can show the failure."""
    for epoch, final in sorted(wanted.items()):
        snap = resume_dir / f"epoch{epoch:03d}.pt"
        if not snap.exists():
            if not state.diverged:
                raise RuntimeError(f"checkpoint for epoch {epoch} is missing in {resume_dir}")
            _save(_snapshot(model, optimizer, state, generator, meta), snap)
        _link_or_copy(snap, final)
    write_metrics(state.metrics, metrics_path)
    shutil.rmtree(resume_dir, ignore_errors=True)
