"""Comparing two activation files layer by layer: the rows of a similarity table and the
coefficient vectors behind them.

A similarity table is tidy (docs/architecture.md, artifacts):
one row per (pair, layer, method) with columns
analysis, run_a, epoch_a, run_b, epoch_b, layer, layer_index, method, value, dim_a, dim_b.
epoch_a and epoch_b hold checkpoint points (closerlook.points): an epoch, or "stepN".
Beside every method M the table holds a chance level, method "M_shuffled": the same layer
of `a` against the layer of `b` with its rows (examples) permuted, which destroys every
correspondence between the two while keeping each side's statistics.

Layout of the HDF5 file of one pair::

    /                              attrs: kind="similarity", provenance (analysis, both
                                   runs and epochs, source files and SHA-256, settings)
    /layers                        attr layer_order (JSON list, network order)
    /layers/<layer>/<method>       attrs value, dim_a, dim_b, layer_index;
                                   dataset coefficients (canonical correlations, descending)
                                   and per method: weights (pwcca), per_frequency,
                                   frequency_rows, frequency_cols, frequency_weight,
                                   frequency_coefficients (dft_svcca, dft_cca; NaN-padded)
    /matrix/<method>               only with `matrix: true` (closerlook.layer_matrix):
                                   L × L, M[i, j] = layer i of a vs layer j ≥ i of b, NaN
                                   below the diagonal; attr layers (JSON list)
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from closerlook import hdf5_format
from closerlook.activation_file import ActivationFile
from closerlook.layer_matrix import write_matrix
from closerlook.logs import Progress
from closerlook.plan import STREAMED_MEASURES
from closerlook.points import parse as parse_point
from closerlook.provenance import atomic_path, record, sha256, verify_source, write_attrs
from closerlook.similarity import MINIBATCH_SIZE, Similarity, layer_similarity, minibatch_cka
from closerlook.tables import PAIR_COLUMNS, SHUFFLED

log = logging.getLogger("closerlook.similarity")

KIND = "similarity"
STREAMED = STREAMED_MEASURES  # computed from the files minibatch by minibatch

COLUMNS = [
    *PAIR_COLUMNS,
    "layer",
    "layer_index",
    "method",
    "value",
    "dim_a",
    "dim_b",
]


class ProbeMismatchError(ValueError):
    """Two activation files whose probe sets differ cannot be compared row by row."""


def is_baseline(method: str) -> bool:
    """Whether a table's method names the shuffled baseline of another."""
    return method.endswith(SHUFFLED)


@dataclass
class PairComparison:
    """Everything computed for one pair of activation files."""

    table: pd.DataFrame
    results: dict[tuple[str, str], Similarity] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    # method -> (layers, L × L layer × layer matrix), from layer_matrix.add_matrix
    matrices: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)


def shuffled_rows(n: int, seed: int) -> np.ndarray:
    """The baseline's fixed row permutation: a random n-cycle p_0 → p_1 → … → p_0, so no
    example keeps its own partner (when n > 1)."""
    p = np.random.default_rng(seed).permutation(n)
    perm = np.empty(n, dtype=np.int64)
    perm[p] = np.roll(p, -1)
    return perm


def shared_layers(fa: ActivationFile, fb: ActivationFile) -> list[str]:
    """The layers both files hold, by name, in `a`'s network order; the files must share
    their probe set and still match the checkpoints they were dumped from."""
    if not (
        fa.probe_indices.shape == fb.probe_indices.shape
        and (fa.probe_indices == fb.probe_indices).all()
    ):
        raise ProbeMismatchError(f"{fa.path} and {fb.path} were dumped on different probe sets")
    for f in (fa, fb):  # the checkpoints are still those dumped
        p = f.provenance
        verify_source(p.get("source_checkpoint"), p.get("source_sha256"), f.path)
    names_b = set(fb.layer_names())
    shared = [n for n in fa.layer_names() if n in names_b]
    if not shared:
        raise ValueError(
            f"{fa.path} and {fb.path} share no layer: {fa.layer_names()} vs {fb.layer_names()}"
        )
    return shared


def compare_layers(
    fa: ActivationFile,
    fb: ActivationFile,
    shared: list[str],
    labels: list[str],
    perm: np.ndarray | None,
    options: dict[str, Any],
) -> dict[tuple[str, str], Similarity]:
    """(layer, label) -> the similarity of that layer by the label's method; a label with
    the SHUFFLED suffix compares against `b`'s rows permuted by `perm`. `options`: keep,
    epsilon, device, precision (closerlook.similarity.layer_similarity)."""
    results = {}
    in_memory = [label for label in labels if label.removesuffix(SHUFFLED) not in STREAMED]
    progress = Progress("similarity", len(shared) * len(labels), log)
    for layer in shared:
        if in_memory:
            a, b = finite(fa, layer, fa.read(layer)), finite(fb, layer, fb.read(layer))
        for label in labels:
            method = label.removesuffix(SHUFFLED)
            order = perm if is_baseline(label) else None
            if method in STREAMED:
                r = streamed_similarity(fa, fb, layer, order, options)
            else:
                r = layer_similarity(a, b if order is None else b[order], method, **options)
            results[(layer, label)] = r
            progress.step(f"{layer} {label} {r.value:.4f}")
    return results


def finite(f: ActivationFile, layer: str, values: np.ndarray) -> np.ndarray:
    """`values` of `layer` in file `f`, refused (one line) if any is infinite or NaN."""
    if not np.isfinite(values).all():
        raise ValueError(
            f"{f.path}: layer {layer} holds infinite or NaN values, which no "
            "similarity measure takes; dump it again (a float16 file older than "
            "closerlook's float32 fallback for such layers, or a network that diverged)"
        )
    return values


def streamed_similarity(
    fa: ActivationFile,
    fb: ActivationFile,
    layer: str,
    order: np.ndarray | None,
    options: dict[str, Any],
) -> Similarity:
    """Minibatch CKA of `layer`, read from both files one minibatch of rows at a time
    (`b`'s rows in `order` for the shuffled baseline): memory holds one minibatch."""
    size = options.get("minibatch_size", MINIBATCH_SIZE)
    batches_a = (finite(fa, layer, x) for x in fa.row_batches(layer, size))
    batches_b = (finite(fb, layer, y) for y in fb.row_batches(layer, size, order))
    features = [math.prod(f.dataset(layer).shape[1:]) for f in (fa, fb)]
    return Similarity(minibatch_cka(batches_a, batches_b), *features, np.empty(0))


def compare_pair(
    path_a: str | Path,
    path_b: str | Path,
    analysis: str,
    methods: list[str],
    keep: float = 0.99,
    epsilon: float = 1e-10,
    baseline: bool = True,
    shuffle_seed: int = 0,
    device: str = "auto",
    precision: str = "mixed",
    replicate: int = 0,
    replicate_b: int | None = None,
    minibatch_size: int = MINIBATCH_SIZE,
    names: tuple[str, str] | None = None,
) -> PairComparison:
    """Similarity of every shared layer (by name, in `a`'s network order) of two activation
    files by every method, plus the shuffled baseline of each (rows permuted with
    `shuffle_seed`); `replicate` is the training seed k of `a` (the table's `seed` column)
    and `replicate_b` that of `b` (`seed_b`; the same seed unless given); `names` the runs
    as the analysis names them (default: the runs that trained the checkpoints). A pair
    with a diverged side gets NaN rows and nothing computed."""
    replicate_b = replicate if replicate_b is None else replicate_b
    labels = [*methods, *(m + SHUFFLED for m in methods if baseline)]
    options = {"keep": keep, "epsilon": epsilon, "device": device, "precision": precision,
               "minibatch_size": minibatch_size}  # fmt: skip
    with ActivationFile(path_a) as fa, ActivationFile(path_b) as fb:
        shared = shared_layers(fa, fb)
        pa, pb = fa.provenance, fb.provenance
        diverged = bool(pa.get("diverged")) or bool(pb.get("diverged"))
        perm = shuffled_rows(len(fa.probe_indices), shuffle_seed)
        results = {} if diverged else compare_layers(fa, fb, shared, labels, perm, options)
    pair = {
        "analysis": analysis,
        "seed": replicate,
        "seed_b": replicate_b,
        "run_a": names[0] if names else pa["run"],
        "epoch_a": parse_point(pa["epoch"]),
        "run_b": names[1] if names else pb["run"],
        "epoch_b": parse_point(pb["epoch"]),
    }
    rows = []
    for index, layer in enumerate(shared):
        for label in labels:
            r = results.get((layer, label))
            value, dim_a, dim_b = (r.value, r.dim_x, r.dim_y) if r else (math.nan, 0, 0)
            rows.append({**pair, "layer": layer, "layer_index": index, "method": label,
                         "value": value, "dim_a": dim_a, "dim_b": dim_b})  # fmt: skip
    provenance = record(
        analysis=analysis, replicate=replicate, replicate_b=replicate_b,
        run_a=pair["run_a"], epoch_a=pair["epoch_a"], run_b=pair["run_b"], epoch_b=pair["epoch_b"],
        source_a=str(path_a), source_a_sha256=sha256(path_a),
        source_b=str(path_b), source_b_sha256=sha256(path_b),
        diverged=diverged, methods=list(methods), keep=keep, epsilon=epsilon,
        baseline=baseline, baseline_seed=shuffle_seed, precision=precision, layer_order=shared,
        minibatch_size=minibatch_size,
    )  # fmt: skip
    return PairComparison(pd.DataFrame(rows, columns=COLUMNS), results, provenance)


def compare_files(
    path_a: str | Path,
    path_b: str | Path,
    analysis: str,
    methods: list[str],
    keep: float = 0.99,
    epsilon: float = 1e-10,
    baseline: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """The tidy table of `compare_pair` alone."""
    return compare_pair(path_a, path_b, analysis, methods, keep, epsilon, baseline, **options).table


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def write_coefficients(pair: PairComparison, path: str | Path) -> None:
    """The HDF5 file of one pair (layout in the module docstring), atomically."""
    with atomic_path(path) as tmp, hdf5_format.create(tmp) as f:
        f.attrs["kind"] = KIND
        write_attrs(f, pair.provenance)
        layers = f.create_group("layers", track_order=True)
        order = list(dict.fromkeys(pair.table["layer"]))
        layers.attrs["layer_order"] = json.dumps(order)
        for row in pair.table.itertuples(index=False):
            g = layers.require_group(row.layer).create_group(row.method)
            g.attrs.update(
                value=row.value, dim_a=row.dim_a, dim_b=row.dim_b, layer_index=row.layer_index
            )
            r = pair.results.get((row.layer, row.method))
            if r is None:  # a diverged run: nothing computed
                continue
            g["coefficients"] = np.asarray(r.coefficients, dtype=np.float64)
            for name, array in r.extras.items():
                g[name] = np.asarray(array)
        for method, (order, matrix) in pair.matrices.items():
            write_matrix(f, method, order, matrix)


def read_coefficients(path: str | Path, layer: str, method: str) -> dict[str, Any]:
    """The attributes and arrays stored for one layer and method of a pair's HDF5 file."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("kind") != KIND:
            raise ValueError(f"{path}: not a closerlook similarity file")
        g = f["layers"][layer][method]
        out: dict[str, Any] = {k: v.item() if hasattr(v, "item") else v for k, v in g.attrs.items()}
        out.update({k: g[k][()] for k in g})
        return out


def concat_tables(paths: list[str | Path], out: str | Path) -> pd.DataFrame:
    """Stack per-pair tables into one analysis table."""
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    write_table(table, out)
    return table
