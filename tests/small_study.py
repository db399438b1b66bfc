"""A small finished study written by the library's own writers, in the layout of a
workflow's results folder (docs/results.md): two runs on digits (one with a step
checkpoint, whose network a second name also reads), their activations, two similarity
analyses, a curve file and findings.json. Built in seconds, without Snakemake.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from closerlook import activations, compare, curve_file, findings, findings_doc, points, train
from closerlook.effects import Settings
from closerlook.plan import RunSettings

import support

DATA = {"dataset": "digits", "val_fraction": 0.25, "split_seed": 0}
PROBE = {"split": "train", "size": 60, "seed": 0, "batch_size": 30, "dtype": "float32"}
PROBE.update(compression="none", compression_level=1)
# run -> (seeds, saved points); `step` saves step 6 (mid-epoch 1 at 10 steps an epoch)
RUNS = {"sgdr": ((0, 1), (0, 2, 3)), "step": ((0,), (0, 3, "step6"))}
# analysis -> (seeds, [(run, point, run, point)]); small_batch is the network of `step`
ANALYSES = {
    "sgdr_restarts": ((0, 1), [("sgdr", 0, "sgdr", 2), ("sgdr", 2, "sgdr", 3)]),
    "init_small_batch": ((0,), [("small_batch", 0, "small_batch", "step6")]),
}
TRAINED = {"sgdr": "sgdr", "small_batch": "step"}
METHODS = ["svcca", "cka"]


def run_folder(results: Path, run: str, seed: int) -> Path:
    return results / "runs" / TRAINED.get(run, run) / f"seed{seed}"


def train_runs(results: Path) -> None:
    """Every run's checkpoints and metrics.csv, then the activations of each checkpoint."""
    dataset = support.small_digits()
    for run, (seeds, saved) in RUNS.items():
        for seed in seeds:
            folder = run_folder(results, run, seed)
            ckpts = {p: folder / "checkpoints" / f"{points.file_tag(p)}.pt" for p in saved}
            settings = RunSettings(**support.run_settings(name=run, seed=seed))
            train.train_run(
                settings, support.SMALL, dataset, ckpts, folder / "metrics.csv",
                folder / "resume", device="cpu", config_hash="small",
            )  # fmt: skip
            shutil.rmtree(folder / "resume", ignore_errors=True)
            for p, ckpt in ckpts.items():
                out = folder / "activations" / f"{points.file_tag(p)}.h5"
                activations.dump_checkpoint(ckpt, out, DATA, PROBE, p, device="cpu")


def compare_pairs(results: Path) -> None:
    """Every analysis's pair tables and coefficient files, and its stacked table."""
    for analysis, (seeds, pairs) in ANALYSES.items():
        tables = []
        for seed in seeds:
            for ra, pa, rb, pb in pairs:
                fa = run_folder(results, ra, seed) / "activations" / f"{points.file_tag(pa)}.h5"
                fb = run_folder(results, rb, seed) / "activations" / f"{points.file_tag(pb)}.h5"
                pair = compare.compare_pair(
                    fa, fb, analysis, METHODS, replicate=seed, device="cpu", names=(ra, rb)
                )
                stem = f"{ra}.{points.pair_tag(pa)}--{rb}.{points.pair_tag(pb)}"
                folder = results / "similarity" / analysis / f"seed{seed}"
                compare.write_table(pair.table, folder / f"{stem}.csv")
                compare.write_coefficients(pair, folder / f"{stem}.h5")
                tables.append(folder / f"{stem}.csv")
        compare.concat_tables(tables, results / "similarity" / f"{analysis}.csv")


def write_curve(results: Path) -> Path:
    """curves/sgdr_restarts/seed0.h5: a hand-made evaluation (tests/support.py) between
    epochs 2 and 3 of sgdr, with three bends of five parameters."""
    ev = support.curve(line_peak=1.5, curve_peak=0.012, epochs=(2, 3))
    bends = curve_file.Bends(
        np.zeros((3, 5)), "bezier", ["w"], [[5]], {"epoch": [1, 2], "train_loss": [0.5, 0.4]}
    )
    attrs = {"curve": "sgdr_restarts", "curve_kind": "bezier", "n_bends": 3}
    attrs.update(run_a="sgdr", epoch_a=2, run_b="sgdr", epoch_b=3)
    out = results / "curves" / "sgdr_restarts" / "seed0.h5"
    out.parent.mkdir(parents=True, exist_ok=True)
    return curve_file.write_curve(out, ev, bends, attrs)


def write_findings(results: Path, questions: dict) -> None:
    """findings.md and findings.json of paper-shaped numbers (tests/support.py)."""
    found = findings.all_findings(support.paper_like(questions), Settings())
    findings_doc.write(
        found, results / "findings.md", results / "findings.json", Settings(), "embedded",
        "dft_svcca",
    )  # fmt: skip


def build(root: Path, questions: dict) -> Path:
    """The small study's results folder, root/results/embedded; `questions` resolved
    (closerlook.resolved) for findings.json."""
    results = root / "results" / "embedded"
    torch.manual_seed(0)
    train_runs(results)
    compare_pairs(results)
    write_curve(results)
    write_findings(results, questions)
    return results
