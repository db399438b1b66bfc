"""`closerlook inspect TABLE.csv`: the CSV tables of the pipeline summarised. A run's
metrics.csv by its epochs (the last, the best validation accuracy, divergence); a
similarity table (a pair's, or an analysis' of every pair and seed) as its mean value per
layer and measure over the pairs it holds; any other table by its numeric columns."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from closerlook.disk import size
from closerlook.inspect_views import InspectError, existing_file, render_values, table
from closerlook.tables import PAIR_COLUMNS, SHUFFLED

METRICS = ("epoch", "train_loss", "val_loss", "val_acc")
SIMILARITY = ("layer", "layer_index", "method", "value")


def _number(v: Any) -> Any:
    """A cell as JSON: numbers as float or int, non-finite as null."""
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.number):
        return v if not isinstance(v, np.generic) else v.item()
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


def read_table(path: str | Path) -> pd.DataFrame:
    """The table, or a one-line InspectError."""
    path = existing_file(path)
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InspectError(f"{path}: not a CSV table ({' '.join(str(exc).split())})") from exc


def columns(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per column: its type and, numeric, the count of finite values, mean, min, max."""
    out = []
    for name in frame.columns:
        col = frame[name]
        row: dict[str, Any] = {"name": str(name), "dtype": str(col.dtype)}
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.to_numpy(dtype=np.float64)
            finite = x[np.isfinite(x)]
            row["count"] = int(finite.size)
            stats = (finite.mean(), finite.min(), finite.max()) if finite.size else (math.nan,) * 3
            row.update(zip(("mean", "min", "max"), map(_number, map(float, stats)), strict=True))
        out.append(row)
    return out


def metrics_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """A run's epochs: the last row, the best validation accuracy and its epoch, whether
    it diverged and the training seconds in all."""
    last = {k: _number(v) for k, v in frame.iloc[-1].items()}
    best = frame["val_acc"].idxmax() if frame["val_acc"].notna().any() else None
    diverged = frame["diverged"].astype(str).eq("True") if "diverged" in frame else None
    return {
        "epochs": int(frame["epoch"].max()),
        "last": last,
        "best_val_acc": None if best is None else _number(frame.loc[best, "val_acc"]),
        "best_epoch": None if best is None else int(frame.loc[best, "epoch"]),
        "diverged": bool(diverged.any()) if diverged is not None else None,
        "seconds": _number(float(frame["seconds"].sum())) if "seconds" in frame else None,
    }


def similarity_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """The pairs and seeds a similarity table holds, and per layer (network order) each
    measure's mean value over them with its shuffled baseline's."""
    pairs = frame[[c for c in PAIR_COLUMNS if c in frame]].drop_duplicates()
    means = frame.groupby(["layer_index", "layer", "method"], sort=True)["value"].mean()
    labels = list(dict.fromkeys(frame["method"]))
    measures = [m for m in labels if not m.endswith(SHUFFLED)]
    layers = []
    for (index, layer), group in means.groupby(level=["layer_index", "layer"]):
        values = {m: _number(v) for (_, _, m), v in group.items()}
        layers.append({
            "layer": layer, "layer_index": int(index),
            "values": {m: values.get(m) for m in measures},
            "baselines": {m: values[m + SHUFFLED] for m in measures if m + SHUFFLED in values},
        })  # fmt: skip
    seeds = sorted(int(s) for s in frame["seed"].unique()) if "seed" in frame else []
    return {"pairs": len(pairs), "seeds": seeds, "measures": measures, "layers": layers}


def describe_table(path: str | Path) -> dict[str, Any]:
    """Everything `closerlook inspect TABLE.csv` shows, as a JSON-ready mapping."""
    path = Path(path)
    frame = read_table(path)
    report: dict[str, Any] = {
        "file": str(path),
        "kind": "table",
        "format": "csv",
        "size_bytes": path.stat().st_size,
        "rows": len(frame),
        "columns": columns(frame),
    }
    if len(frame) and set(METRICS) <= set(frame.columns):
        report.update(kind="metrics", summary=metrics_summary(frame))
    elif len(frame) and set(SIMILARITY) <= set(frame.columns):
        report.update(kind="similarity", summary=similarity_summary(frame))
    return report


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def render_table(report: dict[str, Any]) -> str:
    """The text of `closerlook inspect TABLE.csv`."""
    kind = {"metrics": "metrics table", "similarity": "similarity table"}
    what = kind.get(report["kind"], "CSV table")
    head = f"{report['file']}: closerlook {what}, {size(report['size_bytes'])}, "
    lines = [head + f"{report['rows']} rows"]
    s = report.get("summary")
    if report["kind"] == "metrics":
        last = s["last"]
        lines.append(
            f"epochs: {s['epochs']}; last: val_acc {_num(last.get('val_acc'))} val_loss "
            f"{_num(last.get('val_loss'))} train_loss {_num(last.get('train_loss'))}; best "
            f"val_acc {_num(s['best_val_acc'])} at epoch {s['best_epoch']}; diverged "
            f"{'yes' if s['diverged'] else 'no'}; {_num(s['seconds'])} s of training"
        )
    elif report["kind"] == "similarity":
        seeds = ", ".join(map(str, s["seeds"]))
        lines.append(f"{s['pairs']} pair{'s' * (s['pairs'] != 1)}, seeds {seeds}")
        title = "mean value per layer over the pairs (shuffled baseline in brackets):"
        lines += render_values(s, title)
    lines.append("columns:")
    rows = [
        (c["name"], c["dtype"], *(_num(c.get(k)) for k in ("count", "mean", "min", "max")))
        for c in report["columns"]
    ]
    lines += table(("name", "dtype", "count", "mean", "min", "max"), rows, left=2)
    return "\n".join(lines)
