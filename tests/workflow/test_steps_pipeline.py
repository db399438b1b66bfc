"""Step checkpoints in the workflow: the paper preset's RQ2 (ResNet-18 runs; the small
batch compared at step 200, the 200 iterations of 20 epochs at batch 5000) planned without
the CIFAR-10 files (tests/workflow/test_rehearsal.py runs a step analysis end to end)."""

from __future__ import annotations

import re

from closerlook import config, plan
from closerlook.cli import main

from support import PAPER, dry_run_plan

RQ2_RUNS = ("large_batch", "large_batch_warmup", "large_batch_frozen", "small_batch")


def jobs(printed: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, {input, output, ...}) of every job a `snakemake -n` plan lists."""
    found = []
    for block in re.split(r"\n(?=\[[A-Z][a-z]{2} )", printed):
        head = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if head:
            fields = dict(re.findall(r"^\s+(input|output|wildcards): (.*)$", block, re.M))
            found.append((head.group(1), fields))
    return found


def dry_run(workdir, env, *targets: str) -> str:
    """The printed plan of the paper preset's `targets`."""
    return dry_run_plan(workdir, env, *targets, configfile=PAPER)


def test_the_paper_small_batch_pair_reads_the_step_200_checkpoint(tmp_path, snakemake_env):
    # CIFAR-10 is absent: the plan downloads it first, then trains
    printed = dry_run(tmp_path, snakemake_env, "results/paper/similarity/init_small_batch.csv")
    planned = jobs(printed)
    assert "download_cifar10" in {rule for rule, _ in planned}
    root = "results/paper/runs/small_batch"
    for seed in range(3):
        run = f"{root}/seed{seed}"
        step = f"{run}/checkpoints/step000200.pt"
        (trained,) = [f for r, f in planned if r == "train_small_batch" and step in f["output"]]
        assert f"{run}/checkpoints/epoch000.pt" in trained["output"]
        dumps = {f["output"]: f["input"] for r, f in planned if r == "activations"}
        assert dumps[f"{run}/activations/step000200.h5"] == step
        table = (
            f"results/paper/similarity/init_small_batch/seed{seed}/"
            "small_batch.e000--small_batch.step000200.csv"
        )
        (pair,) = [f for r, f in planned if r == "similarity_pair" and table in f["output"]]
        assert pair["input"].split(", ") == [
            f"{run}/activations/epoch000.h5",
            f"{run}/activations/step000200.h5",
        ]
    # the large batches still compare initialisation with epoch 20
    printed = dry_run(tmp_path, snakemake_env, "results/paper/similarity/init_large_batch.csv")
    assert "large_batch.e000--large_batch.e020.csv" in printed and "step0" not in printed


def test_the_paper_preset_plans_every_figure_with_the_step_pair(tmp_path, snakemake_env):
    printed = dry_run(tmp_path, snakemake_env, "figures")
    assert "small_batch.e000--small_batch.step000200.csv" in printed
    assert "small_batch/seed0/activations/step000200.h5" in printed


def test_the_paper_rq2_runs_are_resnet18_and_small_batch_saves_step_200(capsys):
    assert main(["check", str(PAPER)]) == 0
    out = capsys.readouterr().out
    for run in RQ2_RUNS:
        assert re.search(rf"^  run {run}: .*; model resnet18$", out, re.M), run
    # 500 steps an epoch at batch 100: steps 200 and 300 are epochs 0.4 and 0.6
    saves = "saves 0, 20, 200, step200 (epoch 0.4), step300 (epoch 0.6);"
    assert f"run small_batch: step, 200 epochs, {saves}" in out
    assert "run sgdr: sgdr, 200 epochs, saves 0, 10, 12, 30, 33, 70, 74, 150, 152, 200" in out

    cfg = config.load(PAPER)
    # initialisation against each later point (pairs: from_first)
    assert plan.analysis_pairs(cfg, "init_small_batch") == [
        ("small_batch", 0, "small_batch", "step200"),
        ("small_batch", 0, "small_batch", "step300"),
    ]
    for name in ("init_large_batch", "init_large_batch_warmup", "init_large_batch_frozen"):
        assert plan.analysis_epochs(cfg, name) == [0, 20, 30]
        run = cfg["similarity"]["analyses"][name]["run"]
        assert plan.analysis_pairs(cfg, name) == [(run, 0, run, 20), (run, 0, run, 30)]
    # 200 and 300 steps at batch 100 are the 200 and 300 iterations of 20 and 30 epochs at
    # batch 5000 (10 steps an epoch)
    large = plan.run_settings(cfg, "large_batch_warmup")
    assert plan.steps_per_epoch(cfg, "large_batch_warmup") * large.warmup_epochs == 200
    assert plan.steps_per_epoch(cfg, "large_batch_warmup") * 30 == 300
    assert plan.checkpoint_steps(plan.run_settings(cfg, "small_batch")) == [200, 300]
    frozen = plan.run_settings(cfg, "large_batch_frozen")
    assert frozen.model == "resnet18" and frozen.freeze["layers"] == ["classifier"]
    assert {plan.run_settings(cfg, r).model for r in ("sgdr", "teacher")} == {"vgg16"}
