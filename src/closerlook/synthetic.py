"""A CIFAR-shaped archive that is not CIFAR-10: random class patterns in the official
python layout (`data.synthetic`), so that every CIFAR-10 code path (the batch reader, 3 x 32
x 32 tensors, VGG-16 and ResNet-18, 32 x 32 DFT-CCA) runs where CIFAR-10 cannot be had.

Each class is a smooth random colour pattern (a 4 x 4 grid of colours, each cell 8 x 8
pixels); an image is its class's pattern plus pixel noise, so networks learn the classes
and accuracies rise above chance. Nothing in these files says anything about CIFAR-10.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from closerlook.data import CIFAR10_TEST_BATCH, CIFAR10_TRAIN_BATCHES
from closerlook.provenance import atomic_path

CLASSES = 10
NOISE = 48.0  # pixel noise (standard deviation, of 255) around the class pattern


def class_patterns(rng: np.random.Generator) -> np.ndarray:
    """(10, 3, 32, 32) mean images: 4 x 4 cells of random colours, 8 x 8 pixels each."""
    cells = rng.uniform(40, 215, size=(CLASSES, 3, 4, 4))
    return cells.repeat(8, axis=2).repeat(8, axis=3)


def images(n: int, patterns: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """n images as the official rows (uint8, 3072 values: R, G, B planes) and labels
    (balanced: image i is of class i mod 10, in a shuffled order)."""
    labels = rng.permutation(np.arange(n) % CLASSES)
    noisy = patterns[labels] + rng.normal(0, NOISE, size=(n, 3, 32, 32))
    return np.clip(noisy, 0, 255).astype(np.uint8).reshape(n, 3072), labels.tolist()


def batch(name: str, rows: np.ndarray, labels: list) -> dict[bytes, object]:
    """One file's dict, keyed as the official (Python 2) pickles are: bytes."""
    files = [f"synthetic_{name}_{i:05d}.png".encode() for i in range(len(labels))]
    return {b"batch_label": name.encode(), b"labels": labels, b"data": rows, b"filenames": files}


def write_archive(folder: str | Path, train: int, val: int, seed: int = 0) -> Path:
    """Five training batches (of `train` images in all), test_batch (`val` images, the
    validation split) and batches.meta in `folder`, each written atomically."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    patterns = class_patterns(rng)
    rows, labels = images(train, patterns, rng)
    parts = np.array_split(np.arange(train), len(CIFAR10_TRAIN_BATCHES))
    files = {
        name: batch(name, rows[part], [labels[i] for i in part])
        for name, part in zip(CIFAR10_TRAIN_BATCHES, parts, strict=True)
    }
    files[CIFAR10_TEST_BATCH] = batch(CIFAR10_TEST_BATCH, *images(val, patterns, rng))
    names = [f"pattern_{k}".encode() for k in range(CLASSES)]
    files["batches.meta"] = {b"label_names": names, b"num_cases_per_batch": len(parts[0])}
    for name, content in files.items():
        with atomic_path(root / name) as tmp:
            tmp.write_bytes(pickle.dumps(content, protocol=2))
    return root
