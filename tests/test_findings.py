"""Verdicts of findings.md on hand-made evidence whose answers are known: effects per seed
with their 95% intervals, decided under every similarity measure."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from evidence import (
    JITTER,
    METHODS,
    curve,
    metrics,
    paper_like,
)

from closerlook import config as study
from closerlook import findings
from closerlook.findings import (
    CLAIMS,
    CONTRADICTS,
    INCONCLUSIVE,
    SUPPORTS,
    Band,
    Evidence,
    Settings,
)
from closerlook.results import layer_profiles

from support import STUDY_FIGURES

SIMILARITY = ("RQ1.3", "RQ2.2", "RQ2.3", "RQ3.1", "RQ3.2")
SEEDS = (0, 1, 2)


@pytest.fixture
def questions(embedded_config) -> dict:
    return study.validate(embedded_config)["questions"]


@pytest.fixture
def ev(questions) -> Evidence:
    """Three seeds, four measures, every claim holding."""
    return paper_like(questions, seeds=SEEDS, methods=METHODS)


def verdicts(found) -> dict[str, str]:
    return {f.claim_id: f.verdict for f in found}


def by_id(found) -> dict:
    return {f.claim_id: f for f in found}


def set_distillation_gain(ev: Evidence, method: str, gains: dict[int, tuple[float, float]]):
    """Make the distilled student's CCA with the teacher exceed the plain student's by
    (shallow, deeper) in every layer of each half, per seed."""
    for seed, (shallow, deep) in gains.items():
        distilled, plain = ev.profiles["distillation"][method][seed]
        distilled.values = plain.values + np.array([shallow] * 3 + [deep] * 3)


def set_accuracy(ev: Evidence, run: str, acc: float, **kw) -> None:
    ev.metrics[run] = {s: metrics(acc + JITTER[s], **kw) for s in ev.seeds}


# ------------------------------------------------------------------ deciding
def test_a_band_supports_above_and_contradicts_below_with_a_supporting_boundary():
    greater = Band(-0.02, 0.02)
    assert [greater.verdict(x) for x in (0.03, 0.02, 0.0, -0.02, -0.03)] == [
        SUPPORTS,
        INCONCLUSIVE,
        INCONCLUSIVE,
        INCONCLUSIVE,
        CONTRADICTS,
    ]
    on_par = Band(-0.02, -0.02)
    assert [on_par.verdict(x) for x in (0.0, -0.02, -0.021)] == [SUPPORTS, SUPPORTS, CONTRADICTS]


def test_the_interval_is_the_student_t_interval_over_seeds():
    # mean 0.12, s = 0.02, t(0.975, 2) = 4.302653: half width 4.302653 * 0.02 / sqrt(3)
    d = findings.decide({0: 0.10, 1: 0.12, 2: 0.14}, Band(-0.02, 0.02), "gain", "loss")
    assert d.verdict == SUPPORTS and (d.seeds_supporting, d.n_seeds) == (3, 3)
    assert d.effect.mean == pytest.approx(0.12)
    assert d.effect.half_width == pytest.approx(4.302653 * 0.02 / math.sqrt(3), rel=1e-6)
    assert "+0.120 [0.070, 0.170]" in d.reason


def test_a_mean_past_the_margin_with_an_interval_reaching_the_other_side_is_inconclusive():
    d = findings.decide({0: 0.10, 1: -0.05, 2: 0.06}, Band(-0.02, 0.02), "gain", "loss")
    assert d.effect.mean > 0.02 and d.effect.low < -0.02
    assert d.verdict == INCONCLUSIVE and d.seeds_supporting == 2
    assert f"[{d.effect.low:.3f}, {d.effect.high:.3f}] reaches below -0.02" in d.reason
    d = findings.decide({0: -0.10, 1: 0.05, 2: -0.06}, Band(-0.02, 0.02), "gain", "loss")
    assert d.verdict == INCONCLUSIVE and "reaches above +0.02" in d.reason
    d = findings.decide({0: -0.10, 1: -0.12, 2: -0.14}, Band(-0.02, 0.02), "gain", "loss")
    assert d.verdict == CONTRADICTS and d.seeds_supporting == 0


def test_one_seed_decides_by_its_value_and_a_nan_decides_nothing():
    d = findings.decide({0: 0.03}, Band(-0.02, 0.02), "gain", "loss")
    assert d.verdict == SUPPORTS and d.effect.n == 1 and math.isnan(d.effect.low)
    assert findings.decide({0: 0.01}, Band(-0.02, 0.02), "g", "l").verdict == INCONCLUSIVE
    d = findings.decide({0: 0.1, 1: math.nan}, Band(-0.02, 0.02), "gain", "loss")
    assert d.verdict == INCONCLUSIVE and "NaN (seed 1)" in d.reason


def test_depth_halves_leave_out_the_middle_layer():
    assert findings.depth_halves([1, 2, 3, 4, 5]) == (1.5, 4.5)
    assert findings.depth_halves([1, 3]) == (1.0, 3.0)
    assert all(np.isnan(findings.depth_halves([1.0])))


def test_barrier_threshold_is_relative_with_an_absolute_floor():
    s = Settings(barrier_relative=0.1, barrier_absolute=0.01)
    assert findings.barrier_threshold(2.0, s) == pytest.approx(0.2)
    assert findings.barrier_threshold(0.001, s) == pytest.approx(0.01)


# ------------------------------------------------------------------ the claims
def test_every_claim_gets_one_finding_in_order(ev):
    found = findings.all_findings(ev, Settings())
    assert [f.claim_id for f in found] == list(CLAIMS)


def test_numbers_shaped_like_the_paper_support_every_claim_in_every_seed_and_measure(ev):
    found = findings.all_findings(ev, Settings())
    assert set(verdicts(found).values()) == {SUPPORTS}, [(f.claim_id, f.reason) for f in found]
    for f in found[:-1]:
        assert (f.seeds_supporting, f.n_seeds, f.effect.n) == (3, 3, 3), f.claim_id
        assert f.effect_name and f.effect.low <= f.effect.mean <= f.effect.high
        if f.claim_id in SIMILARITY:
            assert f.by_method == dict.fromkeys(METHODS, SUPPORTS), f.claim_id
        else:
            assert f.by_method == {}, f.claim_id
    assert "5 of 5 similarity claims agree across 4 measures" in found[-1].numbers


def test_one_seed_behaves_as_a_single_run(questions):
    found = findings.all_findings(paper_like(questions), Settings())
    assert set(verdicts(found).values()) == {SUPPORTS}
    for f in found[:-1]:
        assert (f.seeds_supporting, f.n_seeds, f.effect.n) == (1, 1, 1)
        assert math.isnan(f.effect.low)
    f = by_id(found)
    assert "barrier height (train loss) line 1.49, curve 0.002" in f["RQ1.1"].numbers
    assert f["RQ3.3"].numbers == "student_distill 97.5%, student_plain 95.0%"
    assert f["RQ3.1"].by_method == {"dft_svcca": SUPPORTS}


def test_a_hand_computed_interval_appears_in_the_document(ev):
    for m in METHODS:
        set_distillation_gain(ev, m, {0: (0.0, 0.10), 1: (0.0, 0.12), 2: (0.0, 0.14)})
    found = findings.all_findings(ev, Settings())
    f = by_id(found)["RQ3.1"]
    assert f.verdict == SUPPORTS and f.effect.format(signed=True) == "+0.120 [0.070, 0.170]"
    text = findings.render(found, "embedded", "dft_svcca")
    assert (
        "- effect: deeper-layer CCA gain with distillation: +0.120 [0.070, 0.170] over 3 "
        "seeds; holds for dft_svcca, svcca, pwcca and cka (3/3 seeds)"
    ) in text
    assert "| RQ3.1 | **supports** | +0.120 [0.070, 0.170] | 3/3 | 4/4 support |" in text
    assert "effect per seed (dft_svcca) +0.100 / +0.120 / +0.140" in f.numbers


def test_an_interval_reaching_the_other_side_makes_a_claim_inconclusive(ev):
    for m in METHODS:
        set_distillation_gain(ev, m, {0: (0.0, 0.10), 1: (0.0, -0.05), 2: (0.0, 0.06)})
    f = by_id(findings.rq3(ev, Settings()))["RQ3.1"]
    assert f.verdict == INCONCLUSIVE and f.seeds_supporting == 2
    assert "reaches below -0.02" in f.reason and f"[{f.effect.low:.3f}," in f.reason


def test_one_measure_disagreeing_shows_per_measure_and_the_primary_decides(ev):
    set_distillation_gain(ev, "pwcca", {s: (0.0, 0.0) for s in SEEDS})  # no gain at all
    found = findings.all_findings(ev, Settings())
    f = by_id(found)["RQ3.1"]
    assert f.verdict == SUPPORTS
    assert f.by_method == {
        "dft_svcca": SUPPORTS,
        "svcca": SUPPORTS,
        "pwcca": INCONCLUSIVE,
        "cka": SUPPORTS,
    }
    text = findings.render(found, "embedded", "dft_svcca")
    assert "holds for dft_svcca, svcca and cka (3/3 seeds)" in text
    assert "- by measure: dft_svcca supports, svcca supports, pwcca inconclusive (" in text
    assert "3 of 5 similarity claims agree across 4 measures" in found[-1].reason
    # when the primary measure is the one that disagrees, the headline follows it
    set_distillation_gain(ev, "dft_svcca", {s: (0.0, -0.1) for s in SEEDS})
    f = by_id(findings.rq3(ev, Settings()))["RQ3.1"]
    assert f.verdict == CONTRADICTS and f.by_method["svcca"] == SUPPORTS


def test_a_measure_missing_from_the_table_is_inconclusive_for_that_measure_alone(ev):
    del ev.profiles["distillation"]["cka"]
    f = by_id(findings.rq3(ev, Settings()))["RQ3.1"]
    assert f.verdict == SUPPORTS and f.by_method["cka"] == INCONCLUSIVE
    assert "no cka values" in f.method_reasons["cka"]


def test_a_flat_line_contradicts_the_barrier_and_a_bumpy_curve_the_connection(ev):
    ev.curves = {s: curve(line_peak=0.0105, curve_peak=0.0105) for s in SEEDS}  # 5e-4 < 0.01
    assert verdicts(findings.rq1(ev, Settings()))["RQ1.1"] == CONTRADICTS
    ev.curves = {s: curve(line_peak=1.5, curve_peak=1.0 + JITTER[s]) for s in SEEDS}
    assert verdicts(findings.rq1(ev, Settings()))["RQ1.2"] == CONTRADICTS


def test_a_diverged_sgdr_seed_makes_rq1_inconclusive_and_says_why(ev):
    ev.metrics["sgdr"][1] = metrics(0.98, diverged_at=7)
    found = by_id(findings.rq1(ev, Settings()))
    for cid in ("RQ1.1", "RQ1.2", "RQ1.3", "RQ1.4"):
        assert found[cid].verdict == INCONCLUSIVE
        assert "diverged in epoch 7 in seed 1" in found[cid].reason


def test_too_few_epochs_are_inconclusive(ev):
    ev.metrics = {r: {s: metrics(0.9, epochs=6) for s in SEEDS} for r in ev.metrics}
    found = findings.all_findings(ev, Settings(min_epochs=10))
    assert all(f.verdict == INCONCLUSIVE for f in found)
    assert any("trained 6 epochs in seed 0, fewer than 10" in f.reason for f in found)


def test_a_diverged_seed_without_warmup_supports_rq2_1_outright(ev):
    ev.metrics["large_batch"][1] = metrics(0.1, diverged_at=1)
    found = by_id(findings.rq2(ev, Settings()))
    f = found["RQ2.1"]
    assert f.verdict == SUPPORTS and (f.seeds_supporting, f.n_seeds) == (3, 3)
    assert f.effect.n == 2 and "diverged in 1/3 seeds" in f.reason
    # the similarity claims about the no-warmup run cannot use a diverged seed
    assert found["RQ2.2"].verdict == INCONCLUSIVE and "seed 1" in found["RQ2.2"].reason
    # a run that diverged in epoch 1 stopped there: no shortage of epochs
    set_accuracy(ev, "large_batch", 0.1, epochs=1, diverged_at=1)
    f = by_id(findings.rq2(ev, Settings()))["RQ2.1"]
    assert (f.verdict, f.effect, f.seeds_supporting) == (SUPPORTS, None, 3)
    assert "diverged in 3/3 seeds" in f.reason
    assert "not measured; 3/3 seeds support" in findings.effect_line(f)


def test_a_diverged_single_run_without_warmup_supports_rq2_1(questions):
    ev = paper_like(questions)
    ev.metrics["large_batch"] = {0: metrics(0.1, diverged_at=1)}
    f = findings.rq2(ev, Settings())[0]
    assert (f.claim_id, f.verdict) == ("RQ2.1", SUPPORTS) and "diverged in epoch 1" in f.reason


def test_differences_within_the_margin_are_inconclusive(ev):
    set_accuracy(ev, "large_batch", 0.955)  # 0.5 points below warmup's 96% in every seed
    assert verdicts(findings.rq2(ev, Settings(margin=0.02)))["RQ2.1"] == INCONCLUSIVE
    set_accuracy(ev, "large_batch", 0.99)  # better without warmup: the opposite
    assert verdicts(findings.rq2(ev, Settings(margin=0.02)))["RQ2.1"] == CONTRADICTS


def test_a_gain_in_the_shallow_layers_contradicts_rq3_2(ev):
    for m in METHODS:
        set_distillation_gain(ev, m, {s: (0.2, 0.05 + JITTER[s]) for s in SEEDS})
    found = by_id(findings.rq3(ev, Settings()))
    assert found["RQ3.2"].verdict == CONTRADICTS
    assert found["RQ3.2"].by_method == dict.fromkeys(METHODS, CONTRADICTS)


def test_similarity_at_the_shuffled_baseline_contradicts_rq1_3(ev):
    for by_seed in ev.profiles["sgdr_restarts"].values():
        for ps in by_seed.values():
            for p in ps:
                p.baseline = p.values.copy()
    f = by_id(findings.rq1(ev, Settings()))["RQ1.3"]
    assert f.verdict == CONTRADICTS and set(f.by_method.values()) == {CONTRADICTS}


def test_a_measure_without_shuffled_baseline_is_inconclusive(ev):
    for ps in ev.profiles["sgdr_restarts"]["dft_svcca"].values():
        for p in ps:
            p.baseline = np.full_like(p.values, np.nan)
    f = by_id(findings.rq1(ev, Settings()))["RQ1.3"]
    assert f.verdict == INCONCLUSIVE and "no shuffled dft_svcca baseline" in f.reason
    assert f.by_method["svcca"] == SUPPORTS


def test_missing_artifacts_are_named_and_inconclusive(questions):
    ev = Evidence(questions=questions, method="svcca")
    found = findings.all_findings(ev, Settings())
    assert all(f.verdict == INCONCLUSIVE for f in found)
    assert "curve 'sgdr_restarts' is not configured" in found[0].reason
    assert found[-1].claim_id == "RQ4.1" and found[-1].numbers.startswith("0 supports")
    findings.render(found, "embedded", "svcca")  # renders without effects


def test_rq4_is_contradicted_by_any_contradiction(ev):
    set_accuracy(ev, "sgdr", 0.80)
    last = findings.all_findings(ev, Settings())[-1]
    assert last.verdict == CONTRADICTS and "RQ1.4" in last.reason


def test_the_document_lists_every_claim_with_its_effect_and_measures(ev, tmp_path):
    found = findings.all_findings(ev, Settings())
    path = tmp_path / "findings.md"
    findings.write(found, path, "embedded", "dft_svcca")
    text = path.read_text()
    assert "over 3 seeds" in text and "95% Student-t interval over seeds" in text
    assert "the primary measure `dft_svcca` gives the headline verdict" in text
    assert "| claim | verdict | effect [95% CI] | seeds | measures | reason |" in text
    for cid, (_, claim) in CLAIMS.items():
        assert f"**{cid}** {claim}" in text
        assert f"| {cid} | **supports** |" in text
    by_measure = ", ".join(f"{m} supports" for m in METHODS)
    assert text.count(f"- by measure: {by_measure}") == len(SIMILARITY)
    assert text.count("- by measure: does not apply") == 6
    assert "barrier height (train loss) line 1.49 / 1.44 / 1.54" in text
    assert "student_distill 97.5% / 97.0% / 98.0%" in text


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
    cfg = study.validate(embedded_config)
    parts = study.question_parts(cfg)
    assert set(parts) == set(STUDY_FIGURES)
    assert parts["rq1_training"]["runs"] == ["sgdr", "step", "cosine"]
    small = copy.deepcopy(embedded_config)
    small["runs"] = {"sgdr": small["runs"]["sgdr"]}
    small["similarity"]["analyses"] = {}
    parts = study.question_parts(study.validate(small))
    assert set(parts) == {"rq1_training", "rq1_line_and_curve", "rq1_loss_plane", "rq4_summary"}
    assert parts["rq4_summary"]["runs"] == ["sgdr"]


def test_a_figure_method_that_is_not_computed_names_the_key(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["figures"]["method"] = "cka"
    cfg["similarity"]["methods"] = ["svcca"]
    with pytest.raises(study.ConfigError, match="'figures.method'"):
        study.validate(cfg)
    cfg["findings"] = {"margin": -1}
    cfg["figures"]["method"] = "svcca"
    with pytest.raises(study.ConfigError, match="'findings.margin'"):
        study.validate(cfg)


def test_colours_are_stable_per_run_and_overridable(embedded_config):
    cfg = study.validate(embedded_config)
    a = study.run_colours(cfg, ["step", "sgdr"])
    assert a == {"step": "C1", "sgdr": "C0"}
    cfg["figures"]["colours"] = {"sgdr": "black"}
    assert study.run_colours(cfg, ["sgdr"]) == {"sgdr": "black"}


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


def test_restart_cca_is_quoted_next_to_two_independently_trained_networks(questions):
    ev = paper_like(questions, seeds=(0, 1, 2), methods=METHODS)
    (rq13,) = [f for f in findings.all_findings(ev, Settings()) if f.claim_id == "RQ1.3"]
    assert "two independently trained networks (sgdr, seed k vs k+1, epoch 30): mean 0.625" in (
        rq13.numbers
    )
