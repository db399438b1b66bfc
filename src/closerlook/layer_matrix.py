"""Layer × layer similarity of one pair of checkpoints (the authors' compute_dft_cca.py):
M[i, j] = similarity(layer i of checkpoint a, layer j of checkpoint b) for j ≥ i, NaN
below the diagonal, in network order of the registered layers. Gotmare et al. (2019)
drew it for initialisation against the end of warmup; `matrix: true` in a within_run
analysis asks for it (closerlook.config.matrix_method).

Layers of different shapes. Channel counts may differ for every measure (CCA compares
subspaces, CKA Gram matrices). Spatial sizes:

- dft_cca, dft_svcca: the frequencies both maps hold (`dft.shared_frequencies`,
  the Fourier resizing of google/svcca's fft_resize: the larger map ideally low-passed to
  the smaller size); against a dense layer (a 1 × 1 map) only the zero frequency, i.e. the
  spatial mean of the conv map (up to a scale, which CCA ignores);
- svcca, pwcca (spatial positions as datapoints): the larger map is average-pooled to the
  smaller one's H × W (adaptive average pooling), a conv map against a dense layer to its
  spatial mean (global average pooling);
- cka: each example's whole map flattened, whatever its size.

The diagonal is the pair's ordinary per-layer value (the very same computation, reused
from the pair's results when there). Stored in the pair's HDF5 file as
/matrix/<method> (L × L, attribute `layers`); `read_matrix` gives the tidy rows (j ≥ i)
with columns MATRIX_COLUMNS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import pandas as pd
import torch

from closerlook.activation_file import ActivationFile
from closerlook.logs import Progress
from closerlook.similarity import Similarity, as_layer, layer_similarity
from closerlook.tables import PAIR_COLUMNS

log = logging.getLogger("closerlook.similarity")  # the comparison job's log

if TYPE_CHECKING:
    from closerlook.compare import PairComparison

GROUP = "matrix"
MATRIX_COLUMNS = [
    *PAIR_COLUMNS,
    "layer_a",
    "layer_b",
    "layer_index_a",
    "layer_index_b",
    "method",
    "value",
]
POSITION_METHODS = ("svcca", "pwcca")  # spatial positions are datapoints


def _pool(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Adaptive average pooling of conv maps (N, C, H, W) to `size`."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    t = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(np.ascontiguousarray(x)), size)
    return t.numpy()


def aligned(a: np.ndarray, b: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Two layers made comparable by `method` (module docstring): for svcca and pwcca the
    larger spatial size average-pooled to the smaller, a conv map against a dense layer to
    its spatial mean; the other measures take any sizes as they are."""
    a, b = as_layer(a), as_layer(b)
    if method not in POSITION_METHODS or a.shape[2:] == b.shape[2:]:
        return a, b
    if a.ndim == 2 or b.ndim == 2:
        a, b = (x.mean(axis=(2, 3)) if x.ndim == 4 else x for x in (a, b))
        return a, b
    size = (min(a.shape[2], b.shape[2]), min(a.shape[3], b.shape[3]))
    return _pool(a, size), _pool(b, size)


def layer_matrix(
    fa: ActivationFile,
    fb: ActivationFile,
    layers: Sequence[str],
    method: str,
    diagonal: Mapping[str, Similarity] | None = None,
    **options: Any,
) -> np.ndarray:
    """M[i, j] = `method`(layer i of fa, layer j of fb) for j ≥ i, NaN below the diagonal.
    `diagonal` holds already computed per-layer results (layer -> Similarity); `options`
    go to similarity.layer_similarity (keep, epsilon, device, precision). Reads one layer
    of fa and then each later layer of fb at a time, so memory stays at two layers."""
    n = len(layers)
    m = np.full((n, n), np.nan)
    diagonal = diagonal or {}
    progress = Progress(f"layer matrix ({method}) cells", n * (n + 1) // 2, log)
    for i, name_a in enumerate(layers):
        a = fa.read(name_a)
        for j in range(i, n):
            if j == i and name_a in diagonal:
                m[i, j] = diagonal[name_a].value
                continue
            x, y = aligned(a, fb.read(layers[j]), method)
            m[i, j] = layer_similarity(x, y, method, **options).value
        progress.step(f"{name_a} against {n - i} layers", units=n - i)
    return m


def compare_layers(
    path_a: str | Path,
    path_b: str | Path,
    layers: Sequence[str],
    method: str,
    diagonal: Mapping[str, Similarity] | None = None,
    diverged: bool = False,
    **options: Any,
) -> np.ndarray:
    """`layer_matrix` of two activation files (all NaN for a diverged run)."""
    if diverged:
        return np.full((len(layers), len(layers)), np.nan)
    with ActivationFile(path_a) as fa, ActivationFile(path_b) as fb:
        return layer_matrix(fa, fb, layers, method, diagonal, **options)


def add_matrix(
    pair: PairComparison, path_a: str | Path, path_b: str | Path, method: str, **options: Any
) -> np.ndarray:
    """Compute the layer × layer matrix of a compared pair (`compare.compare_pair` of the
    same files) by `method`, on its shared layers, reusing its per-layer values on the
    diagonal; kept in `pair.matrices` for `compare.write_coefficients`."""
    layers = list(pair.provenance["layer_order"])
    diagonal = {layer: r for (layer, label), r in pair.results.items() if label == method}
    diverged = bool(pair.provenance.get("diverged"))
    m = compare_layers(path_a, path_b, layers, method, diagonal, diverged, **options)
    pair.matrices[method] = (layers, m)
    pair.provenance["matrix_method"] = method
    return m


def write_matrix(group: h5py.Group, method: str, layers: Sequence[str], m: np.ndarray) -> None:
    """/matrix/<method> in a pair's HDF5 file (`group` is the file or its root)."""
    d = group.require_group(GROUP).create_dataset(method, data=np.asarray(m, dtype=np.float64))
    d.attrs["layers"] = json.dumps(list(layers))


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    return value.item() if hasattr(value, "item") else value


def read_matrix(path: str | Path) -> pd.DataFrame:
    """Tidy rows (MATRIX_COLUMNS) of every matrix in a pair's HDF5 file, j ≥ i only; an
    error naming the file when it holds none (the pair was computed without `matrix`)."""
    rows = []
    with h5py.File(path, "r") as f:
        if GROUP not in f:
            raise ValueError(
                f"{path}: no layer x layer matrix; the pair was computed without "
                "'matrix: true' (rerun its similarity_pair job)"
            )
        p = {k: _attr(f.attrs[k]) for k in f.attrs}
        for method, d in f[GROUP].items():
            layers, m = json.loads(d.attrs["layers"]), d[()]
            for i, j in zip(*np.triu_indices(len(layers)), strict=True):
                rows.append(
                    {
                        "analysis": p["analysis"],
                        "seed": p["replicate"],
                        "seed_b": p["replicate_b"],
                        "run_a": p["run_a"],
                        "epoch_a": p["epoch_a"],
                        "run_b": p["run_b"],
                        "epoch_b": p["epoch_b"],
                        "layer_a": layers[i],
                        "layer_b": layers[j],
                        "layer_index_a": int(i),
                        "layer_index_b": int(j),
                        "method": method,
                        "value": float(m[i, j]),
                    }
                )
    return pd.DataFrame(rows, columns=MATRIX_COLUMNS)


def mean_matrices(
    table: pd.DataFrame, method: str
) -> list[tuple[tuple, list[str], np.ndarray, int]]:
    """Per compared pair (run_a, epoch_a, run_b, epoch_b), in the table's order: its layers
    in network order, the L × L mean over seeds (NaN below the diagonal) and the seeds."""
    t = table[table["method"] == method]
    out = []
    keys = ["run_a", "epoch_a", "run_b", "epoch_b"]
    for key, g in t.groupby(keys, sort=False):
        order = g.drop_duplicates("layer_index_b").sort_values("layer_index_b")["layer_b"]
        layers = list(order)
        m = np.full((len(layers), len(layers)), np.nan)
        cells = g.groupby(["layer_index_a", "layer_index_b"])["value"].mean()
        for (i, j), v in cells.items():
            m[int(i), int(j)] = v
        out.append((key, layers, m, int(g["seed"].nunique())))
    return out


def _heatmap(ax: Any, layers: Sequence[str], m: np.ndarray, annotate: bool) -> Any:
    """One matrix: layer i of a on the rows, layer j of b on the columns, 0 to 1."""
    image = ax.imshow(np.ma.masked_invalid(m), vmin=0.0, vmax=1.0, cmap="viridis")
    ticks = range(len(layers))
    ax.set_xticks(ticks, layers, rotation=45, ha="right")
    ax.set_yticks(ticks, layers)
    if annotate:
        for i, j in zip(*np.nonzero(np.isfinite(m)), strict=True):
            colour = "black" if m[i, j] > 0.6 else "white"
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7, color=colour)
    return image


def matrix_figure(table: pd.DataFrame, method: str, title: str) -> Any:
    """Heatmaps of the layer × layer similarity of an analysis (a table of `read_matrix`
    rows), one panel per compared pair: the mean over seeds of M[i, j], layer i of the
    first checkpoint (rows) against layer j ≥ i of the second (columns)."""
    from closerlook import plots
    from closerlook.points import label as point_label
    from closerlook.points import pair_label

    plt = plots.plt
    pairs = mean_matrices(table, method)
    ncols = max(1, min(len(pairs), 3))
    nrows = max(1, -(-len(pairs) // ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.6 * ncols + 0.8, 4.4 * nrows), layout="constrained", squeeze=False
    )
    image, seeds = None, 1
    for ax, ((run_a, epoch_a, run_b, epoch_b), layers, m, n) in zip(
        axes.ravel(), pairs, strict=False
    ):
        image = _heatmap(ax, layers, m, annotate=len(layers) <= 12)
        seeds = max(seeds, n)
        ax.set(
            ylabel=f"layer of {run_a} at {point_label(epoch_a)}",
            xlabel=f"layer of {run_b} at {point_label(epoch_b)}",
            title=pair_label(epoch_a, epoch_b),
        )
    for ax in axes.ravel()[len(pairs) :]:
        ax.set_axis_off()
    if not pairs:
        axes[0, 0].text(0.5, 0.5, "not computed", ha="center", va="center")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label=f"{plots.measure_name(method)} similarity")
    note = f"mean of {seeds} seeds" if seeds > 1 else ""
    heading = f"{title}: {plots.measure_name(method)}, layer × layer"
    fig.suptitle(f"{heading} ({note})" if note else heading)
    return fig
