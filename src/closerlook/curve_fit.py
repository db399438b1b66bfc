"""Curve training (Garipov et al. 2018, §3.2, eq. 4): the interior bends of a curve are
trained to minimise E_{t∼U(0,1)} L(w(t)) + ½λ‖w(t)‖², one t drawn per batch.

The epochs are closerlook.sgd's loop, the same one base training runs: the network at the
batch's t is a :class:`CurveAtT` (a module whose forward pass runs `functional_call` with
w(t)), its t is drawn by the loop's step sampler hooks, and the weight decay on w(t) is the
loop's per-batch penalty. The rate follows a cosine from `lr` down to lr/100 per iteration.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from closerlook import device as devices
from closerlook import schedules
from closerlook.checkpoints import load_checkpoint, save
from closerlook.config import config_hash
from closerlook.curves import Curve, curve_from_checkpoints, save_curve, unflatten
from closerlook.data import Dataset, Split
from closerlook.logs import Progress
from closerlook.plan import CurveFit
from closerlook.provenance import IntegrityError, load_sealed, record, sha256
from closerlook.sgd import Augment, Precision, crop_padding, train_epoch

log = logging.getLogger("closerlook.curves")


@dataclass
class FitHistory:
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def l2_penalty(weights: torch.Tensor, weight_decay: float) -> torch.Tensor:
    """½·λ·‖w(t)‖²: weight decay on the weights at t (its gradient is λ·w(t), as in SGD)."""
    return 0.5 * weight_decay * weights.pow(2).sum()


class CurveAtT(nn.Module):
    """The curve's network at the t of the current batch: a step sampler of the epoch loop
    (one t ∼ U(0, 1) per batch) whose forward pass runs the network with weights w(t)."""

    def __init__(self, curve: Curve, weight_decay: float) -> None:
        super().__init__()
        self.curve, self.weight_decay = curve, weight_decay
        self.ts = torch.empty(0)
        self.weights = torch.empty(0)

    def draw(self, steps: int, generator: torch.Generator) -> None:
        self.ts = torch.rand(steps, generator=generator)

    def at(self, step: int) -> None:
        self.weights = self.curve.flat_weights(self.ts[step])

    def penalty(self) -> torch.Tensor:
        return l2_penalty(self.weights, self.weight_decay)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.curve.net
        return functional_call(net, unflatten(net, self.weights), (x,))


@dataclass
class FitProgress:
    """Where a fit keeps its state after every epoch (outside the rule's outputs), so that a
    killed fit continues from its last finished epoch; `key` names the fit it belongs to
    (its settings and endpoints): a state of another fit is never resumed."""

    path: Path
    key: str

    def save(self, epoch: int, curve: Curve, optimizer, generator, history: FitHistory) -> None:
        state = {
            "key": self.key,
            "epoch": epoch,
            "interior": curve.interior.detach().cpu(),
            "optimizer": optimizer.state_dict(),
            "rng": {"generator": generator.get_state(), "torch": torch.get_rng_state()},
            "history": asdict(history),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save(state, self.path)

    def restore(self, curve: Curve, optimizer, generator, history: FitHistory) -> int:
        """The epochs already done (0: start afresh), their state put back."""
        if not self.path.exists():
            return 0
        try:
            state = load_sealed(self.path)
        except IntegrityError as exc:
            log.warning("curve fit: starting afresh, the progress is unusable (%s)", exc)
            return 0
        if state.get("key") != self.key:
            log.info("curve fit: progress in %s is of other settings; starting afresh", self.path)
            return 0
        with torch.no_grad():
            curve.interior.copy_(state["interior"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["rng"]["generator"])
        torch.set_rng_state(state["rng"]["torch"])
        for k, v in state["history"].items():
            getattr(history, k).extend(v)
        log.info("curve fit: resuming after epoch %d from %s", state["epoch"], self.path)
        return int(state["epoch"])


def fit_curve(
    curve: Curve,
    train_split: Split,
    fit: CurveFit,
    image_size: int,
    progress: FitProgress | None = None,
) -> FitHistory:
    """Train the interior bends of `curve` on `train_split` (already on the curve's device),
    keeping `progress` after every epoch and resuming from it."""
    generator = torch.Generator().manual_seed(fit.seed)
    torch.manual_seed(fit.seed)
    optimizer = torch.optim.SGD([curve.interior], lr=fit.lr, momentum=fit.momentum)
    lr_at = schedules.cosine_annealing(fit.lr, fit.lr / 100, fit.epochs)
    augment = Augment(crop_padding(image_size), fit.flip) if fit.augment else None
    precision = Precision(autocast=curve.start.device.type == "cuda")
    at_t, history, n = CurveAtT(curve, fit.weight_decay), FitHistory(), len(train_split)
    done = progress.restore(curve, optimizer, generator, history) if progress else 0
    curve.net.train()
    epochs = Progress("curve epoch", fit.epochs, log, done=done)
    for epoch in range(done, fit.epochs):
        t0 = time.perf_counter()
        result = train_epoch(
            at_t, optimizer, train_split, fit.batch_size, epoch, lr_at, generator,
            augment=augment, precision=precision, sampler=at_t, penalty=at_t.penalty,
        )  # fmt: skip
        history.epoch.append(epoch + 1)
        history.train_loss.append(result.loss_sum / n)
        history.train_acc.append(result.correct / n)
        history.seconds.append(time.perf_counter() - t0)
        epochs.step(
            f"train_loss {history.train_loss[-1]:.4f} train_acc {history.train_acc[-1]:.4f} "
            f"({history.seconds[-1]:.2f}s)"
        )
        if result.diverged:
            log.warning("curve fit DIVERGED in epoch %d; stopping", epoch + 1)
            break
        if progress is not None:
            progress.save(epoch + 1, curve, optimizer, generator, history)
    return history


def fit_between(
    checkpoint_a: str | Path,
    checkpoint_b: str | Path,
    out: str | Path,
    data: Dataset,
    fit: CurveFit,
    provenance: Mapping[str, Any],
    device: str = "auto",
) -> Curve:
    """Fit a curve between two checkpoints and save its bends to `out`. Progress is kept
    beside it in `<out without suffix>.resume/` (not an output): calling again after a kill
    continues from the last finished epoch; it is removed once the bends are saved."""
    dev = devices.resolve(device)
    ckpt_a, ckpt_b = load_checkpoint(checkpoint_a), load_checkpoint(checkpoint_b)
    curve = curve_from_checkpoints(ckpt_a, ckpt_b, fit.kind, fit.n_bends).to(dev)
    out = Path(out)
    folder = out.with_suffix(".resume")
    sha_a, sha_b = sha256(checkpoint_a), sha256(checkpoint_b)
    key = config_hash([asdict(fit), sha_a, sha_b, str(dev)])
    progress = FitProgress(folder / "last.pt", key)
    history = fit_curve(curve, data.train.to(dev), fit, data.image_shape[-1], progress)
    meta = {
        "model_spec": ckpt_a["model_spec"],
        "in_shape": ckpt_a["in_shape"],
        "num_classes": ckpt_a["num_classes"],
        "fit": asdict(fit),
        "provenance": record(
            **provenance,
            curve_kind=fit.kind,
            n_bends=fit.n_bends,
            source_checkpoint_a=str(checkpoint_a),
            source_sha256_a=sha_a,
            source_checkpoint_b=str(checkpoint_b),
            source_sha256_b=sha_b,
            device=str(dev),
        ),
    }
    save_curve(curve, out, meta, asdict(history))
    shutil.rmtree(folder, ignore_errors=True)
    return curve
