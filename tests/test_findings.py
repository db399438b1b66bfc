"""Verdicts of findings.md on hand-made evidence whose answers are known."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from closerlook import config as study
from closerlook import findings
from closerlook.findings import CLAIMS, CONTRADICTS, INCONCLUSIVE, SUPPORTS, Evidence, Settings
from closerlook.results import CurveEvaluation, LayerProfile, layer_profiles

from support import STUDY_FIGURES

LAYERS = ["conv1", "conv2", "conv3", "conv4", "fc1", "logits"]


def metrics(final_acc: float, epochs: int = 30, diverged_at: int | None = None) -> pd.DataFrame:
    e = np.arange(epochs + 1)
    acc = np.linspace(0.1, final_acc, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": e,
            "lr": 0.05,
            "train_loss": np.geomspace(2.3, 0.01, epochs + 1),
            "train_acc": acc,
            "val_loss": np.geomspace(2.3, 0.1, epochs + 1),
            "val_acc": acc,
            "diverged": [diverged_at is not None and x >= diverged_at for x in e],
        }
    )


def profile(run_a, ea, run_b, eb, values, baseline=0.05) -> LayerProfile:
    v = np.asarray(values, dtype=float)
    return LayerProfile(run_a, ea, run_b, eb, list(LAYERS), v, np.full_like(v, baseline))


def curve(line_peak: float, curve_peak: float, end: float = 0.01) -> CurveEvaluation:
    t = np.linspace(0, 1, 11)
    bump = np.sin(np.pi * t)
    line = end + (line_peak - end) * bump
    path = end + (curve_peak - end) * bump
    paths = {
        name: {"train_loss": y, "val_loss": y + 0.1, "train_acc": 1 - y / 3, "val_acc": 1 - y / 3}
        for name, y in (("line", line), ("curve", path))
    }
    barriers = {
        name: {
            k: float(paths[name][k].max() - max(paths[name][k][0], paths[name][k][-1]))
            for k in ("train_loss", "val_loss")
        }
        for name in paths
    }
    grid = np.linspace(-1, 2, 3)
    return CurveEvaluation(
        "sgdr",
        14,
        "sgdr",
        30,
        t,
        paths,
        barriers,
        grid,
        grid,
        {k: np.ones((3, 3)) for k in ("train_loss", "train_acc", "val_loss", "val_acc")},
        np.array([[0, 0, 0], [0.5, 1, 0], [1, 0, 0]]),
        np.zeros((11, 3)),
        np.array([[0, 0, 0.1], [1, 0, 0.2]]),
        ["sgdr.e014", "sgdr.e030"],
    )


@pytest.fixture
def questions(embedded_config) -> dict:
    return study.validate(embedded_config)["questions"]


def paper_like(questions) -> Evidence:
    """Numbers shaped like the paper's: every claim holds."""
    falling = [0.95, 0.9, 0.8, 0.7, 0.4, 0.3]  # deeper layers move most without warmup
    steady = [0.97, 0.95, 0.93, 0.92, 0.9, 0.88]
    return Evidence(
        questions=questions,
        method="dft_svcca",
        metrics={
            "sgdr": metrics(0.98),
            "step": metrics(0.975),
            "cosine": metrics(0.978),
            "large_batch": metrics(0.90),
            "large_batch_warmup": metrics(0.96),
            "large_batch_frozen": metrics(0.955),
            "small_batch": metrics(0.97),
            "teacher": metrics(0.985),
            "student_distill": metrics(0.975),
            "student_plain": metrics(0.95),
        },
        profiles={
            "sgdr_restarts": [
                profile("sgdr", 6, "sgdr", 14, [0.9, 0.85, 0.8, 0.75, 0.7, 0.8]),
                profile("sgdr", 14, "sgdr", 30, [0.95, 0.9, 0.85, 0.8, 0.75, 0.85]),
            ],
            "init_large_batch": [profile("large_batch", 0, "large_batch", 3, falling)],
            "init_large_batch_warmup": [
                profile("large_batch_warmup", 0, "large_batch_warmup", 3, steady)
            ],
            "distillation": [
                profile("teacher", 30, "student_distill", 30, [0.8, 0.75, 0.7, 0.7, 0.8, 0.85]),
                profile("teacher", 30, "student_plain", 30, [0.8, 0.74, 0.68, 0.6, 0.6, 0.6]),
            ],
        },
        curve=curve(line_peak=1.5, curve_peak=0.012),
    )


def verdicts(found) -> dict[str, str]:
    return {f.claim_id: f.verdict for f in found}


def test_every_claim_gets_one_finding_in_order(questions):
    found = findings.all_findings(paper_like(questions), Settings())
    assert [f.claim_id for f in found] == list(CLAIMS)


def test_numbers_shaped_like_the_paper_support_every_claim(questions):
    found = findings.all_findings(paper_like(questions), Settings())
    assert set(verdicts(found).values()) == {SUPPORTS}, [(f.claim_id, f.reason) for f in found]


def test_depth_halves_leave_out_the_middle_layer():
    assert findings.depth_halves([1, 2, 3, 4, 5]) == (1.5, 4.5)
    assert findings.depth_halves([1, 3]) == (1.0, 3.0)
    assert all(np.isnan(findings.depth_halves([1.0])))


def test_barrier_threshold_is_relative_with_an_absolute_floor():
    s = Settings(barrier_relative=0.1, barrier_absolute=0.01)
    assert findings.barrier_threshold(2.0, s) == pytest.approx(0.2)
    assert findings.barrier_threshold(0.001, s) == pytest.approx(0.01)


def test_a_flat_line_contradicts_the_barrier_and_a_bumpy_curve_the_connection(questions):
    ev = paper_like(questions)
    ev.curve = curve(line_peak=0.0105, curve_peak=0.0105)  # barrier 5e-4 < 0.01: none
    assert verdicts(findings.rq1(ev, Settings()))["RQ1.1"] == CONTRADICTS
    ev.curve = curve(line_peak=1.5, curve_peak=1.0)
    assert verdicts(findings.rq1(ev, Settings()))["RQ1.2"] == CONTRADICTS


def test_a_diverged_sgdr_run_makes_rq1_inconclusive_and_says_why(questions):
    ev = paper_like(questions)
    ev.metrics["sgdr"] = metrics(0.98, diverged_at=7)
    found = {f.claim_id: f for f in findings.rq1(ev, Settings())}
    for cid in ("RQ1.1", "RQ1.2", "RQ1.3", "RQ1.4"):
        assert found[cid].verdict == INCONCLUSIVE
        assert "diverged in epoch 7" in found[cid].reason


def test_too_few_epochs_are_inconclusive(questions):
    ev = paper_like(questions)
    ev.metrics = {r: metrics(0.9, epochs=6) for r in ev.metrics}
    found = findings.all_findings(ev, Settings(min_epochs=10))
    assert all(f.verdict == INCONCLUSIVE for f in found)
    assert any("trained 6 epochs, fewer than 10" in f.reason for f in found)


def test_a_diverged_run_without_warmup_supports_rq2_1(questions):
    ev = paper_like(questions)
    ev.metrics["large_batch"] = metrics(0.1, diverged_at=1)
    f = findings.rq2(ev, Settings())[0]
    assert (f.claim_id, f.verdict) == ("RQ2.1", SUPPORTS) and "diverged" in f.reason


def test_differences_within_the_margin_are_inconclusive(questions):
    ev = paper_like(questions)
    ev.metrics["large_batch"] = metrics(0.955)  # 0.5 points below warmup's 96%
    assert verdicts(findings.rq2(ev, Settings(margin=0.02)))["RQ2.1"] == INCONCLUSIVE
    ev.metrics["large_batch"] = metrics(0.99)  # better without warmup: the opposite
    assert verdicts(findings.rq2(ev, Settings(margin=0.02)))["RQ2.1"] == CONTRADICTS


def test_a_gain_in_the_shallow_layers_contradicts_rq3_2(questions):
    ev = paper_like(questions)
    ev.profiles["distillation"][0].values = np.array([0.95, 0.95, 0.9, 0.8, 0.7, 0.7])
    ev.profiles["distillation"][1].values = np.array([0.7, 0.7, 0.7, 0.8, 0.7, 0.68])
    found = verdicts(findings.rq3(ev, Settings()))
    assert found["RQ3.2"] == CONTRADICTS


def test_similarity_at_the_shuffled_baseline_contradicts_rq1_3(questions):
    ev = paper_like(questions)
    for p in ev.profiles["sgdr_restarts"]:
        p.baseline = p.values.copy()
    assert verdicts(findings.rq1(ev, Settings()))["RQ1.3"] == CONTRADICTS


def test_missing_artifacts_are_named_and_inconclusive(questions):
    ev = Evidence(questions=questions, method="svcca")
    found = findings.all_findings(ev, Settings())
    assert all(f.verdict == INCONCLUSIVE for f in found)
    assert "curve 'sgdr_restarts' is not configured" in found[0].reason
    assert found[-1].claim_id == "RQ4.1" and found[-1].numbers.startswith("0 supports")


def test_rq4_is_contradicted_by_any_contradiction(questions):
    ev = paper_like(questions)
    ev.metrics["sgdr"] = metrics(0.80)
    last = findings.all_findings(ev, Settings())[-1]
    assert last.verdict == CONTRADICTS and "RQ1.4" in last.reason


def test_the_document_names_every_claim_with_numbers(questions, tmp_path):
    found = findings.all_findings(paper_like(questions), Settings())
    path = tmp_path / "findings.md"
    findings.write(found, path, "embedded", "dft_svcca")
    text = path.read_text()
    for cid, (_, claim) in CLAIMS.items():
        assert f"**{cid}** {claim}" in text
    assert "barrier height (train loss) line 1.49" in text
    assert "student_distill 97.5%" in text


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
