"""Training instability read from a run's metrics.csv: the early phase that finding (b) is
about, not the accuracy after training (a batch-normalised network can spike and recover).

Within a window of epochs after the warmup period (default: up to the first 25% of
training), two numbers per run:

- the **lowest validation accuracy**, and
- the largest **validation-loss spike**: max over the window of L(e) / min_{e' < e} L(e') − 1,
  how far the loss rises above the best value it had reached (a relative rise; +inf when
  the loss becomes non-finite, a run that diverged). Loss spikes are the symptom of the
  instability that warmup prevents (Goyal et al. 2017; Gilmer et al. 2022; Kalra &
  Barkeshli 2024).

Example (hand-computed): validation losses 2.3, 1.0, 0.5, 1.6, 0.4 at epochs 0–4 with the
window (2, 4]: epoch 3 rises to 1.6 / 0.5 − 1 = 2.2 above its best, epoch 4 to 0.4 / 0.5 − 1
< 0; the spike is 2.2 at epoch 3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Window:
    """Epochs e with start < e ≤ end."""

    start: int
    end: int

    def text(self) -> str:
        return f"epochs {self.start + 1}–{self.end}"


def window(epochs: int, warmup_epochs: int, fraction: float) -> Window:
    """The epochs after the warmup period up to ⌊fraction · epochs⌋ (at least one epoch)."""
    end = max(int(math.floor(fraction * epochs)), warmup_epochs + 1)
    return Window(int(warmup_epochs), min(end, max(epochs, warmup_epochs + 1)))


def _in(df: pd.DataFrame, w: Window) -> pd.DataFrame:
    return df[(df["epoch"] > w.start) & (df["epoch"] <= w.end)]


def lowest_accuracy(df: pd.DataFrame, w: Window) -> tuple[float, int | None]:
    """(lowest validation accuracy in the window, its epoch); a non-finite accuracy (a
    diverged epoch) counts as chance-free 0."""
    rows = _in(df, w)
    if rows.empty:
        return math.nan, None
    acc = rows["val_acc"].to_numpy(dtype=float)
    acc = np.where(np.isfinite(acc), acc, 0.0)
    i = int(np.argmin(acc))
    return float(acc[i]), int(rows["epoch"].iloc[i])


def rises(df: pd.DataFrame, w: Window) -> list[tuple[int, float]]:
    """(epoch, L(e) / min_{e' < e} L(e') − 1) for every epoch of the window, in order, up to
    and including the first non-finite loss (+inf)."""
    df = df.sort_values("epoch")
    best, out = math.inf, []
    for e, x in zip(
        df["epoch"].to_numpy(dtype=int), df["val_loss"].to_numpy(dtype=float), strict=True
    ):
        if w.start < e <= w.end and math.isfinite(best):
            out.append((int(e), math.inf if not math.isfinite(x) else x / best - 1.0))
            if out[-1][1] == math.inf:
                break
        if math.isfinite(x):
            best = min(best, x)
    return out


def loss_spike(df: pd.DataFrame, w: Window) -> tuple[float, int | None]:
    """(largest relative rise of the validation loss above its best earlier value within
    the window, its epoch): +inf at the first non-finite loss."""
    r = rises(df, w)
    if not r:
        return math.nan, None
    e, x = max(r, key=lambda ex: ex[1])  # the first of equal maxima
    return x, e


def spike_onset(df: pd.DataFrame, w: Window, threshold: float) -> int | None:
    """The first epoch of the window whose validation loss rises above its best earlier
    value by more than `threshold` (relative, as in `loss_spike`), or None."""
    return next((e for e, x in rises(df, w) if x > threshold), None)


def resolve_window(config: Mapping[str, Any]) -> list[int] | None:
    """RQ2's window [start, end] from the config: after the warmup run's warmup period (or
    the frozen run's freezing) up to `findings.instability.window` of the no-warmup run's
    training; None without the RQ2 runs."""
    from closerlook.plan import run_settings

    q, runs = config["questions"].get("rq2", {}), config["runs"]
    nw = q.get("no_warmup", {}).get("run")
    if nw not in runs:
        return None
    period = 0
    for role in ("warmup", "frozen"):
        run = q.get(role, {}).get("run")
        if run in runs:
            s = run_settings(config, run)
            frozen = (s.freeze or {}).get("epochs", 0)
            period = max(period, math.ceil(s.warmup_epochs), math.ceil(frozen))
    fraction = config["findings"]["instability"]["window"]
    w = window(run_settings(config, nw).epochs, period, fraction)
    return [w.start, w.end]
