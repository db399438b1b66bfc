"""Looking inside the torch files the pipeline writes (`closerlook inspect FILE.pt`):
checkpoints and fitted curves (their bends), read with `weights_only=True` so that nothing
in the file runs (closerlook.provenance.read_torch).

The report: what the file is, whether its seal verifies, the run, replicate and point, the
schedule position, the provenance, and the network's layers with their parameter counts
(BatchNorm's running statistics are buffers, not parameters, and are not counted).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from closerlook.disk import size
from closerlook.inspection import InspectError, jsonable, table
from closerlook.provenance import IntegrityError, read_torch, seal_status

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def _layer_of(name: str) -> str:
    """The layer a parameter belongs to: "stages.conv1.0.weight" -> "conv1"; of a user's
    network (closerlook.usermodels), its top-level module: "net.layer1.0.conv1.weight" ->
    "layer1"."""
    parts = name.split(".")
    return parts[1] if parts[0] in ("stages", "net") and len(parts) > 2 else parts[0]


def layer_parameters(names: list[str], shapes: list[list[int]]) -> list[dict[str, Any]]:
    """Parameter count per layer, in the order the layers first appear (network order)."""
    counts: dict[str, int] = {}
    for name, shape in zip(names, shapes, strict=True):
        if not name.endswith(BUFFERS):
            layer = _layer_of(name)
            counts[layer] = counts.get(layer, 0) + math.prod(shape)
    return [{"name": k, "parameters": v} for k, v in counts.items()]


def _plain(value: Any) -> Any:
    """A value of the file as JSON: tensors as their shape."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"tensor{tuple(value.shape)}"
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return jsonable(value)


def describe_torch(path: str | Path) -> dict[str, Any]:
    """The report of a checkpoint or a curve's bends file (module docstring)."""
    path = Path(path)
    try:
        obj = read_torch(path)
    except IntegrityError as exc:
        raise InspectError(str(exc)) from None
    prov = obj.get("provenance", {})
    if obj.get("kind") == "curve":
        kind = "curve bends"
        names, shapes = list(obj.get("parameter_names", [])), list(obj.get("parameter_shapes", []))
    else:
        kind = "checkpoint"
        model = obj.get("model", {})
        names, shapes = list(model), [list(t.shape) for t in model.values()]
    if not names:
        raise InspectError(f"{path}: a torch file, but neither a checkpoint nor a curve's bends")
    return {
        "file": str(path),
        "kind": kind,
        "size_bytes": path.stat().st_size,
        "seal": seal_status(obj),
        "run": prov.get("run"),
        "replicate": prov.get("replicate"),
        "point": _plain(obj.get("point", obj.get("epoch"))),
        "diverged": bool(obj.get("diverged", False)),
        "schedule": _plain(obj.get("schedule")),
        "curve": {k: _plain(obj.get(k)) for k in ("curve_kind", "n_bends") if k in obj},
        "model_spec": _plain(obj.get("model_spec")),
        "provenance": _plain(prov),
        "layers": layer_parameters(names, shapes),
    }


def render_torch(report: dict[str, Any]) -> str:
    """The text of `closerlook inspect FILE.pt`."""
    r = report
    lines = [f"{r['file']}: closerlook {r['kind']}, {size(r['size_bytes'])}, seal {r['seal']}"]
    what = [("run", r["run"]), ("replicate", r["replicate"]), ("point", r["point"])]
    what += [("diverged", r["diverged"]), ("schedule", r["schedule"])]
    what += [(k, v) for k, v in r["curve"].items()] + [("model", r["model_spec"])]
    lines += [f"  {k:<9}  {v}" for k, v in what if v is not None]
    lines.append("provenance:")
    width = max((len(k) for k in r["provenance"]), default=0)
    lines += [f"  {k:<{width}}  {v}" for k, v in r["provenance"].items()]
    lines.append("layers, in network order:")
    rows = [(d["name"], f"{d['parameters']:,}") for d in r["layers"]]
    total = sum(d["parameters"] for d in r["layers"])
    lines += table(("name", "parameters"), [*rows, ("total", f"{total:,}")])
    return "\n".join(lines)
