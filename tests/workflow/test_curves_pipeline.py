"""The curve rules through a real Snakemake DAG: files, provenance and stale-only reruns."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import h5py
import pytest
import torch
import yaml

from closerlook import config, plan

from support import BIN, reduced_config, tool, trim_questions

pytestmark = pytest.mark.slow


def snakemake(repo: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    cmd = [tool("snakemake"), "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir)


def planned_jobs(result: subprocess.CompletedProcess) -> set[str]:
    """Rule names in the 'Job stats' table of a dry run."""
    lines = (result.stdout + result.stderr).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    jobs = set()
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        jobs.add(parts[0])
    return jobs


@pytest.fixture(scope="module")
def curve_study(repo, tmp_path_factory, embedded_config):
    """Only the SGDR run and its curve, built through the `curves` target."""
    workdir = tmp_path_factory.mktemp("curves")
    cfg = reduced_config(embedded_config)
    cfg["runs"] = {"sgdr": cfg["runs"]["sgdr"]}
    cfg["similarity"]["analyses"] = {}
    curves = cfg["curves"]["connections"]  # the SGDR run's own curves
    cfg["curves"]["connections"] = {c: curves[c] for c in ("sgdr_restarts", "seed_to_seed")}
    trim_questions(cfg)
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    result = snakemake(repo, workdir, "curves")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, config.validate(cfg)


def test_curve_file_and_bends_land_where_the_design_says(curve_study):
    workdir, cfg = curve_study
    folder = workdir / "results" / cfg["preset"] / "curves" / "sgdr_restarts"
    (run_a, epoch_a), (run_b, epoch_b) = plan.curve_endpoints(cfg, "sgdr_restarts")
    assert (run_a, epoch_a, run_b, epoch_b) == ("sgdr", 2, "sgdr", 6)
    bends = torch.load(folder / "seed0.pt", weights_only=False)
    assert bends["kind"] == "curve" and bends["bends"].shape[0] == 3
    with h5py.File(folder / "seed0.h5") as f:
        assert f.attrs["kind"] == "curve"
        assert (f.attrs["run_a"], f.attrs["epoch_a"]) == ("sgdr", 2)
        assert (f.attrs["run_b"], f.attrs["epoch_b"]) == ("sgdr", 6)
        assert f.attrs["replicate"] == 0
        assert f.attrs["source_checkpoint_a"].endswith("runs/sgdr/seed0/checkpoints/epoch002.pt")
        for side in "ab":
            assert len(f.attrs[f"source_sha256_{side}"]) == 64
        assert f["t"].shape == (cfg["curves"]["points"],)
        assert f["plane/train_loss"].shape == (3, 3)
        labels = [s.decode() for s in f["plane/checkpoints_label"][:]]
        epochs = plan.checkpoint_epochs(plan.run_settings(cfg, "sgdr"))
        assert labels == [f"sgdr.e{e:03d}" for e in epochs]


def test_evaluation_settings_rerun_only_the_evaluation(repo, curve_study):
    workdir, _ = curve_study
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    done = snakemake(repo, workdir, "-n", "curves")
    assert "Nothing to be done" in done.stdout + done.stderr
    cfg["curves"]["points"] = 7
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert planned_jobs(snakemake(repo, workdir, "-n", "curves")) == {"curve_evaluate", "curves"}
    cfg["curves"]["connections"]["sgdr_restarts"]["lr"] = 0.02
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert planned_jobs(snakemake(repo, workdir, "-n", "curves")) == {
        "curve_fit",
        "curve_evaluate",
        "curves",
    }
