"""The paper preset follows the authors' code (akhileshgotmare/sgdr): what its DAG compares,
read off a dry run of workflow/configs/paper.yaml (no CIFAR-10 needed)."""

from __future__ import annotations

import os
import re

import pytest

from closerlook import config, plan

from support import BIN, PAPER, run_snakemake


@pytest.fixture(scope="module")
def paper():
    return config.load(PAPER)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> str:
    """The printed dry run of the paper preset's figures."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    workdir = tmp_path_factory.mktemp("paper")
    done = run_snakemake(workdir, env, "-n", "figures", configfile=PAPER, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def pairs(dry_run: str, analysis: str) -> set[tuple[str, str]]:
    """(input a, input b) of every similarity job of `analysis`."""
    blocks = re.split(r"\n(?=\[|rule |localrule )", dry_run)
    out = set()
    for b in blocks:
        if b.startswith("rule similarity_pair:") and f"analysis={analysis}," in b:
            a, other = re.search(r"input: (.*)", b).group(1).split(", ")
            out.add((a.split("/runs/")[1], other.split("/runs/")[1]))
    return out


def test_seed_to_seed_reads_sgdr_at_its_last_cycle_end(dry_run, paper):
    assert plan.resolve_epoch(paper, "sgdr", "last_cycle_end") == 150
    got = pairs(dry_run, "seed_to_seed")
    # replicate k against its independent partner k + 500
    assert ("sgdr/seed0/activations/epoch150.h5", "sgdr/seed500/activations/epoch150.h5") in got
    assert not any("epoch200" in a + b for a, b in got)  # never 50 epochs into a cycle
    assert ("sgdr/seed0/activations/epoch150.h5", "step/seed0/activations/epoch200.h5") in (
        pairs(dry_run, "sgdr_vs_step")
    )


def test_the_restart_analysis_compares_each_restart_with_a_few_epochs_later(dry_run):
    got = {(a.split("/")[-1], b.split("/")[-1]) for a, b in pairs(dry_run, "sgdr_restarts")}
    after = {(10, 12), (30, 33), (70, 74), (150, 152)}
    consecutive = {(10, 30), (30, 70), (70, 150)}
    assert got == {(f"epoch{e:03d}.h5", f"epoch{f:03d}.h5") for e, f in after | consecutive}


def test_the_curve_between_independent_optima_joins_replicate_k_and_its_partner(dry_run, paper):
    blocks = [b for b in re.split(r"\n(?=\[|rule )", dry_run) if b.startswith("rule curve_fit:")]
    independent = [b for b in blocks if "curve=seed_to_seed" in b]
    assert len(independent) == paper["seeds"]
    for b in independent:
        k = int(re.search(r"seed=(\d+)", b).group(1))
        inputs = re.search(r"input: (.*)", b).group(1)
        assert inputs == (
            f"results/paper/runs/sgdr/seed{k}/checkpoints/epoch150.pt, "
            f"results/paper/runs/sgdr/seed{k + 500}/checkpoints/epoch150.pt"
        )


def test_curves_train_for_the_authors_budget(paper):
    for name in ("sgdr_restarts", "seed_to_seed"):
        fit = plan.curve_fit(paper, name)
        assert (fit.epochs, fit.lr) == (100, 0.1), name


def test_the_vgg16_head_is_the_authors(paper):
    assert paper["models"]["vgg16"]["fc"] == [4096, 4096]
    assert paper["models"]["vgg16"]["dropout"] == 0.5
