"""Config of what the claims read: roles, deeper layers, restart pairs, epoch keywords and
curves between seeds — each mistake a one-line error naming the key."""

from __future__ import annotations

import copy

import pytest

from closerlook import config as study


def error(cfg: dict) -> str:
    with pytest.raises(study.ConfigError) as info:
        study.validate(cfg)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("role", ["distilled", "plain"])
def test_a_missing_rq3_role_names_the_key_and_the_students(embedded_config, role):
    cfg = copy.deepcopy(embedded_config)
    del cfg["questions"]["rq3"][role]
    message = error(cfg)
    assert message.startswith(f"'questions.rq3.{role}' is missing")
    assert "allowed values: student_distill, student_plain" in message


def test_an_unknown_or_repeated_rq3_role_is_refused(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["questions"]["rq3"]["plain"] = "teacher"
    assert error(cfg).startswith("'questions.rq3.plain' is 'teacher', not a student")
    cfg["questions"]["rq3"]["plain"] = "student_distill"
    assert "the same run as questions.rq3.distilled" in error(cfg)


def test_swapping_the_students_list_changes_no_role(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["distillation"]["students"].reverse()
    q = study.resolved_questions(study.validate(cfg))["rq3"]
    assert (q["distilled"], q["plain"]) == ("student_distill", "student_plain")


def test_rq2_deeper_is_a_layer_group_or_layers_of_the_model(embedded_config):
    cfg = study.validate(embedded_config)
    assert study.deeper_layers(cfg) == ["fc1", "logits"]
    cfg["questions"]["rq2"]["deeper"] = ["conv4", "fc1"]
    assert study.deeper_layers(cfg) == ["conv4", "fc1"]
    del cfg["questions"]["rq2"]["deeper"]
    assert study.deeper_layers(cfg) is None
    bad = copy.deepcopy(embedded_config)
    bad["questions"]["rq2"]["deeper"] = "head"
    assert error(bad).startswith("'questions.rq2.deeper' is 'head', not a layer group")
    bad["questions"]["rq2"]["deeper"] = ["fc1", "fc9"]
    assert error(bad).startswith("'questions.rq2.deeper.1' is 'fc9', not a layer of model")


def test_after_restart_pairs_each_restart_with_a_later_saved_epoch(embedded_config):
    cfg = study.validate(embedded_config)
    pairs = study.analysis_pairs(cfg, "sgdr_restarts")
    assert [(a, b) for _, a, _, b in pairs] == [(2, 6), (6, 14), (14, 30), (2, 3), (6, 7), (14, 15)]
    bad = copy.deepcopy(embedded_config)
    bad["similarity"]["analyses"]["sgdr_restarts"]["after_restart"] = 2  # 4, 8, 16 unsaved
    assert error(bad).startswith("'similarity.analyses.sgdr_restarts.after_restart' has 4")
    bad["similarity"]["analyses"]["sgdr_restarts"]["after_restart"] = [1, 1]
    assert "has 2 values for 3 restarts" in error(bad)
    bad["similarity"]["analyses"]["sgdr_restarts"] = {"run": "step", "after_restart": 1}
    assert error(bad).startswith("'similarity.analyses.sgdr_restarts.epochs' is 'cycle_ends'")


def test_last_cycle_end_is_sgdrs_last_cycle_and_the_end_of_other_schedules(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["training"]["epochs"] = 20
    cfg["runs"]["sgdr"]["save_epochs"] = [3, 7, 15]
    cfg["runs"]["step"]["save_epochs"] = [15]
    cfg["runs"]["large_batch"]["save_epochs"] = [3]
    cfg = study.validate(cfg)
    assert study.resolve_epoch(cfg, "sgdr", "last_cycle_end") == 14  # 6 epochs into a cycle
    assert study.resolve_epoch(cfg, "step", "last_cycle_end") == 20
    assert study.resolved_questions(cfg)["rq1"]["read_epochs"] == {
        "sgdr": 14,
        "step": 20,
        "cosine": 20,
    }


def test_a_curve_between_seeds_needs_an_offset_to_differ(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    ends = cfg["curves"]["connections"]["seed_to_seed"]["endpoints"]
    assert study.curve_seed_offsets(study.validate(cfg), "seed_to_seed") == (0, 1)
    del ends[1]["seed_offset"]
    assert "has the same endpoint twice (sgdr, epoch 30); give two epochs, or a seed_offset" in (
        error(cfg)
    )
