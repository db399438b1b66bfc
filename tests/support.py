"""Helpers shared by the test modules: the repository, the venv's tools, a reduced preset."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

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
