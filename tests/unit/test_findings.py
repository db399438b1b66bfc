"""Verdicts of findings.md on hand-made evidence whose answers are known: effects per seed
with their 95% intervals, decided under every similarity measure, above the noise floor."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from closerlook import config, findings, findings_doc, resolved, study_figures
from closerlook.claims import CLAIMS, PAPER_FINDINGS
from closerlook.decision import CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, SUPPORTS
from closerlook.effects import Settings
from closerlook.evidence import Evidence, layer_profiles

from support import (
    JITTER,
    METHODS,
    SPIKE_AT,
    STUDY_FIGURES,
    metrics,
    paper_like,
)

SIMILARITY = ("RQ1.3", "RQ2.2", "RQ2.3", "RQ3.1", "RQ3.2", "RQ4.1", "RQ4.2")
FLOOR = 0.95  # 1 - the hand-made shuffled baseline 0.05: a raw gain g is g / FLOOR above it
SEEDS = (0, 1, 2)


@pytest.fixture
def questions(embedded_config) -> dict:
    return resolved.resolved_questions(config.validate(embedded_config))


@pytest.fixture
def ev(questions) -> Evidence:
    """Three seeds, four measures, every claim holding."""
    return paper_like(questions, seeds=SEEDS, methods=METHODS)


def verdicts(found) -> dict[str, str]:
    return {f.claim_id: f.verdict for f in found}


def by_id(found) -> dict:
    return {f.claim_id: f for f in found}


def decided(ev: Evidence, cid: str, s: Settings | None = None):
    return findings.evaluate(CLAIMS[cid], ev, s or Settings())


def set_distillation_gain(ev: Evidence, method: str, gains: dict[int, tuple[float, float]]):
    """Make the distilled student's CCA with the teacher exceed the plain student's by
    (shallow, deeper) in every layer of each half, per seed."""
    for seed, (shallow, deep) in gains.items():
        distilled, plain = ev.profiles["distillation"][method][seed]
        distilled.values = plain.values + np.array([shallow] * 3 + [deep] * 3)


def set_accuracy(ev: Evidence, run: str, acc: float, **kw) -> None:
    if run == "large_batch":
        kw.setdefault("spike_at", SPIKE_AT)  # RQ2's precondition keeps holding
    ev.metrics[run] = {s: metrics(acc + JITTER[s], **kw) for s in ev.seeds}


# ------------------------------------------------------------------ the claims
def test_every_claim_gets_one_finding_in_order(ev):
    found = findings.all_findings(ev, Settings())
    assert [f.claim_id for f in found] == list(CLAIMS)


def test_numbers_shaped_like_the_paper_support_every_claim_in_every_seed_and_measure(ev):
    found = findings.all_findings(ev, Settings())
    assert set(verdicts(found).values()) == {SUPPORTS}, [(f.claim_id, f.reason) for f in found]
    for f in found:
        assert (f.seeds_supporting, f.n_seeds) == (3, 3), f.claim_id
        assert f.effect.n == 3 and f.effect.low <= f.effect.mean <= f.effect.high
        if f.claim_id in SIMILARITY:
            assert f.by_method == dict.fromkeys(METHODS, SUPPORTS), f.claim_id
        else:
            assert f.by_method == {}, f.claim_id
    assert "7 of 7 testable similarity claims agree across 4 measures" in findings.summary(found)
    assert {findings.finding_verdict(found, x) for x in "abcde"} == {findings.SUPPORTED}


def test_one_seed_is_marked_as_such(questions):
    found = findings.all_findings(paper_like(questions), Settings())
    assert set(verdicts(found).values()) == {SUPPORTS}
    for f in found:
        assert (f.seeds_supporting, f.n_seeds, f.effect.n) == (1, 1, 1)
        assert f.verdict_cell() == "supports (1 seed)" and math.isnan(f.effect.low)
    f = by_id(found)
    # the line's error peaks at 1.5 / 3 = 0.5 over endpoints at 0.01 / 3: 49.67 points
    assert "train: line 49.67, curve 0.07" in f["RQ1.1"].numbers
    assert f["RQ3.3"].numbers == "student_distill (epoch 30) 97.5%, student_plain (epoch 30) 95.0%"
    assert f["RQ3.1"].by_method == {"dft_svcca": SUPPORTS}
    text = findings_doc.render(found, "embedded", "dft_svcca")
    assert "| RQ1.1 | (a) | **supports (1 seed)** | context |" in text
    assert "synthetic" not in text
    synthetic = findings_doc.render(found, "rehearsal", "dft_svcca", synthetic_data=True)
    assert synthetic.splitlines()[2] == findings_doc.SYNTHETIC_NOTE
    assert "not from CIFAR-10" in synthetic


def test_a_hand_computed_interval_appears_in_the_document(ev):
    for m in METHODS:
        set_distillation_gain(ev, m, {0: (0.0, 0.10), 1: (0.0, 0.12), 2: (0.0, 0.14)})
    found = findings.all_findings(ev, Settings())
    f = by_id(found)["RQ3.1"]
    # gains 0.10, 0.12, 0.14 above the floor: / 0.95 = 0.1053, 0.1263, 0.1474; mean 0.1263,
    # sd 0.02 / 0.95 = 0.02105, half-width 4.303 * 0.02105 / sqrt(3) = 0.0523
    assert f.verdict == SUPPORTS and f.effect.format(signed=True) == "+0.126 [0.074, 0.179]"
    text = findings_doc.render(found, "embedded", "dft_svcca")
    assert (
        "- effect: deeper-layer CCA gain above the floor with distillation: +0.126 [0.074, "
        "0.179] over 3 seeds; holds for dft_svcca, svcca, pwcca and cka (3/3 seeds)"
    ) in text
    assert (
        "| RQ3.1 | (c) | **supports** | for | +0.126 [0.074, 0.179] | 3/3 | 4/4 support |"
    ) in text
    assert "effect per seed (dft_svcca) +0.105 / +0.126 / +0.147" in f.numbers
    # the teacher, run "teacher", is named once
    assert "teacher (epoch 30);" in f.numbers and "teacher teacher" not in f.numbers


def test_an_interval_containing_zero_makes_a_claim_inconclusive(ev):
    for m in METHODS:
        set_distillation_gain(ev, m, {0: (0.0, 0.10), 1: (0.0, -0.05), 2: (0.0, 0.06)})
    f = decided(ev, "RQ3.1")
    assert f.verdict == INCONCLUSIVE and f.seeds_supporting == 2
    assert "contains 0" in f.reason and f"[{f.effect.low:.3f}," in f.reason


def test_one_measure_disagreeing_shows_per_measure_and_the_primary_decides(ev):
    set_distillation_gain(ev, "pwcca", {s: (0.0, 0.0) for s in SEEDS})  # no gain at all
    found = findings.all_findings(ev, Settings())
    f = by_id(found)["RQ3.1"]
    assert f.verdict == SUPPORTS
    assert f.by_method == {
        "dft_svcca": SUPPORTS,
        "svcca": SUPPORTS,
        "pwcca": CONTRADICTS,
        "cka": SUPPORTS,
    }
    text = findings_doc.render(found, "embedded", "dft_svcca")
    assert "holds for dft_svcca, svcca and cka (3/3 seeds)" in text
    assert "- by measure: dft_svcca supports, svcca supports, pwcca contradicts (" in text
    assert "5 of 7 testable similarity claims agree across 4 measures" in findings.summary(found)
    # when the primary measure is the one that disagrees, the headline follows it
    set_distillation_gain(ev, "dft_svcca", {s: (0.0, -0.1) for s in SEEDS})
    f = decided(ev, "RQ3.1")
    assert f.verdict == CONTRADICTS and f.by_method["svcca"] == SUPPORTS


def test_a_measure_missing_from_the_table_is_inconclusive_for_that_measure_alone(ev):
    del ev.profiles["distillation"]["cka"]
    f = decided(ev, "RQ3.1")
    assert f.verdict == SUPPORTS and f.by_method["cka"] == INCONCLUSIVE
    assert "no cka values" in f.method_reasons["cka"]


def test_a_diverged_sgdr_seed_makes_rq1_inconclusive_and_says_why(ev):
    ev.metrics["sgdr"][1] = metrics(0.98, diverged_at=7)
    for cid in ("RQ1.1", "RQ1.2", "RQ1.3", "RQ1.4", "RQ4.1", "RQ4.3"):
        f = decided(ev, cid)
        assert f.verdict == INCONCLUSIVE, cid
        assert "diverged in epoch 7 in seed 1" in f.reason, cid


def test_too_few_epochs_are_inconclusive(ev):
    ev.metrics = {r: {s: metrics(0.9, epochs=6) for s in SEEDS} for r in ev.metrics}
    found = findings.all_findings(ev, Settings(min_epochs=10))
    # RQ2 asks first whether training without warmup was unstable, RQ3 whether the teacher
    # is more accurate than the plain student: here neither is
    assert {f.verdict for f in found if f.question in ("RQ2", "RQ3")} == {NOT_TESTABLE}
    assert all(f.verdict == INCONCLUSIVE for f in found if f.question not in ("RQ2", "RQ3"))
    assert any("trained 6 epochs in seed 0, fewer than 10" in f.reason for f in found)


def test_a_diverged_seed_without_warmup_supports_rq2_5_outright(ev):
    ev.metrics["large_batch"][1] = metrics(0.1, diverged_at=1)
    f = decided(ev, "RQ2.5")
    assert f.verdict == SUPPORTS and (f.seeds_supporting, f.n_seeds) == (3, 3)
    assert f.effect.n == 2 and "diverged in 1/3 seeds" in f.reason
    # the similarity claims about the no-warmup run cannot use a diverged seed
    f = decided(ev, "RQ2.2")
    assert f.verdict == INCONCLUSIVE and "seed 1" in f.reason
    # a run that diverged in epoch 1 stopped there: no shortage of epochs
    set_accuracy(ev, "large_batch", 0.1, epochs=1, diverged_at=1, spike_at=None)
    f = decided(ev, "RQ2.5")
    assert (f.verdict, f.effect, f.seeds_supporting) == (SUPPORTS, None, 3)
    assert "diverged in 3/3 seeds" in f.reason
    assert "not measured; 3/3 seeds support" in findings_doc.effect_line(f)


def test_a_diverged_single_run_without_warmup_supports_rq2_5(questions):
    ev = paper_like(questions)
    ev.metrics["large_batch"] = {0: metrics(0.1, diverged_at=1)}
    f = decided(ev, "RQ2.5")
    assert f.verdict == SUPPORTS and "diverged in epoch 1" in f.reason


def test_a_difference_within_the_margin_contradicts_a_relevant_gain(ev):
    set_accuracy(ev, "large_batch", 0.955)  # 0.5 points below warmup's 96% in every seed
    assert decided(ev, "RQ2.5", Settings(accuracy_margin=0.02)).verdict == CONTRADICTS
    set_accuracy(ev, "large_batch", 0.99)  # better without warmup: the opposite
    assert decided(ev, "RQ2.5", Settings(accuracy_margin=0.02)).verdict == CONTRADICTS


def test_a_gain_in_the_shallow_layers_contradicts_rq3_2(ev):
    for m in METHODS:
        set_distillation_gain(ev, m, {s: (0.2, 0.05 + JITTER[s]) for s in SEEDS})
    f = decided(ev, "RQ3.2")
    assert f.verdict == CONTRADICTS and f.by_method == dict.fromkeys(METHODS, CONTRADICTS)


def test_missing_artifacts_are_named_and_inconclusive(questions):
    ev = Evidence(questions=questions, method="svcca")
    found = findings.all_findings(ev, Settings())
    assert all(f.verdict == INCONCLUSIVE for f in found)
    assert "curve 'sgdr_restarts' is not configured" in found[0].reason
    n = len(CLAIMS)
    assert findings.summary(found).startswith(f"0 supports, 0 contradicts, {n} inconclusive")
    assert {findings.finding_verdict(found, x) for x in "abcde"} == {INCONCLUSIVE}
    findings_doc.render(found, "embedded", "svcca")  # renders without effects


def test_a_study_without_rq2_runs_leaves_rq2_not_measured(questions, ev):
    q = copy.deepcopy(questions)
    q["rq2"]["window"] = None  # what resolve_window gives without the RQ2 runs
    ev.questions = q
    for cid in ("RQ2.1", "RQ2.4"):
        f = decided(ev, cid)
        assert f.verdict == INCONCLUSIVE and "has no window" in f.reason


def test_the_summary_is_a_line_not_a_claim(ev):
    set_accuracy(ev, "sgdr", 0.80)
    found = findings.all_findings(ev, Settings())
    assert "RQ9.9" not in verdicts(found) and len(found) == len(CLAIMS)
    line = findings.summary(found)
    assert line.startswith(
        f"{len(CLAIMS) - 1} supports, 1 contradicts, 0 inconclusive, 0 not testable of "
        f"{len(CLAIMS)} claims"
    )
    assert "contradicted: RQ1.4" in line
    assert f"Summary: {line}." in findings_doc.render(found, "embedded", "dft_svcca")


def test_the_document_lists_every_claim_with_its_paper_finding_and_measures(ev, tmp_path):
    found = findings.all_findings(ev, Settings())
    path = tmp_path / "findings.md"
    findings_doc.write(found, path, None, Settings(), "embedded", "dft_svcca")
    text = path.read_text()
    assert "over 3 seeds" in text and "95% Student-t interval" in text
    assert "the primary measure `dft_svcca` gives the headline verdict" in text
    assert "[−0.039, 0.159]" in text  # the rule's hand-computed example
    assert (
        "| claim | paper finding | verdict | speaks | effect [95% CI] | seeds | measures | reason |"
    ) in text
    for cid, c in CLAIMS.items():
        assert f"**{cid}** ({c.paper}) {c.statement} *(" in text
        assert f"| {cid} | ({c.paper}) | **supports** |" in text
    for letter in "abcde":
        assert f"- ({letter}) " in text and f"{PAPER_FINDINGS[letter]}: **supported**" in text
    by_measure = ", ".join(f"{m} supports" for m in METHODS)
    assert text.count(f"- by measure: {by_measure}") == len(SIMILARITY)
    assert text.count("- by measure: does not apply") == len(CLAIMS) - len(SIMILARITY)
    # error barrier of the line: (1.5 + 10 jitter - 0.01) / 3 in points
    assert "train: line 49.67 / 48.00 / 51.33" in text
    assert "sgdr (epoch 30) 98.0% / 97.5% / 98.5%" in text
    # each depth claim names its layers and its sensitivity rows; the power statement
    assert (
        "- layers (the feature layers in halves): shallow conv1, conv2; deeper conv3, conv4" in text
    )
    assert text.count("- sensitivity, ") == 2 * 6  # two rows for each of 6 depth claims
    assert "- power: the observed spread" in text
    # the preconditions are printed first in their question's section
    rq2 = text.split("## RQ2")[1]
    assert rq2.index("Preconditions:") < rq2.index("**RQ2.1**")
    assert "without warmup the validation loss spikes in epochs 6–7" in rq2 and "**holds**" in rq2


def test_profiles_come_back_in_network_order_with_their_baseline():
    rows = []
    for layer, idx, v in (("fc1", 1, 0.5), ("conv1", 0, 0.9)):
        for method, value in (("svcca", v), ("svcca_shuffled", 0.1 * v)):
            rows.append(
                dict(
                    analysis="a",
                    run_a="r",
                    epoch_a=0,
                    run_b="r",
                    epoch_b=3,
                    layer=layer,
                    layer_index=idx,
                    method=method,
                    value=value,
                )
            )
    (p,) = layer_profiles(pd.DataFrame(rows), "svcca")
    assert p.layers == ["conv1", "fc1"]
    np.testing.assert_allclose(p.values, [0.9, 0.5])
    np.testing.assert_allclose(p.baseline, [0.09, 0.05])


def test_question_parts_leave_out_what_is_not_configured(embedded_config):
    cfg = config.validate(embedded_config)
    parts = study_figures.question_parts(cfg)
    assert set(parts) == set(STUDY_FIGURES)
    assert parts["rq1_training"]["runs"] == ["sgdr", "step", "cosine"]
    small = copy.deepcopy(embedded_config)
    del small["questions"]  # the schema's default questions: what is not configured is left out
    small["runs"] = {"sgdr": small["runs"]["sgdr"]}
    small["similarity"]["analyses"] = {}
    curves = small["curves"]["connections"]
    small["curves"]["connections"] = {c: curves[c] for c in ("sgdr_restarts", "seed_to_seed")}
    parts = study_figures.question_parts(config.validate(small))
    assert set(parts) == {"rq1_training", "rq1_line_and_curve", "rq1_loss_plane", "rq4_summary"}
    assert parts["rq4_summary"]["runs"] == ["sgdr"]


def test_a_figure_method_that_is_not_computed_names_the_key(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["figures"]["method"] = "cka"
    cfg["similarity"]["methods"] = ["svcca"]
    with pytest.raises(config.ConfigError, match="'figures.method'"):
        config.validate(cfg)
    cfg["findings"] = {"margin": {"accuracy": -1}}
    cfg["figures"]["method"] = "svcca"
    with pytest.raises(config.ConfigError, match="'findings.margin.accuracy'"):
        config.validate(cfg)
    cfg["findings"] = {"margin": 0.02}  # one margin for two quantities: name both
    with pytest.raises(config.ConfigError, match="'findings.margin'"):
        config.validate(cfg)


def test_colours_are_stable_per_run_and_overridable(embedded_config):
    cfg = config.validate(embedded_config)
    a = study_figures.run_colours(cfg, ["step", "sgdr"])
    assert a == {"step": "C1", "sgdr": "C0"}
    cfg["figures"]["colours"] = {"sgdr": "black"}
    assert study_figures.run_colours(cfg, ["sgdr"]) == {"sgdr": "black"}


def test_findings_from_files_over_seeds_and_measures(ev, tmp_path):
    """The script's path: metrics run-major over seeds and one tidy table per analysis
    (every seed and measure, with shuffled baselines) read back by load_evidence."""
    runs, analyses = list(ev.metrics), list(ev.profiles)
    metric_paths = []
    for run in runs:
        for s in SEEDS:
            metric_paths.append(tmp_path / f"{run}.{s}.csv")
            ev.metrics[run][s].to_csv(metric_paths[-1], index=False)
    table_paths = []
    for a in analyses:
        rows = [
            dict(
                analysis=a,
                run_a=p.run_a,
                epoch_a=p.epoch_a,
                run_b=p.run_b,
                epoch_b=p.epoch_b,
                layer=layer,
                layer_index=i,
                method=m + suffix,
                value=v,
                seed=s,
            )
            for m, by_seed in ev.profiles[a].items()
            for s, ps in by_seed.items()
            for p in ps
            for suffix, values in (("", p.values), ("_shuffled", p.baseline))
            for i, (layer, v) in enumerate(zip(p.layers, values, strict=True))
        ]
        table_paths.append(tmp_path / f"{a}.csv")
        pd.DataFrame(rows).to_csv(table_paths[-1], index=False)
    parts = {"runs": runs, "analyses": analyses}
    loaded = findings.load_evidence(
        parts, SEEDS, metric_paths, table_paths, [], ev.questions, "dft_svcca", METHODS
    )
    found = by_id(findings.all_findings(loaded, Settings()))
    assert found["RQ1.1"].verdict == INCONCLUSIVE  # no curve files given
    for cid in [*SIMILARITY, "RQ1.4", "RQ2.1", "RQ2.4", "RQ3.3"]:
        assert found[cid].verdict == SUPPORTS, (cid, found[cid].reason)
        assert (found[cid].seeds_supporting, found[cid].n_seeds) == (3, 3)
    assert found["RQ3.1"].by_method == dict.fromkeys(METHODS, SUPPORTS)


def test_restart_cca_is_compared_with_a_step_decay_drop_over_the_same_window(questions):
    ev = paper_like(questions, seeds=(0, 1, 2), methods=METHODS)
    f = decided(ev, "RQ1.3")
    # restart windows 6 → 7 and 14 → 15 (means 0.8867, 0.915) against the drops 15 → 16 and
    # 22 → 23 (0.8767, 0.8933), every one 1 epoch long, above the floor 0.05
    assert "windows of [1] epochs" in f.numbers and "sgdr 14 → 15: 0.911" in f.numbers
    assert "step 22 → 23: 0.888" in f.numbers and "independent networks: epoch 6" in f.numbers
    restart, drop = np.mean([5.32 / 6, 0.915]), np.mean([5.26 / 6, 5.36 / 6])
    assert f.effect.mean == pytest.approx((restart - drop) / FLOOR)
    assert f.verdict == SUPPORTS  # non-inferiority: on par or closer
