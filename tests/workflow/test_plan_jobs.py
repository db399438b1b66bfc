"""The plan's jobs (closerlook.jobs) are Snakemake's: for both presets, each rule's job count
equals a dry run's; the paper plan's activation disk is the dry run's activation files
times their sizes worked out by hand from VGG-16's and ResNet-18's layer tables; and a
preset given with --configfile runs alone, even beside the embedded config.yaml (nothing
of it leaks in)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import yaml

from closerlook import config, cost, jobs, replicates
from closerlook.calibration import DEFAULT_CALIBRATION, load

from support import BIN, PAPER, REPO, planned_jobs, run_snakemake


def dry_run(workdir, env, configfile) -> subprocess.CompletedProcess:
    env = {**env, "PYTHONPATH": str(REPO / "src")}
    done = run_snakemake(workdir, env, "-n", "figures", configfile=configfile, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def dry_run_counts(workdir, env, configfile) -> dict[str, int]:
    return planned_jobs(dry_run(workdir, env, configfile))


@pytest.fixture(scope="module")
def paper_dry_run(tmp_path_factory) -> subprocess.CompletedProcess:
    """The paper preset's dry run, beside a copy of config.yaml (which must not leak in)."""
    folder = tmp_path_factory.mktemp("paper")
    shutil.copy(REPO / "config.yaml", folder / "config.yaml")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return dry_run(folder, env, PAPER)


def test_the_plan_counts_the_jobs_of_the_embedded_dry_run(tmp_path, snakemake_env):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    path = tmp_path / "config.yaml"
    assert jobs.study_jobs(config.load(path)).counts() == dry_run_counts(
        tmp_path, snakemake_env, path
    )


def test_the_plan_counts_the_jobs_of_the_paper_dry_run(paper_dry_run):
    assert jobs.study_jobs(config.load(PAPER)).counts() == planned_jobs(paper_dry_run)


def test_the_paper_preset_trains_each_network_once_and_its_robustness_curves(paper_dry_run):
    """The plain student is the step-decay run (trained once); finding (e)'s robustness
    curves join SGDR with step decay and the large batch with warmup with the small batch."""
    planned = planned_jobs(paper_dry_run)
    trained = replicates.trained_runs(config.load(PAPER))
    assert {r for r in planned if r.startswith("train_")} == {f"train_{r}" for r in trained}
    assert "train_student_plain" not in planned
    text = paper_dry_run.stdout
    for curve in ("sgdr_vs_step", "warmup_vs_small_batch", "sgdr_restarts_early"):
        assert all(f"curves/{curve}/seed{k}.h5" in text for k in range(3)), curve


# values per image of the registered layers on 32 x 32 images, from the layer tables:
# VGG-16: 13 convs [64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512], fc 4096,
# 4096 and 10 logits; ResNet-18: the stem and two blocks per stage at 64 x 32², 128 x 16²,
# 256 x 8², 512 x 4², and 10 logits
VGG16 = (2 * 64 * 32**2 + 2 * 128 * 16**2 + 3 * 256 * 8**2 + 3 * 512 * 4**2 + 3 * 512 * 2**2) + (
    4096 + 4096 + 10
)
RESNET18 = 3 * 64 * 32**2 + 2 * 128 * 16**2 + 2 * 256 * 8**2 + 2 * 512 * 4**2 + 10


def test_the_paper_activation_disk_is_jobs_times_probe_times_layers_times_dtype(paper_dry_run):
    """Each activation file of the dry run: probe size x its model's values per image x the
    stored dtype's bytes, and the probe's indices and labels (two int64 per image)."""
    cfg = config.load(PAPER)
    dumped = re.findall(
        r"^rule activations:\n(?:    .*\n)*?    output: results/paper/runs/(\w+)/",
        paper_dry_run.stdout,
        flags=re.M,
    )
    assert len(dumped) == planned_jobs(paper_dry_run)["activations"]
    per_image = {"vgg16": VGG16, "resnet18": RESNET18}
    probe = cfg["probe"]
    itemsize = np.dtype(probe["dtype"]).itemsize
    model = {run: cfg["runs"][run].get("model", cfg["training"]["model"]) for run in cfg["runs"]}
    expected = sum(probe["size"] * (per_image[model[r]] * itemsize + 2 * 8) for r in dumped)
    planned = cost.study_cost(cfg, load(DEFAULT_CALIBRATION)).totals()["disk_bytes"]
    assert planned["activations"] == expected


def test_a_configfile_preset_runs_alone_beside_config_yaml(
    embedded_config, tmp_path, snakemake_env
):
    """A preset without the `cosine` run, next to config.yaml (which has it): no job of it."""
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    cfg = dict(embedded_config, preset="alone")
    del cfg["runs"]["cosine"]
    cfg["questions"]["rq1"]["runs"] = ["sgdr", "step"]
    (tmp_path / "alone.yaml").write_text(yaml.safe_dump(cfg))
    counts = dry_run_counts(tmp_path, snakemake_env, tmp_path / "alone.yaml")
    assert "train_cosine" not in counts
    assert counts == jobs.study_jobs(config.validate(cfg)).counts()
