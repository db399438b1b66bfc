"""The headline numbers `closerlook inspect` shows for a file of the pipeline, beside its
provenance and datasets: a curve file's barriers, a similarity file's values per layer
and measure (closerlook.inspection reads the files; these build and render the views).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from closerlook.barriers import BARRIERS
from closerlook.curve_file import METRICS, PATHS, has_barriers, read_barriers
from closerlook.tables import SHUFFLED


class InspectError(RuntimeError):
    """A file `closerlook inspect` cannot show; the message is one line naming the file."""


def existing_file(path: str | Path) -> Path:
    """`path` as a Path if it is a file, or a one-line InspectError."""
    path = Path(path)
    if not path.exists():
        raise InspectError(f"{path}: no such file")
    if path.is_dir():
        raise InspectError(f"{path}: is a directory, not a file")
    return path


def table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 3) -> list[str]:
    """Aligned text columns, the first `left` to the left, the others to the right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        cells = (
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        return ("  " + "  ".join(cells)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def _value(v: Any) -> float | None:
    v = float(np.asarray(v).item())
    return v if math.isfinite(v) else None


# ------------------------------------------------------------------------- curves
def curve_barriers(f: h5py.File) -> dict[str, dict[str, float | None]] | None:
    """path -> its four barriers (closerlook.barriers.BARRIERS): the stored attributes, or
    (a file written before them) computed from its paths; None without line and curve."""
    out = {}
    for path in PATHS:
        g = f.get(path)
        if not isinstance(g, h5py.Group):
            return None
        computable = "t" in f and all(m in g for m in METRICS)
        if not (has_barriers(g) or computable):
            return None
        t = f["t"][()] if computable else None
        out[path] = {k: _value(v) for k, v in read_barriers(g, t).items()}
    return out


def render_barriers(barriers: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    """The barrier table: error in percentage points, loss as is."""

    def cell(key: str, v: float | None) -> str:
        if v is None:
            return "-"
        return f"{100 * v:.2f} pt" if key.startswith("error") else f"{v:.4f}"

    header = ("path", *(k.replace("_", " ") for k in BARRIERS))
    rows = [(p, *(cell(k, b[k]) for k in BARRIERS)) for p, b in barriers.items()]
    title = "barriers (the path's maximum above the endpoints' interpolation):"
    return [title, *table(header, rows, left=1)]


# ------------------------------------------------------------------------- similarity
def similarity_values(f: h5py.File) -> dict[str, Any] | None:
    """The values of a similarity file: its measures (baselines apart) and, per layer in
    network order, each measure's value, its shuffled baseline and the two dimensions
    compared; None for a file without /layers."""
    layers = f.get("layers")
    if not isinstance(layers, h5py.Group):
        return None
    rows, measures = [], []
    for name in layers:
        row: dict[str, Any] = {"layer": name, "values": {}, "baselines": {}, "dims": {}}
        for label, g in layers[name].items():
            method = label.removesuffix(SHUFFLED)
            if label != method:
                row["baselines"][method] = _value(g.attrs.get("value", math.nan))
                continue
            measures += [method] if method not in measures else []
            row["values"][method] = _value(g.attrs.get("value", math.nan))
            row["dims"][method] = [int(g.attrs.get(k, 0)) for k in ("dim_a", "dim_b")]
        row["layer_index"] = int(next(iter(layers[name].values())).attrs.get("layer_index", 0))
        rows.append(row)
    rows.sort(key=lambda r: r["layer_index"])
    return {"measures": _configured_order(f, measures), "layers": rows}


def _configured_order(f: h5py.File, measures: list[str]) -> list[str]:
    """`measures` in the order the file's provenance lists them (the configured one)."""
    try:
        listed = json.loads(f.attrs.get("methods", "[]"))
    except (TypeError, ValueError):
        listed = []
    return sorted(measures, key=lambda m: listed.index(m) if m in listed else len(listed))


def render_values(values: Mapping[str, Any], title: str) -> list[str]:
    """A layer x measure table of values, each with its shuffled baseline in brackets."""

    def cell(v: float | None, base: float | None) -> str:
        text = "-" if v is None else f"{v:.4f}"
        return text if base is None else f"{text} ({base:.3f})"

    header = ("layer", *values["measures"])
    rows = [
        (r["layer"], *(cell(r["values"].get(m), r["baselines"].get(m)) for m in header[1:]))
        for r in values["layers"]
    ]
    return [title, *table(header, rows, left=1)]


def similarity_layer(f: h5py.File, layer: str) -> dict[str, Any]:
    """Every measure (baselines included) of one layer of a similarity file: value, the
    dimensions compared and how many coefficients are stored."""
    out = {}
    for label, g in f["layers"][layer].items():
        coefficients = g.get("coefficients")
        out[label] = {
            "value": _value(g.attrs.get("value", math.nan)),
            "dim_a": int(g.attrs.get("dim_a", 0)),
            "dim_b": int(g.attrs.get("dim_b", 0)),
            "coefficients": int(coefficients.size) if coefficients is not None else 0,
        }
    return out


def render_layer(report: Mapping[str, Any]) -> str:
    """The text of `closerlook inspect FILE LAYER` for a similarity file."""
    header = ("measure", "value", "dim a", "dim b", "coefficients")
    rows = [
        (m, "-" if v["value"] is None else f"{v['value']:.4f}", str(v["dim_a"]),
         str(v["dim_b"]), str(v["coefficients"]))
        for m, v in report["measures"].items()
    ]  # fmt: skip
    head = f"{report['file']}: closerlook {report['kind']} file, layer {report['layer']}"
    return "\n".join([head, *table(header, rows, left=1)])
