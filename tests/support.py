"""Helpers shared by the test modules: the repository, the venv's tools, a reduced preset,
and hand-made evidence for the findings and figure tests (numbers shaped like the paper's,
replicated over seeds and similarity measures with small known offsets)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from closerlook.results import CurveEvaluation, Evidence, LayerProfile

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The study's figures (DESIGN.md §1), in the order of the research questions.
STUDY_FIGURES = [
    "rq1_training",
    "rq1_line_and_curve",
    "rq1_loss_plane",
    "rq1_restart_cca",
    "rq2_warmup",
    "rq2_warmup_cca",
    "rq3_distillation_cca",
    "rq4_summary",
]


def tool(name: str) -> str:
    """A console script of the running interpreter's environment (the project venv)."""
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def reduced_config(base: dict) -> dict:
    """The embedded preset scaled down for tests: same rules and code paths, fewer epochs."""
    cfg = copy.deepcopy(base)
    cfg["training"]["epochs"] = 6
    cfg["runs"]["step"]["schedule"]["milestones"] = [3, 5]
    cfg["runs"]["step"]["save_epochs"] = [3]
    cfg["runs"]["sgdr"]["save_epochs"] = [3]  # one epoch after the restart at epoch 2
    cfg["probe"]["size"] = 200
    for curve in cfg["curves"]["connections"].values():
        curve["train_epochs"] = 2
    cfg["curves"]["points"] = 5
    cfg["curves"]["plane"]["grid"] = 3
    return cfg


def snakemake_command(workdir: Path, *args: str, configfile: Path | None = None) -> list[str]:
    """The command line of Snakemake on the repository's workflow in `workdir`, with
    `configfile` (default: the folder's config.yaml)."""
    return [
        tool("snakemake"),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile or workdir / "config.yaml"),
        *args,
    ]


def run_snakemake(
    workdir: Path,
    env: dict,
    *args: str,
    cores: int = 2,
    timeout: float | None = None,
    configfile: Path | None = None,
) -> subprocess.CompletedProcess:
    """Snakemake on the repository's workflow, in `workdir` with its config.yaml (or
    `configfile`)."""
    cmd = snakemake_command(workdir, "--cores", str(cores), *args, configfile=configfile)
    return subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=workdir, timeout=timeout
    )


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run (empty: nothing to do)."""
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    lines = text.split("Job stats:")[1].splitlines()
    jobs = {}
    for line in lines[3:]:
        parts = line.split()
        if not parts or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    return jobs


# ----------------------------------------------------------------- hand-made evidence
LAYERS = ["conv1", "conv2", "conv3", "conv4", "fc1", "logits"]
METHODS = ["dft_svcca", "svcca", "pwcca", "cka"]
# seed k shifts every similarity and accuracy by JITTER[k]: the mean over seeds 0-2 is the
# unshifted value, and the sample standard deviation is 0.005
JITTER = [0.0, -0.005, 0.005, 0.0025, -0.0025]


def metrics(final_acc: float, epochs: int = 30, diverged_at: int | None = None) -> pd.DataFrame:
    e = np.arange(epochs + 1)
    acc = np.linspace(0.1, final_acc, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": e,
            "lr": 0.05,
            "train_loss": np.geomspace(2.3, 0.01, epochs + 1),
            "train_acc": acc,
            "val_loss": np.geomspace(2.3, 0.1, epochs + 1),
            "val_acc": acc,
            "diverged": [diverged_at is not None and x >= diverged_at for x in e],
        }
    )


def profile(
    run_a, ea, run_b, eb, values, baseline=0.05, method="dft_svcca", seed=0
) -> LayerProfile:
    v = np.asarray(values, dtype=float)
    return LayerProfile(
        run_a, ea, run_b, eb, list(LAYERS), v, np.full_like(v, baseline), method=method, seed=seed
    )


def curve(
    line_peak: float, curve_peak: float, end: float = 0.01, epochs: tuple[int, int] = (14, 30)
) -> CurveEvaluation:
    t = np.linspace(0, 1, 11)
    bump = np.sin(np.pi * t)
    line = end + (line_peak - end) * bump
    path = end + (curve_peak - end) * bump
    paths = {
        name: {"train_loss": y, "val_loss": y + 0.1, "train_acc": 1 - y / 3, "val_acc": 1 - y / 3}
        for name, y in (("line", line), ("curve", path))
    }
    barriers = {
        name: {
            k: float(paths[name][k].max() - max(paths[name][k][0], paths[name][k][-1]))
            for k in ("train_loss", "val_loss")
        }
        for name in paths
    }
    grid = np.linspace(-1, 2, 3)
    return CurveEvaluation(
        "sgdr",
        epochs[0],
        "sgdr",
        epochs[1],
        t,
        paths,
        barriers,
        grid,
        grid,
        {k: np.ones((3, 3)) for k in ("train_loss", "train_acc", "val_loss", "val_acc")},
        np.array([[0, 0, 0], [0.5, 1, 0], [1, 0, 0]]),
        np.zeros((11, 3)),
        np.array([[0, 0, 0.1], [1, 0, 0.2]]),
        ["sgdr.e014", "sgdr.e030"],
    )


ACCURACY = {
    "sgdr": 0.98,
    "step": 0.975,
    "cosine": 0.978,
    "large_batch": 0.90,
    "large_batch_warmup": 0.96,
    "large_batch_frozen": 0.955,
    "small_batch": 0.97,
    "teacher": 0.985,
    "student_distill": 0.975,
    "student_plain": 0.95,
}
FALLING = [0.95, 0.9, 0.8, 0.7, 0.4, 0.3]  # deeper layers move most without warmup
STEADY = [0.97, 0.95, 0.93, 0.92, 0.9, 0.88]
INDEPENDENT = [0.9, 0.8, 0.7, 0.5, 0.4, 0.3]  # two seeds: alike in the shallow layers
PAIRS = {
    "sgdr_restarts": [
        ("sgdr", 6, "sgdr", 14, [0.9, 0.85, 0.8, 0.75, 0.7, 0.8]),
        ("sgdr", 14, "sgdr", 30, [0.95, 0.9, 0.85, 0.8, 0.75, 0.85]),
        ("sgdr", 6, "sgdr", 7, [0.97, 0.95, 0.9, 0.85, 0.8, 0.85]),
        ("sgdr", 14, "sgdr", 15, [0.98, 0.96, 0.92, 0.88, 0.85, 0.9]),
    ],
    "init_large_batch": [("large_batch", 0, "large_batch", 3, FALLING)],
    "init_large_batch_warmup": [("large_batch_warmup", 0, "large_batch_warmup", 3, STEADY)],
    "seed_to_seed": [("sgdr", e, "sgdr", e, INDEPENDENT) for e in (6, 14, 30)],
    "sgdr_vs_step": [("sgdr", 30, "step", 30, [0.92, 0.85, 0.75, 0.6, 0.5, 0.45])],
    "distillation": [
        ("teacher", 30, "student_distill", 30, [0.8, 0.75, 0.7, 0.7, 0.8, 0.85]),
        ("teacher", 30, "student_plain", 30, [0.8, 0.74, 0.68, 0.6, 0.6, 0.6]),
    ],
}


def paper_like(
    questions, seeds: Sequence[int] = (0,), methods: Sequence[str] = ("dft_svcca",)
) -> Evidence:
    """Numbers shaped like the paper's, every claim holds under every measure in every seed;
    seed k is shifted by JITTER[k], measure j scaled by (1 - 0.02 j)."""
    seeds, methods = list(seeds), list(methods)
    profiles = {
        analysis: {
            m: {
                s: [
                    profile(
                        ra,
                        ea,
                        rb,
                        eb,
                        np.clip((np.asarray(v) + JITTER[s]) * (1 - 0.02 * j), 0, 1),
                        method=m,
                        seed=s,
                    )
                    for ra, ea, rb, eb, v in pairs
                ]
                for s in seeds
            }
            for j, m in enumerate(methods)
        }
        for analysis, pairs in PAIRS.items()
    }
    return Evidence(
        questions=questions,
        method=methods[0],
        methods=methods,
        seeds=seeds,
        metrics={
            run: {s: metrics(acc + JITTER[s]) for s in seeds} for run, acc in ACCURACY.items()
        },
        profiles=profiles,
        curve_sets={
            "sgdr_restarts": {
                s: curve(line_peak=1.5 + 10 * JITTER[s], curve_peak=0.012) for s in seeds
            },
            "seed_to_seed": {
                s: curve(line_peak=3.0 + 10 * JITTER[s], curve_peak=0.013, epochs=(30, 30))
                for s in seeds
            },
        },
    )
