"""Activations of every registered layer on a fixed probe set, in HDF5.

Layout of an activation file::

    /                     attrs: kind="activations", provenance (run, epoch, source
                          checkpoint path and SHA-256, config hash, versions, time)
    /probe/indices        (N,) int64 rows of the probed split
    /probe/labels         (N,) int64
    /layers/<name>        (N, C, H, W) conv maps or (N, F) features, in network order
                          (attribute `layer_order` on /layers lists them)

Layers are written batch by batch (memory holds one batch of activations) into datasets
chunked along the rows, so one layer reads without touching the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import nn

from closerlook.models import LayeredNet
from closerlook.provenance import atomic_path, write_attrs

KIND = "activations"


class ActivationFileError(RuntimeError):
    """An activation file that is missing, unreadable, or not written by closerlook."""


@torch.no_grad()
def capture_batches(
    model: LayeredNet, images: torch.Tensor, batch_size: int
) -> Iterator[dict[str, torch.Tensor]]:
    """Yield, per batch of `images`, the output of every registered layer (eval mode)."""
    model.eval()
    names = model.layer_names()
    captured: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def save(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            captured[name] = output.detach().float().cpu()

        return save

    handles = [model.layer(n).register_forward_hook(hook(n)) for n in names]
    try:
        for i in range(0, len(images), batch_size):
            captured.clear()
            model(images[i : i + batch_size])
            yield {n: captured[n] for n in names}
    finally:
        for h in handles:
            h.remove()


def dump(
    model: LayeredNet,
    images: torch.Tensor,
    labels: np.ndarray,
    indices: np.ndarray,
    path: str | Path,
    provenance: dict[str, Any],
    batch_size: int = 256,
    dtype: str = "float32",
) -> Path:
    """Write the activations of `model` on `images` to `path` (atomically)."""
    path = Path(path)
    n = len(images)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["kind"] = KIND
        write_attrs(f, provenance)
        probe = f.create_group("probe")
        probe["indices"] = np.asarray(indices, dtype=np.int64)
        probe["labels"] = np.asarray(labels, dtype=np.int64)
        group = f.create_group("layers", track_order=True)
        group.attrs["layer_order"] = json.dumps(model.layer_names())
        row = 0
        for batch in capture_batches(model, images, batch_size):
            for name, act in batch.items():
                if name not in group:
                    group.create_dataset(
                        name,
                        shape=(n, *act.shape[1:]),
                        dtype=dtype,
                        chunks=(min(batch_size, n), *act.shape[1:]),
                    )
                group[name][row : row + len(act)] = act.numpy().astype(dtype)
            row += len(next(iter(batch.values())))
    return path


def dump_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    data_config: dict[str, Any],
    probe: dict[str, Any],
    epoch: int,
    device: str = "auto",
) -> Path:
    """Dump the activations of the network saved in `checkpoint` on the configured probe set,
    recording the checkpoint's path and SHA-256 in the file's provenance."""
    from closerlook import data, train
    from closerlook.device import resolve as devices_resolve
    from closerlook.provenance import record, sha256

    dev = devices_resolve(device)
    ckpt = train.load_checkpoint(checkpoint)
    model = train.model_from_checkpoint(ckpt).to(dev)
    dataset = data.load(data_config)
    split = dataset.split(probe["split"])
    rows = data.probe_indices(len(split), probe["size"], probe["seed"])
    provenance = record(
        run=ckpt["provenance"]["run"],
        epoch=epoch,
        config_hash=ckpt["provenance"]["config_hash"],
        diverged=bool(ckpt["diverged"]),
        source_checkpoint=str(checkpoint),
        source_sha256=sha256(checkpoint),
        probe_split=probe["split"],
        probe_seed=probe["seed"],
        dataset=dataset.name,
    )
    images = split.images[torch.from_numpy(rows)].to(dev)
    labels = split.labels[torch.from_numpy(rows)].numpy()
    return dump(model, images, labels, rows, out, provenance, probe["batch_size"], probe["dtype"])


# ------------------------------------------------------------------------- reading
@dataclass
class LayerInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str


class ActivationFile:
    """Read access to one activation file: `layers()`, `read(layer)`, `provenance`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._f = h5py.File(self.path, "r")
        except FileNotFoundError as exc:
            raise ActivationFileError(f"{self.path}: no such file") from exc
        except OSError as exc:
            raise ActivationFileError(f"{self.path}: not a readable HDF5 file ({exc})") from exc
        if self._f.attrs.get("kind") != KIND or "layers" not in self._f:
            self._f.close()
            raise ActivationFileError(f"{self.path}: not a closerlook activation file")

    def __enter__(self) -> ActivationFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def layer_names(self) -> list[str]:
        return json.loads(self._f["layers"].attrs["layer_order"])

    def layers(self) -> list[LayerInfo]:
        g = self._f["layers"]
        return [LayerInfo(n, tuple(g[n].shape), str(g[n].dtype)) for n in self.layer_names()]

    def read(self, layer: str, rows: Sequence[int] | slice | None = None) -> np.ndarray:
        if layer not in self._f["layers"]:
            raise ActivationFileError(
                f"{self.path}: no layer {layer!r}; layers: {self.layer_names()}"
            )
        ds = self._f["layers"][layer]
        return ds[()] if rows is None else ds[rows]

    @property
    def probe_indices(self) -> np.ndarray:
        return self._f["probe/indices"][()]

    @property
    def probe_labels(self) -> np.ndarray:
        return self._f["probe/labels"][()]

    @property
    def provenance(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self._f.attrs.items():
            if isinstance(value, np.generic):
                value = value.item()
            out[key] = value
        return out


def open_activations(path: str | Path) -> ActivationFile:
    return ActivationFile(path)
