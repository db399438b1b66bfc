"""Reading the study's artifacts back for figures and findings: per-epoch metrics, per-layer
similarity profiles from the tidy tables, and curve evaluations.

Nothing here computes science; it only turns files into plain arrays and data frames in a
fixed order (epochs ascending, layers in network order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

# The method suffix of a shuffled baseline row (closerlook.compare.SHUFFLED; not imported,
# so that figures load without torch).
SHUFFLED = "_shuffled"
PATHS = ("line", "curve")
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


def read_metrics(path: str | Path) -> pd.DataFrame:
    """A run's metrics.csv, sorted by epoch, `diverged` as booleans."""
    df = pd.read_csv(path).sort_values("epoch").reset_index(drop=True)
    df["diverged"] = df["diverged"].astype(str).str.lower().isin(("true", "1"))
    return df


def diverged_epoch(df: pd.DataFrame) -> int | None:
    """The first epoch recorded as diverged, or None."""
    bad = df.loc[df["diverged"], "epoch"]
    return int(bad.iloc[0]) if len(bad) else None


def final_accuracy(df: pd.DataFrame) -> float:
    """Validation accuracy (fraction) after the last epoch."""
    return float(df["val_acc"].iloc[-1])


@dataclass
class LayerProfile:
    """One compared pair's similarity per layer, in network order, with its shuffled
    baseline (NaN where the table has none)."""

    run_a: str
    epoch_a: int
    run_b: str
    epoch_b: int
    layers: list[str]
    values: np.ndarray
    baseline: np.ndarray

    def label(self) -> str:
        if self.run_a == self.run_b:
            return f"{self.run_a}: epoch {self.epoch_a} vs {self.epoch_b}"
        return f"{self.run_a} (epoch {self.epoch_a}) vs {self.run_b} (epoch {self.epoch_b})"


def layer_profiles(table: pd.DataFrame, method: str) -> list[LayerProfile]:
    """Every pair of a tidy similarity table as a LayerProfile of `method`, pairs in the
    table's order."""
    rows = table[table["method"] == method]
    base = table[table["method"] == method + SHUFFLED]
    keys = ["run_a", "epoch_a", "run_b", "epoch_b"]
    out = []
    for key, df in rows.groupby(keys, sort=False):
        df = df.sort_values("layer_index")
        b = base
        for k, v in zip(keys, key, strict=True):
            b = b[b[k] == v]
        baseline = b.set_index("layer")["value"].reindex(df["layer"]).to_numpy(dtype=float)
        ra, ea, rb, eb = key
        out.append(
            LayerProfile(
                str(ra),
                int(ea),
                str(rb),
                int(eb),
                df["layer"].tolist(),
                df["value"].to_numpy(dtype=float),
                baseline,
            )
        )
    return out


def profile_of(
    profiles: list[LayerProfile], run_b: str, run_a: str | None = None
) -> LayerProfile | None:
    """The profile whose second run is `run_b` (and first `run_a`, if given)."""
    for p in profiles:
        if p.run_b == run_b and (run_a is None or p.run_a == run_a):
            return p
    return None


@dataclass
class CurveEvaluation:
    """What a curve file holds (closerlook.curves): paths over t with their barrier
    heights, and the loss plane with bends, curve and projected checkpoints."""

    run_a: str
    epoch_a: int
    run_b: str
    epoch_b: int
    t: np.ndarray
    paths: dict[str, dict[str, np.ndarray]]  # "line"/"curve" -> metric -> (T,)
    barriers: dict[str, dict[str, float]]  # "line"/"curve" -> "train_loss"/"val_loss"
    plane_x: np.ndarray
    plane_y: np.ndarray
    plane: dict[str, np.ndarray]  # metric -> (len(x), len(y))
    bends_xyz: np.ndarray
    curve_xyz: np.ndarray
    checkpoints_xyz: np.ndarray
    checkpoint_labels: list[str]

    def checkpoint_epochs(self) -> list[int]:
        """Epochs of the projected checkpoints, from their "run.eEEE" labels."""
        return [int(label.rsplit(".e", 1)[1]) for label in self.checkpoint_labels]


def read_curve(path: str | Path) -> CurveEvaluation:
    """Read a curve evaluation file (kind "curve")."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("kind") != "curve":
            raise ValueError(f"{path}: not a curve file (kind {f.attrs.get('kind')!r})")
        paths = {p: {m: f[f"{p}/{m}"][()] for m in METRICS} for p in PATHS}
        barriers = {
            p: {m: float(f[p].attrs[f"barrier_{m}"]) for m in ("train_loss", "val_loss")}
            for p in PATHS
        }
        labels = [
            s.decode() if isinstance(s, bytes) else str(s) for s in f["plane/checkpoints_label"]
        ]
        return CurveEvaluation(
            run_a=str(f.attrs["run_a"]),
            epoch_a=int(f.attrs["epoch_a"]),
            run_b=str(f.attrs["run_b"]),
            epoch_b=int(f.attrs["epoch_b"]),
            t=f["t"][()],
            paths=paths,
            barriers=barriers,
            plane_x=f["plane/x"][()],
            plane_y=f["plane/y"][()],
            plane={m: f[f"plane/{m}"][()] for m in METRICS},
            bends_xyz=f["plane/bends_xyz"][()],
            curve_xyz=f["plane/curve_xyz"][()],
            checkpoints_xyz=f["plane/checkpoints_xyz"][()],
            checkpoint_labels=labels,
        )
