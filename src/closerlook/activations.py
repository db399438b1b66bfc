"""Activations of every registered layer on a fixed probe set, in HDF5.

The file (its layout and its reader: closerlook.activation_file) is written by :func:`dump`.

Capture uses forward hooks on the layers of :meth:`LayeredNet.layer_names`: each hook hands
its layer's output for the current batch straight to the file, so memory holds one batch
of activations, never the whole probe set. Datasets are chunked along the rows (whole
images per chunk, about :data:`CHUNK_BYTES` each), so one layer — or a few rows of it —
reads without touching the others. Every chunk carries a Fletcher-32 checksum and the
file's metadata the checksums of HDF5 1.10's format (closerlook.hdf5_format), both checked
on read, so an altered file fails instead of giving wrong numbers. The file is written
under a temporary name and renamed when complete (:func:`closerlook.provenance.atomic_path`).
"""

from __future__ import annotations

import errno
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import h5py
import numpy as np

from closerlook import hdf5_format
from closerlook.activation_file import ATTRIBUTES_DIGEST, KIND, attributes_digest
from closerlook.disk import DiskSpaceError, check_room
from closerlook.logs import Progress
from closerlook.provenance import atomic_path, write_attrs

if TYPE_CHECKING:  # torch loads only for capture, so reading files (and inspect) stays quick
    import torch
    from torch import nn

    from closerlook.models import LayeredNet

DTYPES = ("float32", "float16")
COMPRESSIONS = ("none", "gzip", "lzf")
log = logging.getLogger("closerlook.activations")
CHUNK_BYTES = 1 << 20  # target size of one stored chunk (HDF5 reads whole chunks)


class Images(Protocol):
    """A probe set: a tensor (N, C, H, W), or anything with a length that slices like one."""

    def __len__(self) -> int: ...

    def __getitem__(self, rows: slice) -> torch.Tensor: ...


@dataclass(frozen=True)
class Storage:
    """How activations are stored: element type and compression filter."""

    dtype: str = "float32"
    compression: str = "none"
    compression_level: int = 1  # gzip only, 1 (fast) .. 9 (small)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, not {self.dtype!r}")
        if self.compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, not {self.compression!r}")

    @classmethod
    def from_config(cls, probe: dict[str, Any]) -> Storage:
        """The storage a config's `probe` section asks for."""
        return cls(
            probe.get("dtype", "float32"),
            probe.get("compression", "none"),
            probe.get("compression_level", 1),
        )

    def filters(self) -> dict[str, Any]:
        """h5py dataset keywords; byte-shuffling first makes floats compress far better."""
        if self.compression == "none":
            return {}
        opts = self.compression_level if self.compression == "gzip" else None
        return {"compression": self.compression, "compression_opts": opts, "shuffle": True}


def chunk_rows(row_shape: Sequence[int], itemsize: int, batch_size: int) -> int:
    """Rows per chunk: whole images, about CHUNK_BYTES, at most one batch, and where
    possible a divisor of the batch size, so that every batch writes whole chunks."""
    row_bytes = max(1, int(np.prod(row_shape, dtype=np.int64)) * itemsize)
    rows = max(1, min(batch_size, CHUNK_BYTES // row_bytes))
    divisor = max(d for d in range(1, rows + 1) if batch_size % d == 0)
    return divisor if 2 * divisor >= rows else rows


# ------------------------------------------------------------------------- capture
def capture(
    model: LayeredNet,
    images: Images,
    batch_size: int,
    sink: Callable[[str, int, torch.Tensor], None],
    on_batch: Callable[[int], None] | None = None,
) -> None:
    """Run `model` (eval mode, no gradients) over `images` batch by batch and call
    `sink(layer, first_row, output)` for every registered layer of every batch, then
    `on_batch(rows done)`.

    The sink runs inside the forward hook, before later layers run, so it sees each output
    exactly as the layer produced it and may keep nothing once it returns.
    """
    import torch

    from closerlook.usermodels import first_tensor

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    row = 0

    def hook(name: str) -> Callable[[nn.Module, Any, torch.Tensor], None]:
        def call(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            sink(name, row, first_tensor(output).detach())

        return call

    handles = [model.layer(n).register_forward_hook(hook(n)) for n in model.layer_names()]
    try:
        with torch.no_grad():
            for row in range(0, len(images), batch_size):  # noqa: B007 - the hooks read `row`
                model(images[row : row + batch_size].to(device))
                if on_batch is not None:
                    on_batch(min(row + batch_size, len(images)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def capture_batches(
    model: LayeredNet, images: Images, batch_size: int
) -> Iterator[dict[str, torch.Tensor]]:
    """Per batch of `images`, the output of every registered layer (float32, CPU), in
    network order. For in-memory use on small probe sets; files use :func:`dump`."""
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str, _row: int, output: torch.Tensor) -> None:
        outputs[name] = output.float().cpu().clone()

    for start in range(0, len(images), batch_size):
        outputs.clear()
        capture(model, images[start : start + batch_size], batch_size, keep)
        yield dict(outputs)


def write_header(
    f: h5py.File, attrs: dict[str, Any], indices: np.ndarray, labels: np.ndarray
) -> None:
    """The root attributes (with their digest) and the probe group of an activation file."""
    f.attrs["kind"] = KIND
    write_attrs(f, attrs)
    probe = f.create_group("probe")
    for name, values in (("indices", indices), ("labels", labels)):
        probe.create_dataset(name, data=np.asarray(values, dtype=np.int64), fletcher32=True)
    f.attrs[ATTRIBUTES_DIGEST] = attributes_digest(f.attrs)


def _out_of_room(exc: OSError) -> bool:
    """Whether a failed write ran out of room (HDF5 reports the errno in its message)."""
    text = str(exc)
    return exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) or any(
        s in text for s in ("errno = 28", "errno = 27", "errno = 122", "No space", "too large")
    )


def expected_bytes(model: LayeredNet, images: Images, itemsize: int) -> int:
    """The size of the layers' datasets of an activation file, uncompressed: the probe size
    times every registered layer's values per image (one image's forward pass) times the
    stored dtype's size; compression only makes the file smaller."""
    per_image: dict[str, int] = {}

    def count(name: str, _row: int, output: torch.Tensor) -> None:
        per_image[name] = output[0].numel()

    capture(model, images[0:1], 1, count)
    return len(images) * sum(per_image.values()) * itemsize


def _layer_writer(
    group: h5py.Group, n: int, storage: Storage, batch_size: int
) -> Callable[[str, int, torch.Tensor], None]:
    """The capture sink that writes each layer's batch into its dataset of `group`, made on
    the layer's first batch (`layer_dataset`). A layer whose values leave float16's range
    (|v| > 65504, which float16 would store as infinite) is kept in float32 instead, with
    the rows written so far (`widen`), logged and marked in its `widened_from` attribute."""
    import torch

    def write(name: str, row: int, output: torch.Tensor) -> None:
        stored = group[name].dtype if name in group else np.dtype(storage.dtype)
        # cast on the device (half the transfer for float16), then one copy to the file
        values = output.to(getattr(torch, stored.name)).cpu().contiguous().numpy()
        overflow = stored == np.float16 and not np.isfinite(values).all()
        if overflow and output.isfinite().all():
            logging.getLogger("closerlook").warning(
                "layer %s: values beyond float16's range (|v| > 65504); stored as float32", name
            )
            values = output.to(torch.float32).cpu().contiguous().numpy()
            if name in group:
                widen(group, name, row, storage, batch_size)
        if name not in group:
            layer_dataset(group, name, (n, *values.shape[1:]), values.dtype, storage, batch_size)
        if values.dtype != stored:
            group[name].attrs["widened_from"] = storage.dtype
        group[name][row : row + len(values)] = values

    return write


def layer_dataset(
    group: h5py.Group,
    name: str,
    shape: Sequence[int],
    dtype: np.dtype,
    storage: Storage,
    batch_size: int,
) -> h5py.Dataset:
    """A layer's dataset: chunks of whole images, checksummed, filtered by `storage`."""
    row_shape = tuple(shape[1:])
    return group.create_dataset(
        name,
        shape=tuple(shape),
        dtype=dtype,
        chunks=(chunk_rows(row_shape, np.dtype(dtype).itemsize, batch_size), *row_shape),
        fletcher32=True,
        **storage.filters(),
    )


def widen(group: h5py.Group, name: str, rows: int, storage: Storage, batch_size: int) -> None:
    """Replace layer `name`'s float16 dataset by a float32 one holding its first `rows`
    rows (float16 widens exactly), under the same name."""
    old = group[name]
    wide = layer_dataset(group, f"{name}.float32", old.shape, np.float32, storage, batch_size)
    for start in range(0, rows, batch_size):
        stop = min(start + batch_size, rows)
        wide[start:stop] = old[start:stop]
    del group[name]
    group.move(f"{name}.float32", name)


def dump(
    model: LayeredNet,
    images: Images,
    labels: np.ndarray,
    indices: np.ndarray,
    path: str | Path,
    provenance: dict[str, Any],
    batch_size: int = 256,
    storage: Storage | None = None,
) -> Path:
    """Write the activations of `model` on `images` (probe rows `indices` of their split,
    with `labels`) to `path`, atomically, one batch in memory at a time; refused before it
    starts when the file cannot fit (closerlook.disk)."""
    storage = storage or Storage()
    path = Path(path)
    n = len(images)
    if len(labels) != n or len(indices) != n:
        raise ValueError(f"{n} images but {len(labels)} labels and {len(indices)} indices")
    needed = expected_bytes(model, images, np.dtype(storage.dtype).itemsize) + (1 << 20)
    check_room(path, needed, f"the activations of {n} probe images ({storage.dtype})")
    # HDF5 1.10's format checksums object headers and chunk indexes; attributes kept in a
    # heap are not, so the root attributes carry a digest of their own (ATTRIBUTES_DIGEST)
    try:
        with atomic_path(path) as tmp, hdf5_format.create(tmp) as f:
            attrs = {**provenance, "probe_size": n, "dtype": storage.dtype}
            write_header(f, {**attrs, "compression": storage.compression}, indices, labels)
            group = f.create_group("layers", track_order=True)
            group.attrs["layer_order"] = json.dumps(model.layer_names())
            write = _layer_writer(group, n, storage, min(batch_size, n))
            batches = Progress("activation batch", math.ceil(n / batch_size), log)
            capture(
                model,
                images,
                batch_size,
                write,
                lambda done: batches.step(f"{done} of {n} probe images"),
            )
            missing = [name for name in model.layer_names() if name not in group]
            if missing:
                raise RuntimeError(f"layers {missing} produced no output")
    except OSError as exc:
        if isinstance(exc, DiskSpaceError) or not _out_of_room(exc):
            raise
        raise DiskSpaceError(
            f"{path}: writing failed for lack of room ({exc}); free some space and rerun"
        ) from None
    return path


def dump_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    data_config: dict[str, Any],
    probe: dict[str, Any],
    epoch: int | str,
    device: str = "auto",
) -> Path:
    """Dump the activations of the network saved in `checkpoint` on the configured probe set
    (config `probe`: split, size, seed, batch_size, dtype, compression, compression_level),
    recording the checkpoint's path and SHA-256 in the file's provenance; `epoch` is the
    checkpoint's point (closerlook.points: an epoch, or "stepN")."""
    import torch

    from closerlook import checkpoints, data
    from closerlook.device import resolve
    from closerlook.provenance import record, sha256

    dev = resolve(device)
    ckpt = checkpoints.load_checkpoint(checkpoint)
    model = checkpoints.model_from_checkpoint(ckpt).to(dev)
    dataset = data.load(data_config)
    split = dataset.split(probe["split"])
    rows = data.probe_indices(len(split), probe["size"], probe["seed"])
    provenance = record(
        run=ckpt["provenance"]["run"],
        replicate=int(ckpt["provenance"].get("replicate", 0)),
        epoch=epoch,
        config_hash=ckpt["provenance"]["config_hash"],
        diverged=bool(ckpt["diverged"]),
        source_checkpoint=str(checkpoint),
        source_sha256=sha256(checkpoint),
        dataset=dataset.name,
        probe_split=probe["split"],
        probe_seed=probe["seed"],
        device=str(dev),
    )
    take = torch.from_numpy(rows)
    return dump(
        model,
        split.images[take],  # on the CPU; each batch moves to the device in turn
        split.labels[take].numpy(),
        rows,
        out,
        provenance,
        probe["batch_size"],
        Storage.from_config(probe),
    )
