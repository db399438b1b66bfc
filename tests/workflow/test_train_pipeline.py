"""End to end through Snakemake: a diverging run and a distilled student complete the DAG."""

import copy

import pandas as pd
import pytest
import torch
import yaml

from support import run_snakemake, trim_questions


@pytest.mark.slow
def test_divergence_and_distillation_through_the_pipeline(
    repo, tmp_path, embedded_config, snakemake_env
):
    cfg = copy.deepcopy(embedded_config)
    cfg["seeds"] = 1
    cfg["training"]["epochs"] = 3
    cfg["runs"] = {
        "sgdr": {"schedule": {"kind": "sgdr", "lr_max": 0.05, "lr_min": 0.0, "T0": 1, "T_mult": 2}},
        "blowup": {"schedule": {"kind": "constant", "lr": 1.0e8}, "save_epochs": [1]},
        "student": {
            "schedule": {"kind": "constant", "lr": 0.05},
            "distill": {"teacher": {"run": "sgdr"}},
        },
    }
    cfg["probe"]["size"] = 100
    curves = cfg["curves"]["connections"]  # the SGDR run's own curves
    cfg["curves"]["connections"] = {c: curves[c] for c in ("sgdr_restarts", "seed_to_seed")}
    cfg["similarity"]["analyses"] = {
        "sgdr_restarts": {"run": "sgdr", "epochs": "cycle_ends"},
        "blowup": {"run": "blowup", "epochs": "saved"},
    }
    cfg["figures"]["formats"] = ["png"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(trim_questions(cfg)))
    env = {**snakemake_env, "PYTHONPATH": str(repo / "src")}
    result = run_snakemake(tmp_path, env, cores=2)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = tmp_path / "results/embedded/runs"
    metrics = pd.read_csv(runs / "blowup/seed0/metrics.csv")
    assert metrics["diverged"].tolist() == [False, True]
    assert (
        "DIVERGED in epoch 1"
        in (tmp_path / "results/embedded/logs/train/blowup.seed0.log").read_text()
    )
    last = torch.load(runs / "blowup/seed0/checkpoints/epoch003.pt", weights_only=False)
    assert last["placeholder"] and last["provenance"]["epoch"] == 3
    table = pd.read_csv(tmp_path / "results/embedded/similarity/blowup.csv")
    assert table["value"].isna().any()
    assert (tmp_path / "results/embedded/figures/similarity_blowup.png").exists()
    student = torch.load(runs / "student/seed0/checkpoints/epoch003.pt", weights_only=False)
    teacher = student["provenance"]["teacher_checkpoint"]
    assert teacher.endswith("sgdr/seed0/checkpoints/epoch003.pt")
    assert not (runs / "student/seed0/resume").exists()
