"""The activation file (kind "activations"): its layout and its reader.

Layout::

    /                     attrs: kind="activations", provenance (run, epoch, source
                          checkpoint path and SHA-256, config hash, versions, time, probe
                          settings, storage dtype and compression)
    /probe/indices        (N,) int64 rows of the probed split
    /probe/labels         (N,) int64
    /layers/<name>        (N, C, H, W) conv maps or (N, F) features, in network order
                          (attribute `layer_order` on /layers lists them)

The root attributes carry a SHA-256 of their own (:data:`ATTRIBUTES_DIGEST`): HDF5 1.10's
format (closerlook.hdf5_format) checksums object headers and chunk indexes, but not
attributes kept in a heap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from closerlook.provenance import REBUILD

KIND = "activations"


class ActivationFileError(RuntimeError):
    """An activation file that is missing, unreadable, or not written by closerlook."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))  # always one line


@dataclass(frozen=True)
class LayerInfo:
    """One stored layer: name, shape (N, ...), element type and bytes on disk."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    stored_bytes: int


@dataclass(frozen=True)
class Probe:
    """The probe set of a file: rows of the split and their labels."""

    indices: np.ndarray
    labels: np.ndarray
    split: str | None
    seed: int | None

    def __len__(self) -> int:
        return len(self.indices)


def attribute_value(value: Any) -> Any:
    """An HDF5 attribute as a plain Python value (NumPy scalars and arrays unwrapped)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [attribute_value(v) for v in value.tolist()]
    return value


ATTRIBUTES_DIGEST = "attributes_sha256"


def attributes_digest(attrs: Any) -> str:
    """SHA-256 of the root attributes (all but the digest itself) as sorted JSON."""
    plain = {k: attribute_value(v) for k, v in attrs.items() if k != ATTRIBUTES_DIGEST}
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


class ActivationFile:
    """Read access to one activation file.

    >>> with ActivationFile(path) as f:                  # doctest: +SKIP
    ...     [(l.name, l.shape) for l in f.layers()]
    ...     conv3 = f.read("conv3", rows=slice(0, 100))
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise ActivationFileError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise ActivationFileError(f"{self.path}: is a directory, not a file")
        try:
            self._f = h5py.File(self.path, "r")
        except OSError as exc:
            reason = " ".join(str(exc).split())
            raise ActivationFileError(
                f"{self.path}: not a readable HDF5 file ({reason}); {REBUILD}"
            ) from exc
        try:
            self._check()
        except ActivationFileError:
            self._f.close()
            raise
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            self._f.close()
            reason = " ".join(str(exc).split())
            raise ActivationFileError(
                f"{self.path}: corrupt activation file ({reason}); {REBUILD}"
            ) from exc

    def _check(self) -> None:
        kind = attribute_value(self._f.attrs.get("kind"))
        if kind != KIND:
            what = "no root attribute 'kind'" if kind is None else f"kind is {kind!r}"
            raise ActivationFileError(
                f"{self.path}: not a closerlook activation file ({what}); {REBUILD}"
            )
        recorded = attribute_value(self._f.attrs.get(ATTRIBUTES_DIGEST))
        if recorded is not None and recorded != attributes_digest(self._f.attrs):
            raise ActivationFileError(
                f"{self.path}: the root attributes (provenance) are corrupt; {REBUILD}"
            )
        for required in ("layers", "probe/indices", "probe/labels"):
            if required not in self._f:
                raise ActivationFileError(
                    f"{self.path}: activation file lacks /{required}; {REBUILD}"
                )
        if "layer_order" not in self._f["layers"].attrs:
            raise ActivationFileError(
                f"{self.path}: /layers lacks the attribute layer_order; {REBUILD}"
            )
        absent = [n for n in self.layer_names() if n not in self._f["layers"]]
        if absent:
            raise ActivationFileError(
                f"{self.path}: layers {absent} are listed but not stored; {REBUILD}"
            )

    def __enter__(self) -> ActivationFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def layer_names(self) -> list[str]:
        """Registered layers in network order."""
        return list(json.loads(self._f["layers"].attrs["layer_order"]))

    def layers(self) -> list[LayerInfo]:
        """Name, shape, dtype and bytes on disk of every layer, in network order."""
        group = self._f["layers"]
        return [
            LayerInfo(n, tuple(group[n].shape), str(group[n].dtype), group[n].id.get_storage_size())
            for n in self.layer_names()
        ]

    def dataset(self, layer: str) -> h5py.Dataset:
        """The HDF5 dataset of `layer`, for chunk-wise reading."""
        if layer not in self._f["layers"]:
            raise ActivationFileError(
                f"{self.path}: no layer {layer!r}; layers: {', '.join(self.layer_names())}"
            )
        return self._f["layers"][layer]

    def read(
        self, layer: str, rows: slice | Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """Activations of `layer` as an array (N, ...): all rows, a slice, or the given rows
        (any order, repeats allowed, or a boolean mask), in the order asked for."""
        with self._reading(f"layer {layer!r}"):
            return self._read(layer, rows)

    def row_batches(
        self, layer: str, batch_size: int, order: np.ndarray | None = None
    ) -> Iterator[np.ndarray]:
        """`layer` in batches of `batch_size` rows (the rows in `order`, default all in
        file order), each as it is stored: memory holds one batch, never the layer."""
        order = np.arange(len(self.dataset(layer))) if order is None else np.asarray(order)
        for start in range(0, len(order), batch_size):
            yield self.read(layer, order[start : start + batch_size])

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """Turn a failed checksum or a damaged chunk while reading `what` into one line."""
        try:
            yield
        except ActivationFileError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            reason = " ".join(str(exc).split())
            raise ActivationFileError(
                f"{self.path}: {what} is corrupt ({reason}); {REBUILD}"
            ) from exc

    def _read(self, layer: str, rows: slice | Sequence[int] | np.ndarray | None) -> np.ndarray:
        ds = self.dataset(layer)
        if rows is None:
            return ds[()]
        if isinstance(rows, slice):
            return ds[rows]
        wanted = np.asarray(rows)
        if wanted.dtype == bool:
            if wanted.shape != (len(ds),):
                raise ActivationFileError(
                    f"{self.path}: boolean row mask of shape {wanted.shape}, need ({len(ds)},)"
                )
            wanted = np.flatnonzero(wanted)
        wanted = wanted.astype(np.int64).reshape(-1)
        if wanted.size and (wanted.min() < -len(ds) or wanted.max() >= len(ds)):
            raise ActivationFileError(f"{self.path}: rows out of range for {len(ds)} rows")
        wanted = np.where(wanted < 0, wanted + len(ds), wanted)
        # HDF5 selects increasing, distinct rows; read those once and reorder in memory
        unique, inverse = np.unique(wanted, return_inverse=True)
        return ds[unique][inverse]

    @property
    def probe(self) -> Probe:
        attrs = self.provenance
        return Probe(
            self.probe_indices,
            self.probe_labels,
            attrs.get("probe_split"),
            attrs.get("probe_seed"),
        )

    @property
    def probe_indices(self) -> np.ndarray:
        with self._reading("/probe/indices"):
            return self._f["probe/indices"][()]

    @property
    def probe_labels(self) -> np.ndarray:
        with self._reading("/probe/labels"):
            return self._f["probe/labels"][()]

    @property
    def provenance(self) -> dict[str, Any]:
        """The root attributes: kind, versions, run, epoch, source checkpoint and SHA-256…"""
        with self._reading("the root attributes"):
            return {key: attribute_value(value) for key, value in self._f.attrs.items()}


def open_activations(path: str | Path) -> ActivationFile:
    """Open an activation file for reading (raises :class:`ActivationFileError`)."""
    return ActivationFile(path)
