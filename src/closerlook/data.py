"""Datasets as tensors: scikit-learn's bundled digits and CIFAR-10 from its python archive.

A dataset is a :class:`Split` per part (train, val): images as a float tensor (N, C, H, W),
normalised per channel with the training set's statistics, and integer labels. Everything
fits in memory and is moved to the training device once (docs/architecture.md, speed).
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

CIFAR10_TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_TEST_BATCH = "test_batch"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_SIZES = {"train": 50_000, "val": 10_000}


class DataError(RuntimeError):
    """A dataset that is missing or malformed; the message says where it should be."""


@dataclass
class Split:
    images: torch.Tensor  # (N, C, H, W) float32, normalised
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


@dataclass
class Dataset:
    name: str
    train: Split
    val: Split
    num_classes: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> Split:
        if name not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', not {name!r}")
        return self.train if name == "train" else self.val


def stratified_split(
    labels: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val) with `val_fraction` of every class held out, chosen by `seed`."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = round(len(idx) * val_fraction)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _normalise(train: np.ndarray, *others: np.ndarray) -> list[torch.Tensor]:
    """Per-channel standardisation with the training images' mean and std (in float64; a
    constant channel is only centred)."""
    mean = train.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
    std = train.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
    std = np.where(std > 1e-6, std, 1.0)
    return [torch.from_numpy(((x - mean) / std).astype(np.float32)) for x in (train, *others)]


@functools.cache
def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) with values 0-16, labels) of scikit-learn's bundled digits,
    read from the package's `datasets/data/digits.csv.gz` (64 pixels and the label per
    row, as `sklearn.datasets.load_digits` reads it) without importing scikit-learn, whose
    import costs every job that loads the digits about a second."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package, runs none of it
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "scikit-learn is not installed; it ships the digits (pip install scikit-learn)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/data/digits.csv.gz"
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


def load_digits(val_fraction: float = 0.25, split_seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 8×8 handwritten digits (bundled, no download), 1 channel."""
    pixels, labels = digits_arrays()
    images = (pixels / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    tr, va = stratified_split(labels, val_fraction, split_seed)
    x_tr, x_va = _normalise(images[tr], images[va])
    return Dataset(
        "digits",
        Split(x_tr, torch.from_numpy(labels[tr])),
        Split(x_va, torch.from_numpy(labels[va])),
        num_classes=10,
    )


# The only globals the official python batches reference: NumPy's array reconstruction
# (numpy.core is numpy._core's old name). Anything else is refused before it is built.
CIFAR10_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class BatchUnpickler(pickle.Unpickler):
    """Unpickles what a CIFAR-10 python batch holds (dicts, bytes and str, lists of labels
    and file names, numbers, NumPy arrays) and nothing else: no other class or function
    is ever looked up, so loading a planted file runs no code from it."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in CIFAR10_PICKLE_GLOBALS:
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):  # bytes in a protocol-2 pickle of Python 3
            return _latin1_bytes
        raise pickle.UnpicklingError(f"refused {module}.{name}: not part of a CIFAR-10 batch")


def _latin1_bytes(text: str, encoding: str = "utf-8") -> bytes:
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode(..., {encoding!r})")
    return text.encode("latin1")


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = BatchUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as exc:
        raise DataError(
            f"{path}: not a CIFAR-10 python batch ({exc}); nothing in it ran. Replace it with "
            "the official file (`snakemake download_cifar10`)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable batch is the same user error
        raise DataError(f"{path}: not a CIFAR-10 python batch ({exc})") from exc
    if len(data) != len(labels):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data, labels


def load_cifar10(data_dir: str | Path) -> Dataset:
    """CIFAR-10 from the official `cifar-10-batches-py` folder: 50,000 train, 10,000 test
    (used as the validation split)."""
    root = Path(data_dir)
    missing = [n for n in [*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH] if not (root / n).is_file()]
    if missing:
        raise DataError(
            f"CIFAR-10 not found: {root} lacks {', '.join(missing)}. With internet, run "
            f"`snakemake download_cifar10`. {_where_to_put(root)}"
        )
    parts = [_read_cifar_batch(root / n) for n in CIFAR10_TRAIN_BATCHES]
    x_tr = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te = _read_cifar_batch(root / CIFAR10_TEST_BATCH)
    xt, xv = _normalise(x_tr, x_te.astype(np.float32) / 255.0)
    return Dataset(
        "cifar10", Split(xt, torch.from_numpy(y_tr)), Split(xv, torch.from_numpy(y_te)), 10
    )


def _where_to_put(root: Path) -> str:
    return (
        f"Offline, download {CIFAR10_URL} elsewhere, unpack it and put the files of its "
        f"'{CIFAR10_FOLDER}' folder ({', '.join([*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH])}) "
        f"in {root} (or set data.data_dir to where they are)."
    )


def download_cifar10(
    data_dir: str | Path, url: str = CIFAR10_URL, md5: str | None = CIFAR10_MD5
) -> Path:
    """Fetch the official CIFAR-10 python archive, check its MD5, and unpack the batches of
    its `cifar-10-batches-py` folder into `data_dir`."""
    from closerlook.provenance import atomic_path

    root = Path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        archive = Path(tmp) / "cifar-10-python.tar.gz"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as f:
                while block := response.read(1 << 20):
                    f.write(block)
        except OSError as exc:
            raise DataError(
                f"could not download CIFAR-10 from {url} ({exc}). {_where_to_put(root)}"
            ) from exc
        if md5 is not None:
            digest = hashlib.md5(archive.read_bytes()).hexdigest()
            if digest != md5:
                raise DataError(f"{url}: MD5 {digest}, expected {md5}; the download is corrupt")
        wanted = {*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH, "batches.meta"}
        found = set()
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                folder, _, name = member.name.rpartition("/")
                if not member.isfile() or name not in wanted or Path(folder).name != CIFAR10_FOLDER:
                    continue
                source = tar.extractfile(member)
                assert source is not None
                with atomic_path(root / name) as out:
                    out.write_bytes(source.read())
                found.add(name)
    missing = sorted(wanted - found - {"batches.meta"})
    if missing:
        raise DataError(f"{url}: the archive lacks {', '.join(missing)}")
    return root


def load(data_config: dict[str, Any]) -> Dataset:
    """The dataset a config's `data` section names (a synthetic archive, `data.synthetic`,
    must hold the images that section says)."""
    if data_config["dataset"] == "digits":
        return load_digits(data_config["val_fraction"], data_config["split_seed"])
    dataset = load_cifar10(data_config["data_dir"])
    found = {"train": len(dataset.train), "val": len(dataset.val)}
    if data_config.get("synthetic") and found != split_sizes(data_config):
        raise DataError(
            f"{data_config['data_dir']} holds {found['train']} training and {found['val']} "
            f"validation images, data.synthetic asks for {split_sizes(data_config)}; delete "
            "the folder so that the workflow writes it again"
        )
    return dataset


def _digits_labels() -> np.ndarray:
    return digits_arrays()[1]


def split_sizes(data_config: dict[str, Any]) -> dict[str, int]:
    """Images in each split of the dataset a config's `data` section names, without
    loading the images (for checking a config before any job runs)."""
    if data_config["dataset"] == "cifar10":
        synthetic = data_config.get("synthetic")
        if synthetic:
            return {"train": synthetic["train"], "val": synthetic["val"]}
        return dict(CIFAR10_SIZES)
    tr, va = stratified_split(
        _digits_labels(), data_config["val_fraction"], data_config["split_seed"]
    )
    return {"train": len(tr), "val": len(va)}


def probe_indices(n_available: int, size: int, seed: int) -> np.ndarray:
    """A fixed, sorted random subset of `size` rows out of `n_available`."""
    if size < 1 or n_available < 1:
        raise DataError(
            f"empty probe set: probe.size is {size}, the split has {n_available} images"
        )
    if size > n_available:
        raise DataError(f"probe.size is {size} but the split has only {n_available} images")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_available, size=size, replace=False))
