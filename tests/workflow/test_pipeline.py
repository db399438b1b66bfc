"""The embedded pipeline end to end, through a real Snakemake DAG in a temporary folder,
with two seeds per run (the session's finished study, conftest.py)."""

from __future__ import annotations

import json
import os
import re

import h5py
import pandas as pd
import pytest
import yaml

from closerlook import plan, replicates, study_figures
from closerlook.findings import CLAIMS
from closerlook.jobs import study_jobs

from support import STUDY_FIGURES, planned_jobs, run_snakemake

pytestmark = pytest.mark.slow


def test_artifacts_land_where_the_design_says(finished):
    workdir, cfg, _ = finished
    results = workdir / "results" / cfg["preset"]
    assert not (results / "runs" / "small_batch").exists()  # the step run's network
    for run in replicates.trained_runs(cfg):
        epochs = plan.checkpoint_epochs(plan.trained_settings(cfg, run))
        for k in (0, 1):
            folder = results / "runs" / run / f"seed{k}"
            for e in epochs:
                assert (folder / "checkpoints" / f"epoch{e:03d}.pt").stat().st_size > 0
            metrics = pd.read_csv(folder / "metrics.csv")
            assert list(metrics["epoch"]) == list(range(cfg["training"]["epochs"] + 1))
            assert not metrics["diverged"].any()
            assert not (folder / "resume").exists()
    for curve in cfg["curves"]["connections"]:
        assert {p.name for p in (results / "curves" / curve).iterdir()} == {
            "seed0.pt",
            "seed0.h5",
            "seed1.pt",
            "seed1.h5",
        }
    for fmt in cfg["figures"]["formats"]:
        assert (results / "figures" / f"learning_curves.{fmt}").stat().st_size > 1000


def test_activation_files_hold_every_layer_for_the_probe_rows(finished):
    workdir, cfg, _ = finished
    files = sorted((workdir / "results" / cfg["preset"]).glob("runs/*/seed*/activations/*.h5"))
    assert files
    for path in files:
        with h5py.File(path) as f:
            assert f.attrs["kind"] == "activations"
            assert f"seed{f.attrs['replicate']}" == path.parents[1].name
            assert len(f.attrs["source_sha256"]) == 64
            n = cfg["probe"]["size"]
            assert f["probe/indices"].shape == (n,)
            layers = f["layers"]
            assert list(layers) and all(layers[name].shape[0] == n for name in layers)
            assert layers["conv1"].ndim == 4 and layers["logits"].shape == (n, 10)


def test_similarity_tables_are_tidy_and_bounded(finished):
    workdir, cfg, _ = finished
    for analysis in cfg["similarity"]["analyses"]:
        table = pd.read_csv(workdir / "results" / cfg["preset"] / "similarity" / f"{analysis}.csv")
        assert {
            "analysis",
            "seed",
            "seed_b",
            "run_a",
            "epoch_a",
            "run_b",
            "epoch_b",
            "layer",
            "layer_index",
            "method",
            "value",
        } <= set(table.columns)
        assert len(table) > 0
        # the debiased CKAs are unbiased estimates: near 0 (a shuffled baseline) they may
        # come out a little negative
        estimate = table["method"].str.startswith(("cka_debiased", "cka_minibatch"))
        assert table.loc[~estimate, "value"].between(0, 1 + 1e-9).all()
        assert table.loc[estimate, "value"].between(-0.1, 1 + 1e-9).all()
        assert {"cka_debiased", "procrustes"} <= set(table["method"])
        pairs = plan.analysis_pairs(cfg, analysis)
        assert table.groupby(["run_a", "epoch_a", "run_b", "epoch_b"]).ngroups == len(pairs)
        assert sorted(table["seed"].unique()) == [0, 1]
        per_seed = table.groupby("seed")["value"].apply(lambda v: v.to_numpy())
        assert len(per_seed[0]) == len(per_seed[1])  # the same comparisons in every seed


def test_a_finished_study_has_nothing_to_do(repo, finished):
    workdir, _, env = finished
    result = run_snakemake(workdir, env, "-n", "figures")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def study_figure_names() -> list[str]:
    return list(STUDY_FIGURES)


def dry_run_with(repo, finished, edit) -> dict[str, int]:
    workdir, _, env = finished
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    edit(cfg)
    changed = workdir / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    result = run_snakemake(workdir, env, "-n", "figures", "--configfile", str(changed))
    assert result.returncode == 0, result.stderr[-3000:]
    return planned_jobs(result)


FIGURE_RULES = {
    "learning_curves",
    "similarity_figure",
    "similarity_matrix_figure",
    "figures",
    *study_figure_names(),
}


def test_every_study_figure_and_findings_exist(finished):
    workdir, cfg, _ = finished
    results = workdir / "results" / cfg["preset"]
    assert set(study_figures.question_parts(cfg)) == set(study_figure_names())
    for name in study_figure_names():
        for fmt in cfg["figures"]["formats"]:
            assert (results / "figures" / f"{name}.{fmt}").stat().st_size > 1000, name
    text = (results / "findings.md").read_text()
    for cid, claim in CLAIMS.items():
        section = text.split(f"**{cid}** ({claim.paper}) {claim.statement}")[1].split("**RQ")[0]
        assert "- verdict: **" in section and "- measured: " in section, cid
        assert re.search(r"\d", section.split("- measured: ")[1]), cid
    # every similarity claim is decided under every measure, the new ones included
    by_measure = [m for m in re.findall(r"- by measure: (.*)", text) if "does not apply" not in m]
    assert by_measure
    for line in by_measure:
        verdict = r"(?:supports|contradicts|inconclusive|not_testable)"
        decided = re.findall(rf"(?:^|, )(\w+) {verdict}", line)
        assert decided == plan.measures(cfg), line
    # the reduced study trains 6 epochs, fewer than findings.min_epochs: it says so
    assert re.search(r"trained 6 epochs in seed \d, fewer than 10", text)
    # findings.json: the same verdicts, machine-readable
    doc = json.loads((results / "findings.json").read_text())
    assert [c["id"] for c in doc["claims"]] == list(CLAIMS)
    for c in doc["claims"]:
        assert f"| {c['id']} | ({c['finding']}) | **" in text
    assert "Preconditions:" in text


def test_the_report_holds_every_figure_and_the_findings(repo, finished):
    workdir, cfg, env = finished
    result = run_snakemake(workdir, env, "figures", "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (workdir / "report.html").read_text(errors="replace")
    figures = sorted((workdir / "results" / cfg["preset"] / "figures").glob("*.png"))
    shown = [f.name for f in figures if f.name in html]
    expected = len(STUDY_FIGURES) + 1 + len(cfg["similarity"]["analyses"])
    expected += sum(bool(a.get("matrix")) for a in cfg["similarity"]["analyses"].values())
    assert len(figures) == len(shown) == expected, sorted({f.name for f in figures} - set(shown))
    assert "findings.html" in html and "findings.md" in html
    # every entry has its caption; per-analysis captions name their analysis
    assert html.count("The verdict on every claim") >= 1
    assert "Every run." in html
    for analysis in cfg["similarity"]["analyses"]:
        assert f"Analysis {analysis}" in html, analysis


def test_a_figure_setting_reruns_only_figures(repo, finished):
    jobs = dry_run_with(repo, finished, lambda c: c["figures"].update(dpi=90))
    assert jobs and set(jobs) <= FIGURE_RULES
    assert "rq4_summary" in jobs and "findings" not in jobs


def test_a_colour_reruns_only_the_figures_that_draw_that_run(repo, finished):
    jobs = dry_run_with(repo, finished, lambda c: c["figures"].update(colours={"teacher": "k"}))
    # the teacher is in the distillation analysis' per-layer figure too
    want = {"learning_curves", "similarity_figure", "rq3_distillation_cca", "rq4_summary"}
    assert set(jobs) == {*want, "figures"}


def test_a_findings_setting_reruns_findings_and_summary_only(repo, finished):
    jobs = dry_run_with(repo, finished, lambda c: c["findings"]["margin"].update(accuracy=0.05))
    assert set(jobs) == {"findings", "rq4_summary", "figures"}


def test_a_similarity_setting_reruns_similarity_and_figures_but_no_training(repo, finished):
    jobs = dry_run_with(repo, finished, lambda c: c["similarity"].update(keep=0.95))
    assert "similarity_pair" in jobs
    assert {"findings", "rq2_warmup_cca", "rq3_distillation_cca"} <= set(jobs)
    assert not any(rule.startswith(("train_", "activations", "curve_")) for rule in jobs)


def test_a_third_seed_trains_only_the_third_replicates(repo, finished):
    cfg = finished[1]
    jobs = dry_run_with(repo, finished, lambda c: c.update(seeds=3))
    # replicate 2 of every network, and of SGDR also 502, replicate 2's partner
    assert jobs.pop("train_sgdr") == 2
    assert all(n == 1 for rule, n in jobs.items() if rule.startswith("train_"))
    curves = len(cfg["curves"]["connections"])  # one job per curve for the new seed
    assert all(n == curves for rule, n in jobs.items() if rule.startswith("curve_"))
    # the dumps of replicate 2 and of its partner 502 (the plan's, for three seeds)
    new = [a for a in study_jobs({**cfg, "seeds": 3}).activations if a.seed in (2, 502)]
    assert len({a.seed for a in new}) == 2
    pairs = sum(len(plan.analysis_pairs(cfg, a)) for a in cfg["similarity"]["analyses"])
    assert jobs["activations"] == len(new) and jobs["similarity_pair"] == pairs
    assert {"findings", "rq4_summary", "learning_curves"} <= set(jobs)


def test_the_replicates_differ_and_figures_show_their_spread(finished):
    workdir, cfg, _ = finished
    runs = workdir / "results" / cfg["preset"] / "runs"
    a, b = (pd.read_csv(runs / "sgdr" / f"seed{k}" / "metrics.csv") for k in (0, 1))
    assert not a["train_loss"].equals(b["train_loss"])  # seeds 0 and 1 train differently
    text = (workdir / "results" / cfg["preset"] / "findings.md").read_text()
    assert "2 seeds" in text


def test_one_runs_schedule_reruns_that_run_only(repo, finished):
    jobs = dry_run_with(repo, finished, lambda c: c["runs"]["step"]["schedule"].update(gamma=0.5))
    assert "train_step" in jobs and "train_sgdr" not in jobs


# ------------------------------------------------------------------------- the figure registry
THROWAWAY = """
from closerlook import plots, study_figures


@study_figures.study_figure(
    "rq9_throwaway", lambda c: study_figures.configured(c, runs=["sgdr"]), caption=CAPTION
)
def rq9_throwaway(ev, parts, colours, verdicts):
    fig = plots.plt.figure()
    fig.add_subplot().plot(ev.mean_metrics("sgdr")["val_acc"])
    return fig
"""


def test_a_registered_figure_gets_its_rule_and_its_caption(repo, finished, tmp_path):
    """One registry entry and one draw function make a figure: its rule is in the DAG, it
    is drawn, and the report shows it with its caption."""
    workdir, _, env = finished
    caption = tmp_path / "rq9_throwaway.rst"
    caption.write_text("A throw-away figure: the validation accuracy of sgdr.\n")
    module = THROWAWAY.replace("CAPTION", repr(str(caption)))
    (tmp_path / "throwaway_figure.py").write_text(module)
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(f'import throwaway_figure\n\n\ninclude: "{repo / "Snakefile"}"\n')
    env = {**env, "PYTHONPATH": os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])}
    cmd = ["--snakefile", str(snakefile), "figures"]

    assert planned_jobs(run_snakemake(workdir, env, *cmd, "-n")) == {
        "rq9_throwaway": 1,
        "figures": 1,
    }
    assert run_snakemake(workdir, env, *cmd).returncode == 0
    assert (workdir / "results/embedded/figures/rq9_throwaway.png").stat().st_size > 1000
    result = run_snakemake(workdir, env, *cmd, "--report", str(tmp_path / "report.html"))
    assert result.returncode == 0, result.stderr[-3000:]
    html = (tmp_path / "report.html").read_text(errors="replace")
    assert "rq9_throwaway.png" in html and "throw-away figure" in html
