"""The plan's jobs (closerlook.jobs) are Snakemake's: for both presets, each rule's job count
equals a dry run's; and a preset given with --configfile runs alone, even beside the
embedded config.yaml (nothing of it leaks in)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from closerlook import config, jobs

from support import PAPER, REPO, planned_jobs, run_snakemake


def dry_run_counts(workdir, env, configfile) -> dict[str, int]:
    env = {**env, "PYTHONPATH": str(REPO / "src")}
    done = run_snakemake(workdir, env, "-n", "figures", configfile=configfile, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return planned_jobs(done)


@pytest.mark.parametrize("preset", ["embedded", "paper"])
def test_the_plan_counts_the_jobs_of_the_dry_run(preset, tmp_path, snakemake_env):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    path = PAPER if preset == "paper" else tmp_path / "config.yaml"
    assert jobs.study_jobs(config.load(path)).counts() == dry_run_counts(
        tmp_path, snakemake_env, path
    )


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
