"""SGD over a training split: one step, one epoch, evaluation; the one loop that base
training (closerlook.train) and curve training share.

Each epoch is a random permutation of the split (already on the device) sliced into
batches, with augmentation (random crop, flip) as batched tensor ops drawn once per epoch.
All randomness comes from one seeded CPU generator, in this order per epoch: the
permutation, the model's own per-step draws (:class:`StepSampler`, e.g. a curve's t), the
augmentation. On CUDA the forward pass can run under bf16 autocast on channels_last
tensors (:class:`Precision`).

One optimisation step (:func:`sgd_step`) sets the learning rate of the global step, sums
the gradients of `accumulation` micro-batches (the same update as one big batch, for a
large batch that does not fit in memory), and steps SGD.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from closerlook import schedules
from closerlook.data import Split

if TYPE_CHECKING:
    from closerlook.plan import RunSettings

# Steps between checks of the running loss for NaN/inf (each check waits for the device).
DIVERGENCE_CHECK_EVERY = 16

# loss(logits, images, labels): the objective of one (micro-)batch.
Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

# hook(running loss sum of the epoch, learning rate of the step), called after a step.
StepHook = Callable[[torch.Tensor, float], None]

# penalty(): a term added to each batch's loss for the gradient only (a curve's ½λ‖w(t)‖²).
Penalty = Callable[[], torch.Tensor]


class StepSampler(Protocol):
    """Per-step randomness of the model itself (a curve's t ~ U(0,1) per batch)."""

    def draw(self, steps: int, generator: torch.Generator) -> None:
        """Called once per epoch, right after the batch permutation is drawn and before the
        augmentation draw."""

    def at(self, step: int) -> None:
        """Called before step `step` (0-based) of the epoch."""


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


# ------------------------------------------------------------------------- precision
@dataclass(frozen=True)
class Precision:
    """bf16 autocast and channels_last memory layout; both only ever on CUDA."""

    autocast: bool = False
    channels_last: bool = False

    @classmethod
    def for_run(cls, settings: RunSettings, dev: torch.device) -> Precision:
        cuda = dev.type == "cuda"
        return cls(cuda and settings.amp, cuda and settings.channels_last)

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
    penalty: Penalty | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD update on a batch, the gradient summed over `accumulation` micro-batches
    (each weighted by its share of the batch, so the update equals the full batch's).
    A `penalty` (one batch only: accumulation 1) is added to the loss for the gradient,
    not to the reported loss.

    Returns (summed loss, number correct) as device tensors, without waiting for the device.
    """
    if penalty is not None and accumulation != 1:
        raise ValueError("a per-batch penalty needs accumulation 1")
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
        objective_loss = loss if penalty is None else loss + penalty()
        (objective_loss * (len(y) / n)).backward()
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
    sampler: StepSampler | None = None,
    penalty: Penalty | None = None,
) -> EpochResult:
    """One pass over `train` (already on the device) in a random order; stops early, marked
    diverged, once the running loss is not finite. `after_step` maps a step of this epoch
    (1-based) to a hook called right after it (a mid-epoch checkpoint); hooks only read.
    A `sampler` draws the model's own randomness per step; `penalty` goes to sgd_step."""
    n = len(train)
    steps = math.ceil(n / batch_size)
    perm = torch.randperm(n, generator=generator).to(train.images.device)
    if sampler is not None:
        sampler.draw(steps, generator)
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
        if sampler is not None:
            sampler.at(i)
        batch_loss, batch_correct = sgd_step(
            model, optimizer, x, y, lr, objective, accumulation, precision, penalty
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
