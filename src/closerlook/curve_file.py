"""The curve file (kind "curve", `results/{preset}/curves/{curve}.h5`): its writer and its
reader, one layout (docs/architecture.md, artifacts). Numbers only: no torch here, so that
figures and findings read curves without it.

Layout::

    /                 attrs: kind="curve", curve, curve_kind, n_bends, run_a, epoch_a,
                      run_b, epoch_b, both endpoint checkpoints' paths and SHA-256, the
                      bends checkpoint's path and SHA-256, config hashes, versions, time
    /t                (T,) evaluation points, 0 and 1 included
    /line/<metric>    (T,) train_loss, train_acc, val_loss, val_acc along the straight line
                      (val: the held-out split, CIFAR-10's test batch)
    /curve/<metric>   (T,) the same along the fitted curve
    /line, /curve     attrs error_barrier_train, error_barrier_val (error as a fraction),
                      loss_barrier_train, loss_barrier_val: max over t of the path minus
                      the endpoints' interpolation (closerlook.barriers). Files written
                      before them hold barrier_train_loss, barrier_val_loss (above the
                      larger endpoint) instead: the reader computes the four from the paths
    /bends            (n_bends, P) the bends as flat weight vectors, endpoints included;
                      attrs parameter_names, parameter_shapes (the order of the vector)
    /fit/<column>     per-epoch history of curve training (epoch, train_loss, ...)
    /plane/x, /y      grid coordinates along the orthonormal u (towards w_b) and v
    /plane/<metric>   (len(x), len(y)) loss and accuracy over the grid, indexed [x, y]
    /plane/bends_xyz, curve_xyz, checkpoints_xyz   (·, 3) x, y and distance from the plane
    /plane/checkpoints_label                       "run.eEEE" of each projected checkpoint
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from closerlook import hdf5_format
from closerlook.barriers import BARRIERS, path_barriers
from closerlook.provenance import atomic_path, write_attrs

KIND = "curve"
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")
PATHS = ("line", "curve")
PLANE = (
    "origin w_a, orthonormal u along w_b - w_a, v towards the middle bend; "
    "grids indexed [x, y]; *_xyz columns are x, y and distance from the plane"
)


@dataclass
class CurveEvaluation:
    """What a curve file holds: paths over t with their barriers, and the loss
    plane with bends, curve and projected checkpoints."""

    run_a: str
    epoch_a: int
    run_b: str
    epoch_b: int
    t: np.ndarray
    paths: dict[str, dict[str, np.ndarray]]  # "line"/"curve" -> metric -> (T,)
    barriers: dict[str, dict[str, float]]  # "line"/"curve" -> BARRIERS -> value
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


@dataclass
class Bends:
    """The fitted bends as flat rows, the order of the vector, and the fit's history."""

    values: np.ndarray  # (n_bends, P)
    kind: str
    parameter_names: Sequence[str]
    parameter_shapes: Sequence[Sequence[int]]
    history: Mapping[str, Sequence[float]]


def write_curve(
    out: str | Path, ev: CurveEvaluation, bends: Bends, attrs: Mapping[str, Any]
) -> Path:
    """Write `ev` and the `bends` to the curve file `out` (atomically), `attrs` on its root."""
    out = Path(out)
    with atomic_path(out) as tmp, hdf5_format.create(tmp) as f:
        f.attrs["kind"] = KIND
        write_attrs(f, attrs)
        f["t"] = ev.t
        for name in PATHS:
            g = f.create_group(name)
            for k in METRICS:
                g[k] = ev.paths[name][k]
            for k in BARRIERS:
                g.attrs[barrier_attr(k)] = ev.barriers[name][k]
        b = f.create_dataset("bends", data=bends.values, chunks=True)
        b.attrs["curve_kind"] = bends.kind
        b.attrs["parameter_names"] = json.dumps(list(bends.parameter_names))
        b.attrs["parameter_shapes"] = json.dumps([list(s) for s in bends.parameter_shapes])
        fitted = f.create_group("fit")
        for k, v in bends.history.items():
            fitted[k] = np.asarray(v)
        _write_plane(f.create_group("plane"), ev)
    return out


def _write_plane(p: h5py.Group, ev: CurveEvaluation) -> None:
    p.attrs["description"] = PLANE
    p["x"], p["y"] = ev.plane_x, ev.plane_y
    for k in METRICS:
        p[k] = ev.plane[k]
    p["bends_xyz"] = ev.bends_xyz
    p["curve_xyz"] = ev.curve_xyz
    p["checkpoints_xyz"] = np.asarray(ev.checkpoints_xyz, dtype=np.float64).reshape(-1, 3)
    p["checkpoints_label"] = np.array(ev.checkpoint_labels, dtype=h5py.string_dtype())


def barrier_attr(key: str) -> str:
    """The attribute a barrier of BARRIERS is stored as: "error_train" -> "error_barrier_train"."""
    kind, split = key.split("_")
    return f"{kind}_barrier_{split}"


def has_barriers(g: h5py.Group) -> bool:
    """Whether a path's group stores its four barriers (files written before them do not)."""
    return all(barrier_attr(k) in g.attrs for k in BARRIERS)


def read_barriers(
    g: h5py.Group, t: np.ndarray, path: Mapping[str, np.ndarray] | None = None
) -> dict[str, float]:
    """A path's four barriers: its attrs, or, in a file written before them, computed from
    the path over `t` (`path`, else the group's stored metrics)."""
    if has_barriers(g):
        return {k: float(g.attrs[barrier_attr(k)]) for k in BARRIERS}
    return path_barriers(t, path if path is not None else {m: g[m][()] for m in METRICS})


def read_curve(path: str | Path) -> CurveEvaluation:
    """Read a curve file back."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("kind") != KIND:
            raise ValueError(f"{path}: not a curve file (kind {f.attrs.get('kind')!r})")
        labels = [
            s.decode() if isinstance(s, bytes) else str(s) for s in f["plane/checkpoints_label"]
        ]
        t = f["t"][()]
        paths = {p: {m: f[f"{p}/{m}"][()] for m in METRICS} for p in PATHS}
        return CurveEvaluation(
            run_a=str(f.attrs["run_a"]),
            epoch_a=int(f.attrs["epoch_a"]),
            run_b=str(f.attrs["run_b"]),
            epoch_b=int(f.attrs["epoch_b"]),
            t=t,
            paths=paths,
            barriers={p: read_barriers(f[p], t, paths[p]) for p in PATHS},
            plane_x=f["plane/x"][()],
            plane_y=f["plane/y"][()],
            plane={m: f[f"plane/{m}"][()] for m in METRICS},
            bends_xyz=f["plane/bends_xyz"][()],
            curve_xyz=f["plane/curve_xyz"][()],
            checkpoints_xyz=f["plane/checkpoints_xyz"][()],
            checkpoint_labels=labels,
        )
