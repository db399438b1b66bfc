"""Hand-made artifacts for unit tests that need a file in the pipeline's layout but no
network behind it."""

from __future__ import annotations

import json

import h5py
import numpy as np

from closerlook.activation_file import KIND as ACTIVATIONS


def activation_file(path, run, epoch, layers, diverged=False):
    """A minimal activation file in the layout of closerlook.activations."""
    n = next(iter(layers.values())).shape[0]
    with h5py.File(path, "w") as f:
        f.attrs.update(kind=ACTIVATIONS, run=run, epoch=epoch, diverged=diverged)
        f["probe/indices"] = np.arange(n)
        f["probe/labels"] = np.zeros(n, dtype=np.int64)
        g = f.create_group("layers")
        g.attrs["layer_order"] = json.dumps(list(layers))
        for name, a in layers.items():
            g[name] = a.astype(np.float32)
    return path
