"""Looking inside the HDF5 files the pipeline writes (`closerlook inspect`).

Every closerlook HDF5 file says what it is in its root attribute `kind` ("activations",
"similarity", "curve", ...) and carries provenance attributes (docs/architecture.md,
artifacts). Activation files are shown as a table of layers in network order; similarity
files as their values per layer and measure; curve files with their barriers; every file
with a table of its datasets (a similarity file's outside /layers). Statistics are computed
block by block, so inspecting a layer larger than memory is fine. CSV tables:
closerlook.inspect_tables.

Anything that is not such a file — missing, a folder, a text file, a truncated or corrupt
HDF5 file, an HDF5 file closerlook did not write — raises :class:`InspectError` with a
one-line message naming the file and the problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from closerlook.activation_file import KIND as ACTIVATIONS
from closerlook.activation_file import ActivationFile, ActivationFileError, attribute_value
from closerlook.disk import size
from closerlook.inspect_views import (
    InspectError,
    curve_barriers,
    existing_file,
    render_barriers,
    render_layer,
    render_values,
    similarity_layer,
    similarity_values,
    table,
)

BLOCK_BYTES = 64 << 20  # rows read at a time when computing statistics
READ_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ------------------------------------------------------------------------- statistics
@dataclass
class Stats:
    """Summary of a numeric array: finite values' count, mean, std, range; zeros; others."""

    count: int = 0
    mean: float = math.nan
    std: float = math.nan
    min: float = math.nan
    max: float = math.nan
    zero_fraction: float = math.nan
    nonfinite: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


class _Moments:
    """Running count, mean and sum of squared deviations, merged block by block
    (Chan, Golub & LeVeque 1979): M2 = M2_a + M2_b + δ² n_a n_b / n."""

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.zeros, self.nonfinite = 0, 0
        self.lo, self.hi = math.inf, -math.inf

    def add(self, block: np.ndarray) -> None:
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        finite = np.isfinite(x)
        self.nonfinite += int(x.size - finite.sum())
        x = x[finite]
        if x.size == 0:
            return
        self.zeros += int(np.count_nonzero(x == 0))
        mean_b = float(x.mean())
        m2_b = float(((x - mean_b) ** 2).sum())
        n = self.n + x.size
        delta = mean_b - self.mean
        self.m2 += m2_b + delta * delta * self.n * x.size / n
        self.mean += delta * x.size / n
        self.n = n
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))

    def stats(self) -> Stats:
        if self.n == 0:
            return Stats(nonfinite=self.nonfinite)
        return Stats(
            count=self.n,
            mean=self.mean,
            std=math.sqrt(self.m2 / self.n),
            min=self.lo,
            max=self.hi,
            zero_fraction=self.zeros / self.n,
            nonfinite=self.nonfinite,
        )


def _is_numeric(ds: h5py.Dataset) -> bool:
    return ds.dtype.kind in "biuf"


def _blocks(ds: h5py.Dataset) -> Iterator[np.ndarray]:
    """The dataset in blocks of whole rows of about BLOCK_BYTES."""
    if ds.ndim == 0:
        yield np.asarray(ds[()])
        return
    row_bytes = max(1, int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize)
    step = max(1, BLOCK_BYTES // row_bytes)
    for start in range(0, ds.shape[0], step):
        yield ds[start : start + step]


def statistics(ds: h5py.Dataset) -> Stats | None:
    """Mean, std (population), min, max, fraction of zeros of a numeric dataset; None if
    it is not numeric (strings, compound types)."""
    if not _is_numeric(ds):
        return None
    moments = _Moments()
    for block in _blocks(ds):
        moments.add(block)
    return moments.stats()


def dead_units(ds: h5py.Dataset) -> tuple[int, int] | None:
    """(units zero on every probe image, units) for an (N, units, ...) activation: a unit
    is a channel of a conv map or a feature of a fully-connected layer."""
    if not _is_numeric(ds) or ds.ndim < 2:
        return None
    alive = np.zeros(ds.shape[1], dtype=bool)
    for block in _blocks(ds):
        alive |= (block != 0).reshape(block.shape[0], block.shape[1], -1).any(axis=(0, 2))
    return int((~alive).sum()), int(ds.shape[1])


# ------------------------------------------------------------------------- files
def open_artifact(path: str | Path) -> h5py.File:
    """Open a closerlook HDF5 file for reading, or raise a one-line :class:`InspectError`."""
    path = existing_file(path)
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise InspectError(f"{path}: cannot read ({_one_line(exc)})") from exc
    if not is_hdf5:
        raise InspectError(f"{path}: not an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InspectError(f"{path}: truncated or corrupt HDF5 file ({_one_line(exc)})") from exc
    try:
        kind = attribute_value(f.attrs.get("kind"))
        version = f.attrs.get("closerlook_version")
    except READ_ERRORS as exc:
        f.close()
        raise InspectError(f"{path}: corrupt HDF5 file ({_one_line(exc)})") from exc
    if not isinstance(kind, str) or version is None:
        f.close()
        missing = "kind" if not isinstance(kind, str) else "closerlook_version"
        raise InspectError(
            f"{path}: an HDF5 file that closerlook did not write (no root attribute {missing!r})"
        )
    return f


def _probe(f: h5py.File) -> dict[str, Any] | None:
    if "probe/indices" not in f:
        return None
    indices = f["probe/indices"][()]
    out: dict[str, Any] = {
        "size": int(len(indices)),
        "split": attribute_value(f.attrs.get("probe_split")),
        "seed": attribute_value(f.attrs.get("probe_seed")),
        "first_indices": [int(i) for i in indices[:8]],
    }
    if "probe/labels" in f:
        classes, counts = np.unique(f["probe/labels"][()], return_counts=True)
        out["label_counts"] = {str(int(c)): int(k) for c, k in zip(classes, counts, strict=True)}
    return out


def _dataset_row(name: str, ds: h5py.Dataset, with_stats: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": name,
        "shape": list(ds.shape),
        "dtype": str(ds.dtype),
        "stored_bytes": int(ds.id.get_storage_size()),
    }
    if with_stats:
        stats = statistics(ds)
        row.update(stats.as_json() if stats else {})
    return row


def _datasets(f: h5py.File) -> list[tuple[str, h5py.Dataset]]:
    found: list[tuple[str, h5py.Dataset]] = []
    f.visititems(
        lambda name, obj: found.append((name, obj)) if isinstance(obj, h5py.Dataset) else None
    )
    return found


def describe(path: str | Path, with_stats: bool = True) -> dict[str, Any]:
    """Everything `closerlook inspect FILE` shows, as a JSON-ready mapping: file, kind,
    size, provenance, probe set, and a table of layers (activations) or datasets."""
    path = Path(path)
    f = open_artifact(path)
    try:
        kind = attribute_value(f.attrs["kind"])
        report: dict[str, Any] = {
            "file": str(path),
            "kind": kind,
            "size_bytes": path.stat().st_size,
            "provenance": {k: jsonable(attribute_value(v)) for k, v in f.attrs.items()},
            "probe": _probe(f),
        }
        if kind == ACTIVATIONS:
            f.close()
            with _activation_file(path) as act:
                names = act.layer_names()
                report["table"] = "layers"
                report["datasets"] = [
                    {**_dataset_row(n, act.dataset(n), with_stats), "layer_index": i}
                    for i, n in enumerate(names)
                ]
        else:
            report.update(_views(f, kind, with_stats))
        return report
    except READ_ERRORS as exc:
        raise InspectError(f"{path}: corrupt HDF5 file ({_one_line(exc)})") from exc
    finally:
        f.close()


def _views(f: h5py.File, kind: str, with_stats: bool) -> dict[str, Any]:
    """The table of a file that is not an activation file: its datasets, or for a
    similarity file its values per layer (and the datasets outside /layers); a curve
    file's barriers besides."""
    out: dict[str, Any] = {"table": "datasets"}
    datasets = _datasets(f)
    values = similarity_values(f) if kind == "similarity" else None
    if values is not None:
        out.update(table="values", values=values)
        datasets = [(n, ds) for n, ds in datasets if not n.startswith("layers/")]
    barriers = curve_barriers(f) if kind == "curve" else None
    if barriers is not None:
        out["barriers"] = barriers
    out["datasets"] = [_dataset_row(n, ds, with_stats) for n, ds in datasets]
    return out


def describe_dataset(path: str | Path, name: str) -> dict[str, Any]:
    """What `closerlook inspect FILE LAYER` shows: one layer (activation files) or one
    dataset (any kind, by its path in the file) with statistics and storage layout."""
    path = Path(path)
    f = open_artifact(path)
    try:
        kind = attribute_value(f.attrs["kind"])
        report: dict[str, Any] = {"file": str(path), "kind": kind}
        by_layer = kind in (ACTIVATIONS, "similarity") and isinstance(f.get("layers"), h5py.Group)
        if kind == "similarity" and by_layer and name in f["layers"]:
            return {**report, "layer": name, "measures": similarity_layer(f, name)}
        if kind == ACTIVATIONS and name in f.get("layers", {}):
            ds = f["layers"][name]
        elif name.strip("/") in f and isinstance(f[name.strip("/")], h5py.Dataset):
            ds = f[name.strip("/")]
        else:
            names = list(f["layers"]) if by_layer else [n for n, _ in _datasets(f)]
            what = "layer" if by_layer else "dataset"
            raise InspectError(f"no {what} {name!r}; {what}s: {', '.join(names)}")
        row = _dataset_row(name, ds, with_stats=True)
        row["chunks"] = list(ds.chunks) if ds.chunks else None
        row["compression"] = ds.compression
        if kind == ACTIVATIONS:
            dead = dead_units(ds)
            if dead:
                row["dead_units"], row["units"] = dead
        report["dataset"] = row
        return report
    except InspectError as exc:
        raise InspectError(f"{path}: {exc}") from None
    except READ_ERRORS as exc:
        raise InspectError(f"{path}: corrupt HDF5 file ({_one_line(exc)})") from exc
    finally:
        f.close()


def _activation_file(path: Path) -> ActivationFile:
    try:
        return ActivationFile(path)
    except ActivationFileError as exc:
        raise InspectError(str(exc)) from exc


def jsonable(value: Any) -> Any:
    """A value as JSON: non-finite floats as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


# ------------------------------------------------------------------------- text
def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render(report: dict[str, Any]) -> str:
    """The text of `closerlook inspect FILE`."""
    lines = [f"{report['file']}: closerlook {report['kind']} file, {size(report['size_bytes'])}"]
    lines.append("provenance:")
    width = max((len(k) for k in report["provenance"]), default=0)
    lines += [f"  {k:<{width}}  {v}" for k, v in report["provenance"].items()]
    probe = report["probe"]
    if probe:
        where = f" of the {probe['split']} split" if probe.get("split") else ""
        seed = f" (seed {probe['seed']})" if probe.get("seed") is not None else ""
        lines.append(f"probe set: {probe['size']} images{where}{seed}")
        lines.append(f"  first indices: {' '.join(map(str, probe['first_indices']))}")
        if "label_counts" in probe:
            counts = " ".join(f"{c}:{k}" for c, k in probe["label_counts"].items())
            lines.append(f"  labels (class:count): {counts}")
    if "barriers" in report:
        lines += render_barriers(report["barriers"])
    if report["table"] == "values":
        title = "values per layer (shuffled baseline in brackets), in network order:"
        lines += render_values(report["values"], title)
        if not report["datasets"]:
            return "\n".join(lines)
    title = {"layers": "layers, in network order", "values": "other datasets"}
    lines.append(f"{title.get(report['table'], 'datasets')}:")
    header = ("name", "shape", "dtype", "on disk", "mean", "std", "zeros")
    rows = [
        (
            d["name"],
            "(" + ", ".join(map(str, d["shape"])) + ")",
            d["dtype"],
            size(d["stored_bytes"]),
            _num(d.get("mean")),
            _num(d.get("std")),
            _pct(d.get("zero_fraction")),
        )
        for d in report["datasets"]
    ]
    lines += table(header, rows)
    return "\n".join(lines)


def render_dataset(report: dict[str, Any]) -> str:
    """The text of `closerlook inspect FILE LAYER`."""
    if "measures" in report:  # a layer of a similarity file
        return render_layer(report)
    d = report["dataset"]
    what = "layer" if report["kind"] == ACTIVATIONS else "dataset"
    fields = [
        ("shape", "(" + ", ".join(map(str, d["shape"])) + ")"),
        ("dtype", d["dtype"]),
        (
            "on disk",
            f"{size(d['stored_bytes'])} (chunks {d['chunks']}, "
            f"compression {d['compression'] or 'none'})",
        ),
    ]
    if "count" in d:
        fields += [
            ("values", f"{d['count']} finite, {d['nonfinite']} not finite"),
            ("mean", _num(d["mean"])),
            ("std", _num(d["std"])),
            ("min", _num(d["min"])),
            ("max", _num(d["max"])),
            ("zeros", _pct(d["zero_fraction"])),
        ]
    if "dead_units" in d:
        fields.append(("dead units", f"{d['dead_units']} of {d['units']} zero on every image"))
    lines = [f"{report['file']}: closerlook {report['kind']} file, {what} {d['name']}"]
    lines += [f"  {k:<10}  {v}" for k, v in fields]
    return "\n".join(lines)
