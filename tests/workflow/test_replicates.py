"""Seeds fan the DAG out: every run, dump, comparison and curve once per seed, each pairing
like with like (replicate k with replicate k), and the aggregates once over all seeds. The
design (closerlook.replicates): identical runs are trained once, across-seed pairs are
disjoint (k against k + 500), and runs compared across heuristics share no seed."""

from __future__ import annotations

import copy
import os
import re

import pytest
import yaml

from closerlook import config, plan, replicates

from support import BIN, planned_jobs, run_snakemake, trim_questions

PER_SEED = ("train_", "activations", "similarity_pair", "curve_fit", "curve_evaluate")


def dry_run(tmp_path, env, cfg, *targets):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    result = run_snakemake(tmp_path, env, "-n", *(targets or ("figures",)))
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def job_blocks(result, rule: str) -> list[str]:
    """The printed blocks (input, output, ...) of every planned job of `rule`."""
    text = result.stdout + result.stderr
    return [
        b for b in re.split(r"\n(?=\[|rule |localrule )", text) if b.startswith(f"rule {rule}:")
    ]


def without_across_seeds(base: dict) -> dict:
    """The config without its across_seeds analyses and curves between seeds (each trains
    one replicate more)."""
    cfg = copy.deepcopy(base)
    analyses = cfg["similarity"]["analyses"]
    for name in [n for n, a in analyses.items() if a.get("kind") == "across_seeds"]:
        del analyses[name]
    curves = cfg["curves"]["connections"]
    for name in [n for n, c in curves.items() if "endpoints" in c]:
        if any(e.get("partner") for e in curves[name]["endpoints"]):
            del curves[name]
    return trim_questions(cfg)


@pytest.fixture(scope="module")
def plans(tmp_path_factory, embedded_config):
    """Dry runs of the embedded preset (without its seed-to-seed reference) with one, two
    and three seeds, and of the whole preset with three seeds (key "full")."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    out = {}
    for n in (1, 2, 3):
        cfg = {**without_across_seeds(embedded_config), "seeds": n}
        out[n] = dry_run(tmp_path_factory.mktemp(f"seeds{n}"), env, cfg)
    out["full"] = dry_run(tmp_path_factory.mktemp("full"), env, {**embedded_config, "seeds": 3})
    return out


def test_per_seed_jobs_scale_with_seeds_and_aggregates_do_not(plans, embedded_config):
    one = planned_jobs(plans[1])
    cfg = config.validate(without_across_seeds(embedded_config))
    compared = {
        (replicates.trained_run(cfg, run), point)
        for a in cfg["similarity"]["analyses"]
        for p in plan.analysis_pairs(cfg, a)
        for run, point in ((p[0], p[1]), (p[2], p[3]))
    }
    assert one["activations"] == len(compared)  # one dump per compared network checkpoint
    for n in (2, 3):
        jobs = planned_jobs(plans[n])
        assert set(jobs) == set(one)
        for rule, count in one.items():
            want = n * count if rule.startswith(PER_SEED) else count
            assert jobs[rule] == want, (n, rule, jobs[rule])


def seed_of(path: str) -> str:
    return re.search(r"/seed(\d+)[/.]", path).group(1)


def test_comparisons_pair_seed_k_with_seed_k(plans):
    blocks = job_blocks(plans[3], "similarity_pair")
    assert len(blocks) == planned_jobs(plans[3])["similarity_pair"]
    for block in blocks:
        inputs = re.search(r"input: (.*)", block).group(1).split(", ")
        outputs = re.search(r"output: (.*)", block).group(1).split(", ")
        assert len({seed_of(p) for p in inputs + outputs}) == 1, block
    seeds = {seed_of(re.search(r"output: (\S+)", b).group(1)) for b in blocks}
    assert seeds == {"0", "1", "2"}


def test_a_student_learns_from_the_teacher_of_its_own_seed(plans):
    blocks = job_blocks(plans[3], "train_student_distill")
    assert len(blocks) == 3
    for block in blocks:
        teacher = re.search(r"input: (\S+)", block).group(1)
        output = re.search(r"output: (\S+)", block).group(1)
        assert "/runs/teacher/" in teacher and seed_of(teacher) == seed_of(output)


def test_curves_join_checkpoints_of_one_seed(plans, embedded_config):
    blocks = job_blocks(plans[2], "curve_fit")
    curves = without_across_seeds(embedded_config)["curves"]["connections"]
    assert len(blocks) == 2 * len(curves)
    for block in blocks:
        paths = re.search(r"input: (.*)", block).group(1).split(", ")
        out = re.search(r"output: (\S+)", block).group(1)
        assert len(paths) == 2 and {seed_of(p) for p in paths} == {seed_of(out)}


def test_findings_read_every_seed_of_every_run(plans, embedded_config):
    (block,) = job_blocks(plans[3], "findings")
    inputs = re.search(r"input: (.*)", block).group(1).split(", ")
    metrics = {p for p in inputs if p.endswith("metrics.csv")}
    runs = {p.split("/runs/")[1].split("/")[0] for p in metrics}
    cfg = config.validate(without_across_seeds(embedded_config))
    assert runs == set(replicates.trained_runs(cfg))  # identical runs read one network
    assert len(metrics) == 3 * len(runs) and {seed_of(p) for p in metrics} == {"0", "1", "2"}


def test_across_seeds_compares_replicate_k_with_its_partner_k_plus_seeds(plans, embedded_config):
    cfg = config.validate({**embedded_config, "seeds": 3})
    (name,) = [n for n, a in cfg["similarity"]["analyses"].items() if a["kind"] == "across_seeds"]
    run = cfg["similarity"]["analyses"][name]["run"]
    assert [plan.partner_seed(cfg, name, k) for k in (0, 1, 2)] == [500, 501, 502]
    jobs = planned_jobs(plans["full"])
    assert jobs[f"train_{run}"] == 6  # replicates 0-2, and 500-502 as their partners
    assert all(n == 3 for rule, n in jobs.items() if rule.startswith("train_") and run not in rule)
    blocks = [b for b in job_blocks(plans["full"], "similarity_pair") if f"/{name}/" in b]
    assert len(blocks) == 3 * len(plan.analysis_pairs(cfg, name))
    for block in blocks:
        a, b = re.search(r"input: (.*)", block).group(1).split(", ")
        assert int(seed_of(b)) == int(seed_of(a)) + 500 and f"/runs/{run}/" in a + b


def test_no_replicate_is_in_two_across_seed_pairs(plans):
    """Each independent pair has networks of its own: no replicate of a run appears in two
    across-seed pairs (comparisons or curves), so their effects are independent."""
    inputs = {}
    for rule, marker in (
        ("similarity_pair", "/seed_to_seed/"),
        ("curve_fit", "curve=seed_to_seed"),
    ):
        for block in job_blocks(plans["full"], rule):
            if marker in block:
                a, b = re.search(r"input: (.*)", block).group(1).split(", ")[:2]
                inputs.setdefault(rule, set()).add((seed_of(a), seed_of(b)))
    for rule, pairs in inputs.items():
        assert pairs == {("0", "500"), ("1", "501"), ("2", "502")}, rule
        used = [k for pair in pairs for k in pair]
        assert len(used) == len(set(used)), rule


def test_the_curve_between_independent_optima_joins_replicate_k_and_its_partner(plans):
    """Finding (e): the curve's endpoints are two independently trained replicates."""
    blocks = [b for b in job_blocks(plans["full"], "curve_fit") if "curve=seed_to_seed" in b]
    assert len(blocks) == 3  # one curve per seed
    for block in blocks:
        a, b = re.search(r"input: (.*)", block).group(1).split(", ")
        out = re.search(r"output: (\S+)", block).group(1)
        assert int(seed_of(a)) == int(seed_of(out)) and int(seed_of(b)) == int(seed_of(a)) + 500
        assert a.split("/checkpoints/")[1] == b.split("/checkpoints/")[1]  # the same epoch


def test_seeds_must_be_a_positive_count(embedded_config):
    with pytest.raises(config.ConfigError, match="'seeds'"):
        config.validate({**embedded_config, "seeds": 0})
    assert plan.replicates(config.validate({**embedded_config, "seeds": 3})) == [0, 1, 2]


def test_replicate_k_trains_with_the_runs_seed_plus_k(embedded_config):
    cfg = config.validate({**embedded_config, "seeds": 3})
    cfg["runs"]["teacher"]["seed"] = 7
    assert [plan.run_settings(cfg, "teacher", k).seed for k in (0, 1, 2)] == [7, 8, 9]
    assert [plan.run_settings(cfg, "sgdr", k).seed for k in (0, 1, 2)] == [0, 1, 2]
    # the second run without pair_with: seeds of its own, 1000 on
    assert [plan.run_settings(cfg, "step", k).seed for k in (0, 1, 2)] == [1000, 1001, 1002]


def test_identical_runs_are_trained_once(plans, embedded_config):
    """The embedded preset's small-batch baseline is the step-decay run (same settings,
    paired): one network, trained once, saving what each needs."""
    jobs = planned_jobs(plans["full"])
    cfg = config.validate(embedded_config)
    trained = replicates.trained_runs(cfg)
    assert {r for r in jobs if r.startswith("train_")} == {f"train_{r}" for r in trained}
    assert "small_batch" not in trained
    (block,) = [b for b in job_blocks(plans["full"], "train_step") if "seed=0" in b]
    assert "step000015.pt" in block and "epoch016.pt" in block  # small_batch's, step's
    pairs = [b for b in job_blocks(plans["full"], "similarity_pair") if "/init_small_batch/" in b]
    assert pairs and all("/runs/step/" in b and "small_batch.e000--" in b for b in pairs)


def test_runs_compared_across_heuristics_share_no_seed(embedded_config):
    """SGDR against step decay (finding (d)'s across_runs analysis and (e)'s robustness
    curves): the two sides train disjoint torch seeds, so share no initialisation or data
    order; RQ2's and RQ3's contrasts are paired on purpose."""
    cfg = config.validate(embedded_config)

    def seeds(run):
        return {plan.run_settings(cfg, run, k).seed for k in replicates.replicate_indices(cfg)}

    assert not seeds("sgdr") & seeds("step")
    for curve in cfg["questions"]["rq4"]["robustness"]:
        (a, _), (b, _) = plan.curve_endpoints(cfg, curve)
        assert not seeds(a) & seeds(b), curve
    assert seeds("large_batch") == seeds("large_batch_warmup") == seeds("large_batch_frozen")
    assert seeds("student_distill") == seeds("student_plain")
    assert not seeds("teacher") & seeds("student_plain")
