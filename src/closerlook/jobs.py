"""The jobs of the study's DAG, enumerated from the plan (closerlook.plan) as the workflow's
input functions request them (workflow/rules/common.smk), without Snakemake: which
replicates each run trains, which checkpoints are dumped, which pairs are compared, which
curves are fitted, and the one-job rules of tables and figures.

A test holds these counts to Snakemake's own dry run of both presets
(docs/architecture.md, "the plan").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from closerlook import plan, replicates, study_figures
from closerlook.points import Point


@dataclass(frozen=True)
class Activation:
    """One activation dump: a checkpoint of one replicate of a trained run (the network of
    every run identical to it: closerlook.replicates.trained_run)."""

    run: str
    seed: int
    point: Point


@dataclass(frozen=True)
class PairJob:
    """One compared pair of an analysis in seed k (`b` from the partner seed)."""

    analysis: str
    seed: int
    a: Activation
    b: Activation


@dataclass
class StudyJobs:
    """Every job of the `figures` target: per rule, what each job works on."""

    trainings: dict[str, list[int]] = field(default_factory=dict)  # run -> replicates
    activations: list[Activation] = field(default_factory=list)
    pairs: list[PairJob] = field(default_factory=list)
    curves: list[tuple[str, int]] = field(default_factory=list)  # (curve, seed)
    analyses: list[str] = field(default_factory=list)
    matrix_analyses: list[str] = field(default_factory=list)
    study_figures: list[str] = field(default_factory=list)
    data_rule: str | None = None  # the rule that fetches or writes the dataset

    def counts(self) -> dict[str, int]:
        """Jobs per rule, named as the workflow names its rules."""
        out = {self.data_rule: 1} if self.data_rule else {}
        out |= {f"train_{run}": len(seeds) for run, seeds in self.trainings.items()}
        out |= {
            "activations": len(self.activations),
            "similarity_pair": len(self.pairs),
            "similarity_table": len(self.analyses),
            "similarity_matrix_table": len(self.matrix_analyses),
            "curve_fit": len(self.curves),
            "curve_evaluate": len(self.curves),
            "learning_curves": 1,
            "similarity_figure": len(self.analyses),
            "similarity_matrix_figure": len(self.matrix_analyses),
        }
        out |= {name: 1 for name in self.study_figures}
        out |= {"findings": 1, "figures": 1}
        return {rule: n for rule, n in out.items() if n}


def analysis_pair_jobs(config: Mapping[str, Any], name: str) -> list[PairJob]:
    """An analysis' pairs in every seed, the second side from the partner seed."""
    jobs, trained = [], replicates.trained_map(config)
    for seed in plan.replicates(config):
        partner = plan.partner_seed(config, name, seed)
        for run_a, point_a, run_b, point_b in plan.analysis_pairs(config, name):
            a = Activation(trained[run_a], seed, point_a)
            b = Activation(trained[run_b], partner, point_b)
            jobs.append(PairJob(name, seed, a, b))
    return jobs


def trained_replicates(config: Mapping[str, Any], pairs: list[PairJob]) -> dict[str, list[int]]:
    """The replicates each trained run (closerlook.replicates.trained_runs) trains: every
    seed (the learning curves read all), the partner replicates of across-seeds pairs and
    of curve endpoints, and the teacher's replicate of each distilled replicate."""
    seeds = plan.replicates(config)
    trained = replicates.trained_map(config)
    wanted: dict[str, set[int]] = {run: set(seeds) for run in trained.values()}
    for p in pairs:
        wanted[p.a.run].add(p.a.seed)
        wanted[p.b.run].add(p.b.seed)
    for curve in config["curves"]["connections"]:
        ends = plan.curve_endpoints(config, curve)
        for seed in seeds:
            for (run, _), k in zip(ends, plan.curve_replicates(config, curve, seed), strict=True):
                wanted[trained[run]].add(k)
    for run in config["runs"]:  # a teacher trains each seed its student trains
        t = plan.teacher(config, run)
        if t:
            wanted[trained[t[0]]].update(wanted[trained[run]])
    return {run: sorted(s) for run, s in wanted.items()}


def study_jobs(config: Mapping[str, Any]) -> StudyJobs:
    """Every job the `figures` target of a validated config runs, from nothing built."""
    analyses = list(config["similarity"]["analyses"])
    pairs = [job for name in analyses for job in analysis_pair_jobs(config, name)]
    dumps = dict.fromkeys(side for p in pairs for side in (p.a, p.b))
    seeds = plan.replicates(config)
    return StudyJobs(
        trainings=trained_replicates(config, pairs),
        activations=list(dumps),
        pairs=pairs,
        curves=[(c, s) for c in config["curves"]["connections"] for s in seeds],
        analyses=analyses,
        matrix_analyses=[a for a in analyses if plan.matrix_method(config, a)],
        study_figures=list(study_figures.question_parts(config)),
        data_rule=data_rule(config["data"]),
    )


def data_rule(data: Mapping[str, Any]) -> str | None:
    """The rule that makes the dataset's files: CIFAR-10's download, the synthetic archive's
    writer, or none (digits ship with scikit-learn)."""
    if data["dataset"] != "cifar10":
        return None
    return "synthetic_cifar10" if data.get("synthetic") else "download_cifar10"
