"""Your own network and schedule through the whole workflow: the worked example
(workflow/configs/examples/own_network.yaml, its my_nets.py and my_schedules.py) copied into
a temporary folder and run end to end, shortened — training, dumps of the named layers,
similarity, a curve, figures, findings — then the stale-only contract for user code by dry
runs: editing the schedule's file reruns only the run that uses it, editing the network's
file the runs of that model, never the built-in model's."""

from __future__ import annotations

import os
import shutil

import h5py
import pandas as pd
import pytest
import yaml

from closerlook import checkpoints, config

from support import BIN, REPO, planned_jobs, run_snakemake

pytestmark = pytest.mark.slow
EXAMPLE = REPO / "workflow/configs/examples"
LAYERS = ["body.0", "body.2", "body.4", "head"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The example in a folder of its own, 6 epochs (SGDR cycles end after 2 and 6)."""
    work = tmp_path_factory.mktemp("own")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("my_nets.py", "my_schedules.py"):
        shutil.copy(EXAMPLE / name, work / name)
    cfg = config.read(EXAMPLE / "own_network.yaml")
    cfg["training"]["epochs"] = 6
    cfg["runs"]["baseline"]["schedule"]["milestones"] = [3, 5]
    cfg["probe"]["size"] = 100
    cfg["curves"].update(points=5, plane={"grid": 3})
    cfg["curves"]["connections"]["sgdr_restarts"]["train_epochs"] = 2
    cfg["findings"]["min_epochs"] = 2
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    done = run_snakemake(work, env, "figures", timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return work, work / "results/own_network", env


def test_the_checkpoint_records_the_users_model_spec(study):
    work, results, _ = study
    ckpt = checkpoints.load_checkpoint(results / "runs/sgdr/seed0/checkpoints/epoch006.pt")
    spec = ckpt["model_spec"]
    assert spec["arch"] == "python" and spec["factory"] == "my_nets:build"
    assert spec["kwargs"] == {"width": 16} and spec["layers"] == LAYERS
    assert (work / spec["source"]).resolve() == (work / "my_nets.py").resolve()


def test_the_named_layers_are_dumped_compared_and_drawn(study):
    _, results, _ = study
    with h5py.File(results / "runs/cyclic/seed0/activations/epoch006.h5") as f:
        shapes = {name: f["layers"][name].shape for name in LAYERS}
    assert shapes == {
        "body.0": (100, 16, 8, 8),
        "body.2": (100, 32, 4, 4),
        "body.4": (100, 32),
        "head": (100, 10),
    }
    table = pd.read_csv(results / "similarity/sgdr_vs_cyclic.csv")
    assert list(dict.fromkeys(table["layer"])) == LAYERS
    assert {"dft_svcca", "svcca", "cka", "cka_shuffled"} <= set(table["method"])
    for name in ("similarity_sgdr_restarts", "rq1_line_and_curve", "rq1_loss_plane"):
        assert (results / f"figures/{name}.png").stat().st_size > 0
    assert (results / "curves/sgdr_restarts/seed0.h5").exists()


def test_findings_decide_the_restart_claims_on_the_users_network(study):
    _, results, _ = study
    findings = (results / "findings.md").read_text()
    assert "sgdr epoch 2 → sgdr epoch 6" in findings
    assert "| RQ1.1 | (a) | **inconclusive** | — |" not in findings  # measured, not missing


def test_editing_the_users_files_reruns_only_what_they_build(study):
    work, _, env = study
    assert planned_jobs(run_snakemake(work, env, "-n", "figures")) == {}
    with open(work / "my_schedules.py", "a") as f:
        f.write("# a new line: the run that uses the schedule is stale\n")
    jobs = planned_jobs(run_snakemake(work, env, "-n", "figures"))
    assert {r for r in jobs if r.startswith("train_")} == {"train_cyclic"}
    assert "curve_fit" not in jobs  # the curve joins sgdr's restarts
    with open(work / "my_nets.py", "a") as f:
        f.write("# a new line: every run of the model is stale\n")
    jobs = planned_jobs(run_snakemake(work, env, "-n", "figures"))
    assert {r for r in jobs if r.startswith("train_")} == {"train_cyclic", "train_sgdr"}
    assert jobs["curve_fit"] == 1 and jobs["activations"] == 3  # not the baseline's
