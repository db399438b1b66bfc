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
from typing import Any

import numpy as np
import pandas as pd

from closerlook import study_figures
from closerlook.curve_file import CurveEvaluation
from closerlook.evidence import Evidence, LayerProfile
from closerlook.questions import configured_names, named_parts

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The study's figures, from their registry (in the order of the research questions).
STUDY_FIGURES = list(study_figures.FIGURES)

# ----------------------------------------------------------------- a small run on digits
SMALL = {"arch": "vgg", "conv": [8, "M", 16], "fc": [16]}


def run_settings(**overrides: Any) -> dict[str, Any]:
    """The keys of a small run's RunSettings (model "small" is SMALL), overridden."""
    run = {
        "name": "r",
        "model": "small",
        "epochs": 3,
        "batch_size": 32,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "schedule": {"kind": "constant", "lr": 0.05, "per": "epoch"},
        "save_epochs": [],
        "augment": True,
        "flip": False,
        "seed": 0,
        "warmup_epochs": 0,
        "accumulation": 1,
        "amp": True,
        "channels_last": True,
    }
    return {**run, **overrides}


def small_digits():
    """A quarter of the digits training set: a run of a few epochs takes about a second."""
    from closerlook import data

    full = data.load_digits()
    return data.Dataset(
        "digits", data.Split(full.train.images[:320], full.train.labels[:320]), full.val, 10
    )


def train_small(tmp: Path, dataset, run: dict[str, Any], saved=(0, 3), **kwargs: Any):
    """train_run of `run` on SMALL writing the checkpoint of every point in `saved` (epochs
    and "stepN") under `tmp`; returns the state and the loaded checkpoints."""
    from closerlook import checkpoints, points, train
    from closerlook.plan import RunSettings

    ckpts = {p: tmp / f"{points.file_tag(p)}.pt" for p in saved}
    kwargs = {"device": "cpu", **kwargs}
    state = train.train_run(
        RunSettings(**run), SMALL, dataset, ckpts, tmp / "metrics.csv", tmp / "resume", **kwargs
    )
    return state, {p: checkpoints.load_checkpoint(path) for p, path in ckpts.items()}


def without_time(rows):
    """Metrics rows without the wall time, NaN written as text (so NaN equals NaN)."""
    return [{k: repr(v) for k, v in row.items() if k != "seconds"} for row in rows]


def tool(name: str) -> str:
    """A console script of the running interpreter's environment (the project venv)."""
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def reduced_config(base: dict) -> dict:
    """The embedded preset scaled down for tests: same rules and code paths, fewer epochs,
    one seed (tests that need more set `seeds`)."""
    cfg = copy.deepcopy(base)
    cfg["seeds"] = 1
    cfg["training"]["epochs"] = 6
    for run in ("step", "small_batch", "student_distill", "student_plain"):  # still one network
        cfg["runs"][run]["schedule"]["milestones"] = [3, 5]
    # RQ2 in six epochs: warmup and freezing for 2 (6 steps at batch 512), compared at 2
    # and 3; the small batch after as many steps
    for run in ("large_batch", "large_batch_warmup", "large_batch_frozen"):
        cfg["runs"][run]["save_epochs"] = [2, 3]
        cfg["similarity"]["analyses"][f"init_{run}"]["epochs"] = [0, 2, 3]
    cfg["runs"]["large_batch_warmup"]["warmup_epochs"] = 2
    cfg["runs"]["large_batch_frozen"]["freeze"]["epochs"] = 2
    cfg["runs"]["small_batch"]["save_iterations"] = [6, 9]
    cfg["similarity"]["analyses"]["init_small_batch"]["epochs"] = [0, "step6", "step9"]
    # six epochs hold two SGDR cycles (ends 2 and 6): no earlier restart pair
    del cfg["curves"]["connections"]["sgdr_restarts_early"]
    cfg["questions"]["rq1"].pop("earlier", None)
    cfg["runs"]["step"]["save_epochs"] = [3, 4, 5]  # the drops at 3 and 5, one epoch on
    cfg["runs"]["sgdr"]["save_epochs"] = [3]  # one epoch after the restart at epoch 2
    cfg["probe"]["size"] = 200
    for curve in cfg["curves"]["connections"].values():
        curve["train_epochs"] = 2
    cfg["curves"]["points"] = 5
    cfg["curves"]["plane"]["grid"] = 3
    return cfg


def trim_questions(cfg: dict) -> dict:
    """`cfg` with every `questions` entry that names a run, analysis or curve the config no
    longer has removed (so that the schema's defaults, left out where not configured, take
    its place): what a user does after trimming the embedded study."""
    have = configured_names(cfg)
    q = cfg.get("questions", {})
    for where, name, section in named_parts(q):
        if name not in have[section] and where[0] in q:
            if where[0] == "rq2":
                del q["rq2"]  # one missing setup: the schema's setups instead
            else:
                q[where[0]].pop(where[1], None)
    if "rq3" in q and "analysis" not in q["rq3"]:
        del q["rq3"]
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


def metrics(
    final_acc: float,
    epochs: int = 30,
    diverged_at: int | None = None,
    spike_at: int | None = None,
    dip: float = 0.1,
    restarts: Sequence[int] = (),
) -> pd.DataFrame:
    """Accuracy rising linearly from 0.1 to `final_acc`, losses falling geometrically; with
    `spike_at`, that epoch's validation accuracy falls to `dip` and its validation loss
    rises to 3x the best earlier one (a relative spike of 2); after each epoch of
    `restarts` the learning rate rises from 0.0005 to 0.05 and the training loss to 3x
    (a relative rise of 2)."""
    e = np.arange(epochs + 1)
    acc = np.linspace(0.1, final_acc, epochs + 1)
    val_loss = np.geomspace(2.3, 0.1, epochs + 1)
    val_acc = acc.copy()
    if spike_at is not None:
        val_acc[spike_at] = dip
        val_loss[spike_at] = 3 * val_loss[:spike_at].min()
    lr, train_loss = np.full(epochs + 1, 0.05), np.geomspace(2.3, 0.01, epochs + 1)
    for r in restarts:
        lr[r] = 0.0005
        train_loss[r + 1] = 3 * train_loss[r]
    return pd.DataFrame(
        {
            "epoch": e,
            "lr": lr,
            "train_loss": train_loss,
            "train_acc": acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
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
    from closerlook.barriers import path_barriers

    barriers = {name: path_barriers(t, paths[name]) for name in paths}
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
    "large_batch_frozen": 0.965,
    "small_batch": 0.97,
    "teacher": 0.985,
    "student_distill": 0.975,
    "student_plain": 0.95,
}
SPIKE_AT = 6  # the run without warmup spikes in RQ2's window (epochs 6-7 of 30)
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
    # read at epoch 7, after the spike of the run without warmup (SPIKE_AT)
    "init_large_batch": [("large_batch", 0, "large_batch", e, FALLING) for e in (5, 7)],
    "init_large_batch_warmup": [
        ("large_batch_warmup", 0, "large_batch_warmup", e, STEADY) for e in (5, 7)
    ],
    # the control of RQ1.3: step decay across its drops, windows as long as the restarts'
    "step_decay": [
        ("step", 15, "step", 16, [0.96, 0.94, 0.88, 0.84, 0.8, 0.84]),
        ("step", 22, "step", 23, [0.97, 0.95, 0.9, 0.86, 0.82, 0.86]),
    ],
    "seed_to_seed": [("sgdr", e, "sgdr", e, INDEPENDENT) for e in (6, 14, 30)],
    "sgdr_vs_step": [("sgdr", 30, "step", 30, [0.92, 0.85, 0.75, 0.6, 0.5, 0.45])],
    "distillation": [
        ("teacher", 30, "student_distill", 30, [0.8, 0.75, 0.7, 0.7, 0.8, 0.85]),
        ("teacher", 30, "student_plain", 30, [0.8, 0.74, 0.68, 0.6, 0.6, 0.6]),
    ],
}


# the SGDR cycle ends after which paper-shaped metrics restart (T0 = 2, T_mult = 2)
RESTARTS = (2, 6, 14)
# the curves between optima trained differently (questions.rq4.robustness)
ROBUSTNESS = ("sgdr_vs_step", "warmup_vs_small_batch")


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
            run: {
                s: metrics(
                    acc + JITTER[s],
                    spike_at=SPIKE_AT if run == "large_batch" else None,
                    restarts=RESTARTS if run == "sgdr" else (),
                )
                for s in seeds
            }
            for run, acc in ACCURACY.items()
        },
        profiles=profiles,
        curve_sets={
            "sgdr_restarts": {
                s: curve(line_peak=1.5 + 10 * JITTER[s], curve_peak=0.012) for s in seeds
            },
            "sgdr_restarts_early": {
                s: curve(line_peak=1.2 + 10 * JITTER[s], curve_peak=0.011, epochs=(6, 14))
                for s in seeds
            },
            "seed_to_seed": {
                s: curve(line_peak=3.0 + 10 * JITTER[s], curve_peak=0.013, epochs=(30, 30))
                for s in seeds
            },
            **{
                name: {
                    s: curve(line_peak=2.5 + 10 * JITTER[s], curve_peak=0.014, epochs=(30, 30))
                    for s in seeds
                }
                for name in ROBUSTNESS
            },
        },
    )


# ------------------------------------------------------------ configs and their plans
PAPER = REPO / "workflow/configs/paper.yaml"


def config_error(cfg: dict, schema: dict | None = None) -> str:
    """The message of the ConfigError that `closerlook.config.validate` raises for `cfg`
    (it must raise one): always one line."""
    import pytest

    from closerlook import config

    with pytest.raises(config.ConfigError) as info:
        config.validate(cfg, schema)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    return message


def dry_run_plan(workdir: Path, env: dict, *targets: str, configfile: Path) -> str:
    """The printed plan (stdout) of `snakemake -n targets` with `configfile`, closerlook
    imported from src/; the dry run must succeed."""
    env = {**env, "PYTHONPATH": str(REPO / "src")}
    done = run_snakemake(workdir, env, "-n", *targets, configfile=configfile, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
