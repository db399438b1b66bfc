"""Learning-rate schedules as pure functions of training time.

Time is measured in epochs, possibly fractional: with `per: iteration` the rate at
iteration i of an epoch of n iterations is evaluated at `epoch + i / n`; with `per: epoch`
at the integer epoch. A schedule therefore carries no state and resumes exactly.

- step decay: lr · γ^(number of milestones passed)
- cosine (one cycle, Loshchilov & Hutter 2017, eq. 5 with a single cycle)
- SGDR: cosine annealing with warm restarts (Loshchilov & Hutter 2017, eq. 5),
  η_t = η_min + ½(η_max − η_min)(1 + cos(π T_cur / T_i)), T_i = T0 · T_mult^i
- linear warmup (Goyal et al. 2017), composable with any of them: the rate rises linearly
  from 0 over the first W epochs, η_t = (t / W) · η_base(t) for t < W. It always changes at
  every iteration, whatever `per` says of the schedule underneath.

- python: the user's own function of (epoch, epochs) to a rate, ``function(t, E, **kwargs)``
  (closerlook.usercode), under `per` and warmup like the others.

The global step s of an epoch of n iterations maps to time t = s / n.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

Schedule = Callable[[float], float]


def constant(lr: float) -> Schedule:
    return lambda epoch: lr


def step_decay(lr: float, milestones: list[int], gamma: float) -> Schedule:
    """lr · γ^k where k milestones (epochs) have been completed."""
    ms = sorted(milestones)
    return lambda epoch: lr * gamma ** sum(epoch >= m for m in ms)


def cosine_annealing(lr_max: float, lr_min: float, period: float) -> Schedule:
    """One half-cosine from lr_max at epoch 0 to lr_min at `period`."""

    def lr(epoch: float) -> float:
        t = min(epoch, period) / period
        return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t))

    return lr


def sgdr_position(epoch: float, T0: int, T_mult: int) -> tuple[int, float, float]:
    """(cycle index i, T_cur, T_i) of SGDR at `epoch`: cycle i spans T_i = T0·T_mult^i epochs
    and T_cur epochs of it have passed."""
    i, start, length = 0, 0.0, float(T0)
    while epoch >= start + length:
        start += length
        length *= T_mult
        i += 1
    return i, epoch - start, length


def sgdr(lr_max: float, lr_min: float, T0: int, T_mult: int) -> Schedule:
    """Cosine annealing with warm restarts (SGDR, eq. 5 of Loshchilov & Hutter 2017)."""

    def lr(epoch: float) -> float:
        _, t_cur, t_i = sgdr_position(epoch, T0, T_mult)
        return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t_cur / t_i))

    return lr


def sgdr_cycle_ends(T0: int, T_mult: int, epochs: int) -> list[int]:
    """Epochs after which an SGDR cycle ends, up to `epochs` (T0=10, T_mult=2: 10, 30, 70, 150)."""
    ends, length, end = [], T0, T0
    while end <= epochs:
        ends.append(end)
        length *= T_mult
        end += length
    return ends


def user_schedule(
    ref: str, source: str | None, epochs: int, kwargs: Mapping[str, Any] | None = None
) -> Schedule:
    """η(t) = f(t, E, **kwargs) for the function f that `ref` (module:function) names."""
    from closerlook.usercode import load_function

    function, given = load_function(ref, source), dict(kwargs or {})
    return lambda epoch: float(function(epoch, epochs, **given))


def per_epoch(schedule: Schedule) -> Schedule:
    """Hold the rate of the epoch's start through the whole epoch."""
    return lambda epoch: schedule(math.floor(epoch))


def linear_warmup(base: Schedule, warmup_epochs: float) -> Schedule:
    """η(t) = (t / W)·base(t) for t < W, then base(t): a linear ramp from 0 (Goyal et al.
    2017, §2.2) that multiplies any schedule."""
    if warmup_epochs <= 0:
        return base
    return lambda epoch: base(epoch) * min(1.0, epoch / warmup_epochs)


def at_step(schedule: Schedule, step: int, steps_per_epoch: int) -> float:
    """The rate at global step `step` (time step / steps_per_epoch)."""
    return schedule(step / steps_per_epoch)


def from_config(spec: Mapping[str, Any], epochs: int, warmup_epochs: float = 0) -> Schedule:
    """Build the schedule that a run's `schedule` mapping describes, with `warmup_epochs` of
    linear warmup in front."""
    kind = spec["kind"]
    if kind == "constant":
        f = constant(spec["lr"])
    elif kind == "step":
        f = step_decay(spec["lr"], spec["milestones"], spec["gamma"])
    elif kind == "cosine":
        f = cosine_annealing(spec["lr_max"], spec["lr_min"], epochs)
    elif kind == "sgdr":
        f = sgdr(spec["lr_max"], spec["lr_min"], spec["T0"], spec["T_mult"])
    elif kind == "python":
        f = user_schedule(spec["function"], spec.get("source"), epochs, spec.get("kwargs"))
    else:
        raise ValueError(f"unknown schedule kind {kind!r}")
    if spec.get("per", "epoch") == "epoch":
        f = per_epoch(f)
    return linear_warmup(f, warmup_epochs)
