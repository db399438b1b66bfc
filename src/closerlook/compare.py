"""Comparing two activation files layer by layer: the rows of a similarity table.

A similarity table is tidy (DESIGN.md §4): one row per (pair, layer, method) with columns
analysis, run_a, epoch_a, run_b, epoch_b, layer, layer_index, method, value, dim_a, dim_b.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from closerlook.activations import ActivationFile
from closerlook.provenance import atomic_path
from closerlook.similarity import layer_similarity

COLUMNS = [
    "analysis",
    "run_a",
    "epoch_a",
    "run_b",
    "epoch_b",
    "layer",
    "layer_index",
    "method",
    "value",
    "dim_a",
    "dim_b",
]


class ProbeMismatchError(ValueError):
    """Two activation files whose probe sets differ cannot be compared row by row."""


def compare_files(
    path_a: str | Path,
    path_b: str | Path,
    analysis: str,
    methods: list[str],
    keep: float = 0.99,
    epsilon: float = 1e-10,
) -> pd.DataFrame:
    """Similarity of every shared layer of two activation files, by every method."""
    rows: list[dict[str, Any]] = []
    with ActivationFile(path_a) as fa, ActivationFile(path_b) as fb:
        if not (
            fa.probe_indices.shape == fb.probe_indices.shape
            and (fa.probe_indices == fb.probe_indices).all()
        ):
            raise ProbeMismatchError(f"{path_a} and {path_b} were dumped on different probe sets")
        pa, pb = fa.provenance, fb.provenance
        diverged = bool(pa.get("diverged")) or bool(pb.get("diverged"))
        shared = [n for n in fa.layer_names() if n in set(fb.layer_names())]
        for index, layer in enumerate(shared):
            a, b = (None, None) if diverged else (fa.read(layer), fb.read(layer))
            for method in methods:
                if diverged:
                    value, dim_a, dim_b = math.nan, 0, 0
                else:
                    r = layer_similarity(a, b, method, keep, epsilon)
                    value, dim_a, dim_b = r.mean, r.dim_x, r.dim_y
                rows.append(
                    {
                        "analysis": analysis,
                        "run_a": pa["run"],
                        "epoch_a": int(pa["epoch"]),
                        "run_b": pb["run"],
                        "epoch_b": int(pb["epoch"]),
                        "layer": layer,
                        "layer_index": index,
                        "method": method,
                        "value": value,
                        "dim_a": dim_a,
                        "dim_b": dim_b,
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def concat_tables(paths: list[str | Path], out: str | Path) -> pd.DataFrame:
    """Stack per-pair tables into one analysis table."""
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    write_table(table, out)
    return table
