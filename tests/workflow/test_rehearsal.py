"""The rehearsal of the paper preset (workflow/configs/rehearsal.yaml over paper.yaml) runs
end to end on the CPU: every paper-only code path — the synthetic CIFAR-shaped archive in
the official layout, VGG-16 with its 4096-4096 head and ResNet-18 on 3 x 32 x 32 tensors,
large batches, warmup, freezing, a mid-epoch step checkpoint and the pair that reads it,
32 x 32 DFT-CCA with every measure and its baseline in tidy tables, the layer x layer
matrix, both curves and the loss plane, every figure and findings.md; then nothing left
to do."""

from __future__ import annotations

import os

import h5py
import pandas as pd
import pytest

from closerlook import checkpoints, compare, config, jobs, plan
from closerlook.activation_file import open_activations

from support import BIN, PAPER, REPO, run_snakemake

REHEARSAL = REPO / "workflow/configs/rehearsal.yaml"


@pytest.mark.slow
def test_the_rehearsal_runs_every_paper_code_path(tmp_path):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env["PYTHONPATH"] = str(REPO / "src")
    cmd_args = ("figures", "--configfile", str(PAPER), str(REHEARSAL))
    done = run_snakemake(tmp_path, env, *cmd_args, timeout=1500)
    assert done.returncode == 0, done.stderr[-4000:]
    cfg = config.load_all([PAPER, REHEARSAL])
    results = tmp_path / "results" / "rehearsal"

    # every job of the plan ran: the paper preset's rules, with the synthetic archive
    counts = jobs.study_jobs(cfg).counts()
    assert counts["synthetic_cifar10"] == 1 and "download_cifar10" not in counts
    assert (tmp_path / "data/synthetic-cifar-10/data_batch_5").is_file()

    # VGG-16's registered layers at 32 x 32, and ResNet-18's step checkpoint dump
    vgg = results / "runs/sgdr/seed0/activations/epoch003.h5"
    with open_activations(vgg) as f:
        assert f.layer_names()[0] == "conv1" and f.layer_names()[-3:] == ["fc1", "fc2", "logits"]
        assert f.read("conv1").shape == (20, 64, 32, 32) and f.read("fc2").shape == (20, 4096)

    # the step checkpoint mid-epoch (ResNet-18 at batch 10: step 2 of 4 per epoch), its
    # dump, and the small-batch pair that reads it
    small = results / "runs/small_batch/seed0"
    ckpt = checkpoints.load_checkpoint(small / "checkpoints/step000002.pt")
    assert (ckpt["point"], ckpt["step"], ckpt["epoch"]) == ("step2", 2, 0.5)
    with open_activations(small / "activations/step000002.h5") as f:
        assert f.provenance["epoch"] == "step2"
        assert f.provenance["source_checkpoint"].endswith("checkpoints/step000002.pt")
    steps = pd.read_csv(results / "similarity/init_small_batch.csv")
    assert set(steps["epoch_a"].astype(str)) == {"0"}  # pairs: from_first
    assert set(steps["epoch_b"]) == {"step2", "step3"}

    # one tidy table per analysis: every pair of the plan, every measure and its shuffled
    # baseline, a coefficient file per pair; DFT-CCA in [0, 1]; the layer x layer matrix
    methods = cfg["similarity"]["methods"]
    for analysis in cfg["similarity"]["analyses"]:
        table = pd.read_csv(results / f"similarity/{analysis}.csv")
        assert list(table.columns) == compare.COLUMNS
        pairs = table[["run_a", "epoch_a", "run_b", "epoch_b"]].drop_duplicates()
        assert len(pairs) == len(plan.analysis_pairs(cfg, analysis))
        assert set(table["method"]) == {*methods, *(m + "_shuffled" for m in methods)}
        assert table["value"].notna().all()
        assert table[table["method"] == "dft_cca"]["value"].between(0, 1).all()
        files = list((results / f"similarity/{analysis}/seed0").glob("*.h5"))
        assert len(files) == len(pairs)
        with h5py.File(files[0]) as f:
            assert f.attrs["kind"] == "similarity"
    # the layer x layer matrix of each of the analysis' pairs (0/2 and 0/3)
    matrix = pd.read_csv(results / "similarity/init_large_batch.matrix.csv")
    assert set(zip(matrix["epoch_a"], matrix["epoch_b"], strict=True)) == {(0, 2), (0, 3)}
    # RQ1's control: each step-decay drop (after epochs 1 and 2) against one epoch later
    drops = pd.read_csv(results / "similarity/step_decay.csv")
    assert set(zip(drops["epoch_a"], drops["epoch_b"], strict=True)) == {(1, 2), (2, 3)}

    # both curves, every figure, and findings that answer every question
    for curve in cfg["curves"]["connections"]:
        assert (results / f"curves/{curve}/seed0.h5").is_file()
    figures = list((results / "figures").glob("*.png"))
    assert len(figures) >= counts["similarity_figure"] + 8
    findings = (results / "findings.md").read_text()
    for question in ("RQ1", "RQ2", "RQ3", "RQ4"):
        assert question in findings
    assert "not from CIFAR-10" in findings.splitlines()[2]

    # and a finished rehearsal has nothing left to do
    again = run_snakemake(tmp_path, env, "-n", *cmd_args, timeout=300)
    assert "Nothing to be done" in again.stdout + again.stderr
