"""The study's configuration: every bad value fails before any job runs with a one-line
error naming the key (closerlook.config, closerlook.checks), and what a valid config plans
(closerlook.plan): runs and their training heuristics, checkpoint points (epochs and
optimizer steps "stepN"), curves, what the claims read; `closerlook check` and Snakemake
refuse a bad config."""

from __future__ import annotations

import copy
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from closerlook import config, plan, points, resolved
from closerlook.cli import main
from closerlook.evidence import LayerProfile, layer_profiles

from support import PAPER, config_error, dry_run_plan, tool

RQ_RUNS = {
    "sgdr",
    "step",
    "cosine",
    "large_batch",
    "large_batch_warmup",
    "large_batch_frozen",
    "small_batch",
    "teacher",
    "student_distill",
    "student_plain",
}


def edited(base: dict, edit) -> dict:
    """A copy of `base` that `edit` (a function of a config, changing it in place) changed."""
    cfg = copy.deepcopy(base)
    edit(cfg)
    return cfg


# ----------------------------------------------------------- schema and cross-references
def test_embedded_config_is_valid_and_gets_defaults(embedded_config):
    cfg = config.validate(embedded_config)
    assert cfg["device"] == "auto"
    assert cfg["probe"]["seed"] == 0
    assert cfg["training"]["save_epochs"] == []
    sgdr = plan.run_settings(cfg, "sgdr")
    assert plan.checkpoint_epochs(sgdr) == [0, 2, 3, 6, 7, 14, 15, 30]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c.update(colour="red"), "unknown key 'colour'"),
        (lambda c: c["training"].update(epoch=3), "unknown key 'training.epoch'"),
        (lambda c: c["runs"]["sgdr"].update(batch_size="big"), "'runs.sgdr.batch_size'"),
        (lambda c: c["runs"]["sgdr"].update(epochs=0), "'runs.sgdr.epochs'"),
        (lambda c: c.update(device="tpu"), "allowed values: 'auto', 'cpu', 'cuda'"),
        (lambda c: c["data"].update(val_fraction=1.5), "'data.val_fraction'"),
        (lambda c: c["runs"]["sgdr"].update(model="resnet"), "'runs.sgdr.model' is 'resnet'"),
        (lambda c: c["runs"]["sgdr"]["schedule"].pop("T0"), "missing: T0"),
        (lambda c: c["runs"]["step"]["schedule"].update(T0=3), "'runs.step.schedule.T0'"),
        (lambda c: c["runs"]["step"].update(save_epochs=[99]), "'runs.step.save_epochs'"),
        (
            lambda c: c["similarity"]["analyses"].update(x={"run": "nope"}),
            "'similarity.analyses.x.run' is 'nope'",
        ),
        (
            lambda c: c["similarity"]["analyses"].update(x={"run": "step", "epochs": [0, 7]}),
            "'similarity.analyses.x.epochs' has 7",
        ),
        (lambda c: c["figures"].update(formats=["gif"]), "'figures.formats.0'"),
    ],
)
def test_bad_values_name_the_key(embedded_config, edit, expected):
    assert expected in config_error(edited(embedded_config, edit))


def test_enum_errors_list_the_allowed_values(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["runs"]["sgdr"]["schedule"]["kind"] = "exponential"
    msg = config_error(cfg)
    assert "runs.sgdr.schedule.kind" in msg
    assert "'sgdr'" in msg and "'step'" in msg


# ------------------------------------------------------------------ training heuristics
def distilled(cfg, student, teacher, **teacher_keys):
    cfg["runs"][student]["distill"] = {"teacher": {"run": teacher, **teacher_keys}}
    return cfg


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c["runs"]["large_batch_frozen"]["freeze"].update(layers=["head"]),
            "'runs.large_batch_frozen.freeze.layers.0' is 'head', not a layer group of model "
            "'vgg_small'; allowed values: features, classifier, conv1",
        ),
        (
            lambda c: c["runs"]["large_batch_frozen"]["freeze"].update(epochs=0),
            "'runs.large_batch_frozen.freeze.epochs'",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"]["teacher"].update(run="nobody"),
            "'runs.student_distill.distill.teacher.run' is 'nobody'; allowed values: sgdr",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"]["teacher"].update(epoch=7),
            "'runs.student_distill.distill.teacher.epoch' is 7, which run 'teacher' does not "
            "save; saved epochs: 0, 30",
        ),
        (
            lambda c: distilled(c, "student_distill", "student_distill"),
            "'runs.student_distill.distill.teacher.run' is 'student_distill', which makes a "
            "cycle of teachers: student_distill -> student_distill",
        ),
        (
            lambda c: distilled(c, "teacher", "student_distill"),
            "cycle of teachers: teacher -> student_distill -> teacher",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"].update(alpha=1.5),
            "'runs.student_distill.distill.alpha'",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"].update(temperature=0),
            "'runs.student_distill.distill.temperature'",
        ),
        (
            lambda c: c["runs"]["student_distill"]["distill"].update(T=4),
            "unknown key 'runs.student_distill.distill.T'",
        ),
        (lambda c: c["runs"]["sgdr"].update(warmup_epochs=-1), "'runs.sgdr.warmup_epochs'"),
        (lambda c: c["runs"]["sgdr"].update(accumulation=0), "'runs.sgdr.accumulation'"),
        (lambda c: c["runs"]["sgdr"].update(amp="yes"), "'runs.sgdr.amp'"),
        (
            lambda c: c["models"]["vgg_small"].update(arch="resnet18"),
            "'models.vgg_small.conv' does not apply to arch 'resnet18'",
        ),
        (
            lambda c: c["models"].update(r={"arch": "resnet50"}),
            "'models.r.arch' is 'resnet50'; allowed values: 'vgg', 'vgg11', 'vgg16', 'resnet18'",
        ),
        (
            lambda c: c["models"].update(v={"arch": "vgg16", "width": 8}),
            "'models.v.width' does not apply to arch 'vgg16'",
        ),
    ],
)
def test_bad_training_values_name_the_key(embedded_config, edit, expected):
    assert expected in config_error(edited(embedded_config, edit))


def test_defaults_of_the_new_keys(embedded_config):
    cfg = config.validate(embedded_config)
    run = plan.run_settings(cfg, "sgdr")
    assert (run.warmup_epochs, run.accumulation, run.amp, run.channels_last) == (
        0,
        1,
        True,
        True,
    )
    assert plan.run_settings(cfg, "student_distill").distill == {
        "teacher": {"run": "teacher"},
        "temperature": 4,
        "alpha": 0.9,
    }
    assert plan.teacher(cfg, "student_distill") == ("teacher", 30)
    assert plan.teacher(cfg, "student_plain") is None


def test_both_presets_have_every_run_of_the_study(embedded_config):
    paper = config.load(PAPER)
    embedded = config.validate(embedded_config)
    assert set(paper["runs"]) == set(embedded["runs"]) == RQ_RUNS


def test_paper_preset_settings():
    cfg = config.load(PAPER)
    sgdr = plan.run_settings(cfg, "sgdr")
    assert plan.cycle_ends(sgdr) == [10, 30, 70, 150]
    assert (sgdr.epochs, sgdr.batch_size, sgdr.momentum, sgdr.weight_decay) == (
        200,
        100,
        0.9,
        5e-4,
    )
    assert sgdr.schedule["lr_max"] == 0.05 and sgdr.schedule["lr_min"] == 1e-6
    assert plan.run_settings(cfg, "step").schedule["milestones"] == [60, 120, 150]
    warm = plan.run_settings(cfg, "large_batch_warmup")
    assert (warm.batch_size, warm.schedule["lr"], warm.warmup_epochs) == (5000, 2.5, 20)
    # 20 epochs of 50,000 / 5000 = 10 iterations: 200 warmup iterations
    assert warm.warmup_epochs * 50_000 // warm.batch_size == 200
    assert plan.run_settings(cfg, "large_batch").warmup_epochs == 0
    frozen = plan.run_settings(cfg, "large_batch_frozen")
    assert frozen.freeze == {"layers": ["classifier"], "epochs": 20}
    assert plan.run_settings(cfg, "small_batch").batch_size == 100
    assert cfg["models"]["vgg16"]["arch"] == "vgg16" and cfg["data"]["dataset"] == "cifar10"


# -------------------------------------------------------------------- checkpoint points
@pytest.mark.parametrize(
    ("value", "point"),
    [
        (20, 20),
        (np.int64(3), 3),
        (20.0, 20),
        ("20", 20),
        ("020", 20),
        ("e020", 20),
        ("epoch020", 20),
        ("step200", "step200"),
        ("step000200", "step200"),
        (b"step7", "step7"),
    ],
)
def test_parse_points(value, point):
    assert points.parse(value) == point


@pytest.mark.parametrize("value", ["step0", "step", "stepx", "-1", "e", True, 1.5, None, "20x"])
def test_parse_refuses_what_is_no_point(value):
    with pytest.raises(ValueError, match="not a checkpoint point"):
        points.parse(value)


def test_tags_and_labels_of_points():
    assert [points.file_tag(p) for p in (0, 20, "step200")] == [
        "epoch000",
        "epoch020",
        "step000200",
    ]
    assert [points.pair_tag(p) for p in (0, 20, "step200")] == ["e000", "e020", "step000200"]
    assert points.label(20) == "epoch 20" and points.label("step200") == "step 200"
    assert points.pair_label(0, 20) == "epoch 0 vs 20"
    assert points.pair_label(0, "step200") == "epoch 0 vs step 200"
    assert points.pair_label("step100", "step200") == "step 100 vs 200"
    assert points.step_point(200) == "step200" and points.step_number("step000200") == 200
    with pytest.raises(ValueError):
        points.step_point(0)


# ------------------------------------------------------------ optimizer steps in a config
@pytest.fixture
def with_steps(embedded_config) -> dict:
    """The embedded preset, its small-batch run also saved after step 9 (the 9 iterations
    of 3 warmup epochs at batch 512) and compared there with initialisation."""
    cfg = copy.deepcopy(embedded_config)
    cfg["runs"]["small_batch"]["save_epochs"] = [3]
    cfg["runs"]["small_batch"]["save_iterations"] = [9]
    cfg["similarity"]["analyses"]["init_small_batch"]["epochs"] = [0, "step9"]
    return cfg


def test_a_step_of_save_iterations_is_a_checkpoint_analyses_can_name(with_steps):
    cfg = config.validate(with_steps)
    run = plan.run_settings(cfg, "small_batch")
    assert plan.checkpoint_steps(run) == [9]
    assert plan.checkpoint_points(run) == [0, 3, 30, "step9"]
    assert plan.checkpoint_epochs(run) == [0, 3, 30]  # epochs as before
    assert plan.analysis_pairs(cfg, "init_small_batch") == [
        ("small_batch", 0, "small_batch", "step9")
    ]
    # 1347 digits in batches of 64
    assert plan.steps_per_epoch(cfg, "small_batch") == 22


def test_a_step_not_in_save_iterations_is_a_one_line_error(with_steps):
    cfg = copy.deepcopy(with_steps)
    cfg["similarity"]["analyses"]["init_small_batch"]["epochs"] = [0, "step10"]
    assert config_error(cfg) == (
        "'similarity.analyses.init_small_batch.epochs' has step10, which run 'small_batch' "
        "does not save; saved epochs: 0, 3, 30; saved steps (save_iterations): step9"
    )


def test_a_step_of_a_run_without_save_iterations_is_an_error(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["init_large_batch"]["epochs"] = [0, "step9"]
    message = config_error(cfg)
    assert message.startswith("'similarity.analyses.init_large_batch.epochs' has step9")
    assert message.endswith("saved steps (save_iterations): none") and "\n" not in message


def test_an_unsaved_epoch_keeps_its_message(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["init_large_batch"]["epochs"] = [0, 4]
    with pytest.raises(config.ConfigError, match=r"has 4, which run 'large_batch' does not save; "):
        config.validate(cfg)
    assert config_error(cfg).endswith("saved epochs: 0, 5, 7, 30")  # save_epochs, the last


def test_a_step_beyond_the_run_is_a_config_error(with_steps):
    cfg = copy.deepcopy(with_steps)
    cfg["runs"]["small_batch"]["save_iterations"] = [9, 661]  # 30 epochs of 22 steps: 660
    assert config_error(cfg) == (
        "'runs.small_batch.save_iterations' has 661; allowed: 1 to the run's 660 steps "
        "(30 epochs of 22)"
    )
    cfg["runs"]["small_batch"]["save_iterations"] = [9, 660]
    config.validate(cfg)


@pytest.mark.parametrize("steps", [[0], [-3], ["step9"], [9, 9], 9])
def test_save_iterations_are_distinct_steps_from_1(embedded_config, steps):
    cfg = copy.deepcopy(embedded_config)
    cfg["runs"]["small_batch"]["save_iterations"] = steps
    with pytest.raises(config.ConfigError, match=r"'runs\.small_batch\.save_iterations"):
        config.validate(cfg)


@pytest.mark.parametrize("point", ["step0", "step", "epoch3", "3", "step-1"])
def test_an_analysis_names_steps_as_stepN(with_steps, point):
    cfg = copy.deepcopy(with_steps)
    cfg["similarity"]["analyses"]["init_small_batch"]["epochs"] = [0, point]
    with pytest.raises(
        config.ConfigError, match=r"'similarity\.analyses\.init_small_batch\.epochs"
    ):
        config.validate(cfg)


def test_save_iterations_do_not_change_the_other_runs_settings(embedded_config, with_steps):
    """No default: a run without save_iterations keeps its settings, hence its hash."""
    plain = config.validate(embedded_config)
    stepped = config.validate(with_steps)
    for run in ("sgdr", "large_batch"):
        assert plan.run_settings(plain, run) == plan.run_settings(stepped, run)
        assert "save_iterations" not in {**plain["training"], **plain["runs"][run]}


# ------------------------------------------------------- steps in tables and figure labels
def tidy(epoch_b: object) -> pd.DataFrame:
    rows = []
    for i, layer in enumerate(["conv1", "fc1"]):
        for method, value in (("svcca", 0.9 - i / 10), ("svcca_shuffled", 0.1)):
            rows.append(
                {
                    "analysis": "init_small_batch",
                    "seed": 0,
                    "seed_b": 0,
                    "run_a": "small_batch",
                    "epoch_a": 0,
                    "run_b": "small_batch",
                    "epoch_b": epoch_b,
                    "layer": layer,
                    "layer_index": i,
                    "method": method,
                    "value": value,
                    "dim_a": 4,
                    "dim_b": 4,
                }
            )
    return pd.DataFrame(rows)


def test_layer_profiles_read_step_points_and_label_them(tmp_path):
    path = tmp_path / "table.csv"
    pd.concat([tidy(3), tidy("step9")]).to_csv(path, index=False)
    table = pd.read_csv(path)  # a mixed column: text
    epoch, step = layer_profiles(table, "svcca")
    assert (epoch.epoch_a, epoch.epoch_b) == (0, 3)
    assert (step.epoch_a, step.epoch_b) == (0, "step9")
    np.testing.assert_allclose(step.values, [0.9, 0.8])
    np.testing.assert_allclose(step.baseline, [0.1, 0.1])
    assert epoch.label() == "small_batch: epoch 0 vs 3"
    assert step.label() == "small_batch: epoch 0 vs step 9"


def test_figure_labels_of_a_step_pair():
    from closerlook import figures

    p = LayerProfile("r", 0, "r", "step200", ["a"], np.ones(1), np.zeros(1))
    ((_, label, _),) = figures.restarts([p], {"r": "C0"})
    assert label == "epoch 0 vs step 200"
    ((_, label, _),) = figures.reference(
        [LayerProfile("r", "step200", "r", "step200", ["a"], np.ones(1), np.zeros(1))]
    )
    assert label.endswith("(step 200)")


# ------------------------------------------------------------------------------- curves
def with_curve(base, **curve):
    cfg = copy.deepcopy(base)
    cfg.setdefault("curves", {}).setdefault("connections", {})["x"] = curve
    return cfg


def test_embedded_curve_joins_the_last_two_sgdr_restarts(embedded_config):
    cfg = config.validate(embedded_config)
    assert plan.curve_endpoints(cfg, "sgdr_restarts") == [("sgdr", 14), ("sgdr", 30)]
    assert cfg["curves"]["bn_images"] == 0 and cfg["curves"]["bn_batch_size"] == 512


def test_defaults_and_settings_inherited_from_the_run(embedded_config):
    cfg = config.validate(with_curve(embedded_config, run="sgdr", batch_size=32))
    c = cfg["curves"]["connections"]["x"]
    assert (c["kind"], c["n_bends"], c["seed"]) == ("polychain", 3, 0)
    assert plan.curve_endpoints(cfg, "x") == [("sgdr", 14), ("sgdr", 30)]
    fit = plan.curve_fit(cfg, "x")
    assert fit.batch_size == 32
    assert fit.weight_decay == cfg["training"]["weight_decay"]
    assert plan.curve_model(cfg, "x") == "vgg_small"


def test_a_config_without_curves_gets_the_documented_defaults(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    del cfg["curves"]
    for q, key in (("rq1", "curve"), ("rq1", "earlier"), ("rq4", "curve"), ("rq4", "robustness")):
        del cfg["questions"][q][key]  # they name its curves
    assert config.validate(cfg)["curves"] == {
        "points": 31,
        "bn_images": 0,
        "bn_batch_size": 512,
        "eval_seed": 0,
        "plane": {"grid": 21, "margin": 0.2},
        "connections": {},
    }


def test_endpoints_from_two_runs_rq4(embedded_config):
    cfg = config.validate(
        with_curve(
            embedded_config,
            endpoints=[{"run": "sgdr"}, {"run": "step", "epoch": 22}],
            kind="bezier",
        )
    )
    assert plan.curve_endpoints(cfg, "x") == [("sgdr", 30), ("step", 22)]
    cfg = config.validate(with_curve(embedded_config, run="step", epochs=[15, 30]))
    assert plan.curve_endpoints(cfg, "x") == [("step", 15), ("step", 30)]


@pytest.mark.parametrize(
    ("curve", "expected"),
    [
        ({"run": "nope"}, "'curves.connections.x.run' is 'nope'; allowed values: sgdr, step"),
        (
            {"endpoints": [{"run": "sgdr"}, {"run": "nope"}]},
            "'curves.connections.x.endpoints.1.run' is 'nope'",
        ),
        ({"run": "sgdr", "epochs": [14, 13]}, "'curves.connections.x.epochs' has 13"),
        (
            {"endpoints": [{"run": "sgdr", "epoch": 8}, {"run": "step"}]},
            "'curves.connections.x.endpoints.0.epoch' has 8",
        ),
        ({}, "'curves.connections.x' needs exactly one of 'run'"),
        (
            {"run": "sgdr", "endpoints": [{"run": "sgdr"}, {"run": "step"}]},
            "'curves.connections.x' needs exactly one of 'run'",
        ),
        (
            {"endpoints": [{"run": "sgdr"}, {"run": "step"}], "epochs": [2, 6]},
            "'curves.connections.x.epochs' needs 'run'",
        ),
        ({"run": "step"}, "'curves.connections.x.epochs' is 'last_cycle_ends'"),
        ({"run": "sgdr", "epochs": [30, 30]}, "'curves.connections.x' has the same endpoint"),
        ({"run": "sgdr", "kind": "spline"}, "'curves.connections.x.kind' is 'spline'"),
        ({"run": "sgdr", "n_bends": 2}, "'curves.connections.x.n_bends'"),
        ({"run": "sgdr", "lr": 0}, "'curves.connections.x.lr'"),
        ({"run": "sgdr", "epochs": [14]}, "'curves.connections.x.epochs'"),
        ({"run": "sgdr", "colour": 1}, "unknown key 'curves.connections.x.colour'"),
        (
            {"endpoints": [{"run": "sgdr", "epoch": "first"}, {"run": "step"}]},
            "'curves.connections.x.endpoints.0.epoch' is 'first'",
        ),
    ],
)
def test_bad_curves_name_the_key(embedded_config, curve, expected):
    assert expected in config_error(with_curve(embedded_config, **curve))


def test_bad_curve_settings_name_the_key(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["curves"]["plane"]["grid"] = 1
    assert "'curves.plane.grid'" in config_error(cfg)
    cfg = copy.deepcopy(embedded_config)
    cfg["curves"]["points"] = 1
    assert "'curves.points'" in config_error(cfg)
    cfg = copy.deepcopy(embedded_config)
    cfg["curves"]["steps"] = 3
    assert "unknown key 'curves.steps'" in config_error(cfg)


def test_endpoints_must_share_an_architecture(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["models"]["wide"] = {"arch": "vgg", "conv": [32, "M"], "fc": [64]}
    cfg["runs"]["step"]["model"] = "wide"
    del cfg["curves"]["connections"]["sgdr_vs_step"]
    cfg["curves"]["connections"]["x"] = {"endpoints": [{"run": "sgdr"}, {"run": "step"}]}
    msg = config_error(cfg)
    assert "'curves.connections.x'" in msg and "different models" in msg


# -------------------------------------------------------- what the questions and claims read
@pytest.mark.parametrize("role", ["distilled", "plain"])
def test_a_missing_rq3_role_names_the_key_and_the_students(embedded_config, role):
    cfg = copy.deepcopy(embedded_config)
    del cfg["questions"]["rq3"][role]
    message = config_error(cfg)
    assert message.startswith(f"'questions.rq3.{role}' is missing")
    assert "allowed values: student_distill, student_plain" in message


def test_an_unknown_or_repeated_rq3_role_is_refused(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["questions"]["rq3"]["plain"] = "teacher"
    assert config_error(cfg).startswith("'questions.rq3.plain' is 'teacher', not a student")
    cfg["questions"]["rq3"]["plain"] = "student_distill"
    assert "the same run as questions.rq3.distilled" in config_error(cfg)


def test_swapping_the_students_list_changes_no_role(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["distillation"]["students"].reverse()
    q = resolved.resolved_questions(config.validate(cfg))["rq3"]
    assert (q["distilled"], q["plain"]) == ("student_distill", "student_plain")


def test_rq2_deeper_is_a_layer_group_or_layers_of_the_model(embedded_config):
    cfg = config.validate(embedded_config)
    assert resolved.deeper_layers(cfg) == ["fc1", "logits"]
    cfg["questions"]["rq2"]["deeper"] = ["conv4", "fc1"]
    assert resolved.deeper_layers(cfg) == ["conv4", "fc1"]
    del cfg["questions"]["rq2"]["deeper"]
    assert resolved.deeper_layers(cfg) is None
    bad = copy.deepcopy(embedded_config)
    bad["questions"]["rq2"]["deeper"] = "head"
    assert config_error(bad).startswith("'questions.rq2.deeper' is 'head', not a layer group")
    bad["questions"]["rq2"]["deeper"] = ["fc1", "fc9"]
    assert config_error(bad).startswith("'questions.rq2.deeper.1' is 'fc9', not a layer of model")


def test_after_restart_pairs_each_restart_with_a_later_saved_epoch(embedded_config):
    cfg = config.validate(embedded_config)
    pairs = plan.analysis_pairs(cfg, "sgdr_restarts")
    assert [(a, b) for _, a, _, b in pairs] == [(2, 6), (6, 14), (14, 30), (2, 3), (6, 7), (14, 15)]
    bad = copy.deepcopy(embedded_config)
    bad["similarity"]["analyses"]["sgdr_restarts"]["after_restart"] = 2  # 4, 8, 16 unsaved
    assert config_error(bad).startswith("'similarity.analyses.sgdr_restarts.after_restart' has 4")
    bad["similarity"]["analyses"]["sgdr_restarts"]["after_restart"] = [1, 1]
    assert "has 2 values for 3 restarts" in config_error(bad)
    bad["similarity"]["analyses"]["sgdr_restarts"] = {"run": "step", "after_restart": 1}
    assert config_error(bad).startswith(
        "'similarity.analyses.sgdr_restarts.epochs' is 'cycle_ends'"
    )


def epoch_pairs(cfg: dict, name: str) -> list[tuple]:
    """(epoch_a, epoch_b) of every pair of a within-run analysis, in order."""
    return [(a, b) for _, a, _, b in plan.analysis_pairs(cfg, name)]


def test_after_drop_pairs_each_drop_with_a_later_saved_epoch(embedded_config):
    # step decays after epochs 15 and 22 of 30; it saves 15, 16, 22 and 23
    cfg = config.validate(embedded_config)
    assert plan.drops(plan.run_settings(cfg, "step")) == [15, 22]
    assert plan.analysis_pairs(cfg, "step_decay") == [
        ("step", 15, "step", 16),
        ("step", 22, "step", 23),
    ]
    # one δ per drop, in order
    listed = copy.deepcopy(embedded_config)
    listed["runs"]["step"]["save_epochs"] = [15, 17, 22, 23]
    listed["similarity"]["analyses"]["step_decay"]["after_drop"] = [2, 1]
    assert epoch_pairs(config.validate(listed), "step_decay") == [(15, 17), (22, 23)]
    # with epochs: the consecutive pairs first, then the windows not already among them
    saved = copy.deepcopy(embedded_config)
    saved["similarity"]["analyses"]["step_decay"]["epochs"] = "saved"
    assert epoch_pairs(config.validate(saved), "step_decay") == [
        (0, 15),
        (15, 16),
        (16, 22),
        (22, 23),
        (23, 30),
    ]
    # a milestone at or beyond the last epoch is no drop (20 epochs: only the one at 15)
    short = copy.deepcopy(embedded_config)
    short["training"]["epochs"] = 20
    short["runs"]["step"]["save_epochs"] = [15, 16]
    assert epoch_pairs(config.validate(short), "step_decay") == [(15, 16)]


def test_from_first_pairs_the_first_point_with_each_later_one(embedded_config):
    cfg = config.validate(embedded_config)
    assert epoch_pairs(cfg, "init_large_batch") == [(0, 5), (0, 7)]
    assert epoch_pairs(cfg, "init_small_batch") == [(0, "step15"), (0, "step21")]
    # 1347 training digits in batches of 512: 3 steps an epoch, so steps 15 and 21 of the
    # small batch are as many updates as epochs 5 and 7 of the large ones
    assert plan.steps_per_epoch(cfg, "large_batch") == 3
    # the default pairs consecutive points; from_first works on cycle_ends and windows too
    sgdr = copy.deepcopy(embedded_config)
    sgdr["similarity"]["analyses"]["init_large_batch"]["pairs"] = "consecutive"
    sgdr["similarity"]["analyses"]["sgdr_restarts"]["pairs"] = "from_first"
    cfg = config.validate(sgdr)
    assert epoch_pairs(cfg, "init_large_batch") == [(0, 5), (5, 7)]
    assert epoch_pairs(cfg, "sgdr_restarts") == [
        (2, 6),
        (2, 14),
        (2, 30),
        (2, 3),
        (6, 7),
        (14, 15),
    ]


def test_an_empty_epochs_list_compares_only_the_windows(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["sgdr_restarts"]["epochs"] = []
    assert epoch_pairs(config.validate(cfg), "sgdr_restarts") == [(2, 3), (6, 7), (14, 15)]
    del cfg["similarity"]["analyses"]["sgdr_restarts"]["after_restart"]
    assert config_error(cfg) == (
        "'similarity.analyses.sgdr_restarts' compares no pair: give `epochs` two or more "
        "points, or a window (after_restart, after_drop)"
    )
    cfg["similarity"]["analyses"]["sgdr_restarts"]["epochs"] = [2]
    assert "'similarity.analyses.sgdr_restarts' compares no pair" in config_error(cfg)
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["seed_to_seed"]["epochs"] = []
    assert config_error(cfg).startswith("'similarity.analyses.seed_to_seed.epochs' is empty")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"run": "sgdr"},
            "'similarity.analyses.step_decay.after_drop' needs a step schedule with a "
            "milestone before its last epoch; run 'sgdr' (schedule sgdr) has none",
        ),
        (
            {"after_drop": [1, 1, 1]},
            "'similarity.analyses.step_decay.after_drop' has 3 values for 2 drops (after "
            "epochs 15, 22); give one per drop or one number",
        ),
        (
            {"after_drop": 2},
            "'similarity.analyses.step_decay.after_drop' has 17 (the drop at epoch 15 + 2), "
            "which run 'step' does not save; add 17, 24 to runs.step.save_epochs (saved "
            "epochs: 0, 15, 16, 22, 23, 30)",
        ),
        (
            {"after_drop": [1, 9]},
            "'similarity.analyses.step_decay.after_drop' has 31 (the drop at epoch 22 + 9), "
            "beyond the 30 epochs of run 'step'; allowed after epoch 22: 1 to 8",
        ),
        (
            {"pairs": "first"},
            "'similarity.analyses.step_decay.pairs' is 'first'; allowed values: "
            "'consecutive', 'from_first'",
        ),
    ],
)
def test_a_bad_after_drop_is_a_one_line_error(embedded_config, change, message):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["step_decay"].update(change)
    assert config_error(cfg) == message


def test_a_drop_window_needs_the_drop_saved(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["runs"]["step"]["save_epochs"] = [16, 23]
    assert config_error(cfg) == (
        "'similarity.analyses.step_decay.after_drop' starts at 15 (the drop at epoch 15 + 1), "
        "which run 'step' does not save; add 15, 22 to runs.step.save_epochs (saved epochs: "
        "0, 16, 23, 30)"
    )
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["sgdr_vs_step"]["pairs"] = "from_first"
    assert config_error(cfg).startswith(
        "unknown key 'similarity.analyses.sgdr_vs_step.pairs' for kind 'across_runs'"
    )


def test_last_cycle_end_is_sgdrs_last_cycle_and_the_end_of_other_schedules(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["training"]["epochs"] = 20
    cfg["runs"]["sgdr"]["save_epochs"] = [3, 7, 15]
    cfg["runs"]["step"]["save_epochs"] = [15, 16]  # the drop at 15 and one epoch after
    cfg = config.validate(cfg)
    assert plan.resolve_epoch(cfg, "sgdr", "last_cycle_end") == 14  # 6 epochs into a cycle
    assert plan.resolve_epoch(cfg, "step", "last_cycle_end") == 20
    assert resolved.resolved_questions(cfg)["rq1"]["read_epochs"] == {
        "sgdr": 14,
        "step": 20,
        "cosine": 20,
    }


def test_a_curve_between_seeds_needs_a_partner_to_differ(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    ends = cfg["curves"]["connections"]["seed_to_seed"]["endpoints"]
    # replicate k against its independent partner k + 500 (3)
    valid = config.validate(cfg)
    assert [plan.curve_replicates(valid, "seed_to_seed", k) for k in (0, 2)] == [(0, 500), (2, 502)]
    del ends[1]["partner"]
    assert "has the same endpoint twice (sgdr, epoch 30); give two epochs, or 'partner: true'" in (
        config_error(cfg)
    )


# --------------------------------------------------- `closerlook check` and Snakemake
def test_cli_check_reports_errors_with_exit_status_2(tmp_path, embedded_config, capsys):
    cfg = copy.deepcopy(embedded_config)
    cfg["probe"]["size"] = -1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "probe.size" in err and err.count("\n") == 1
    assert main(["check", str(tmp_path / "missing.yaml")]) == 2


def test_cli_check_prints_the_plan(repo, capsys):
    assert main(["check", str(repo / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "run sgdr: sgdr, 30 epochs, saves 0, 2, 3, 6, 7, 14, 15, 30" in out
    assert "seeds: 3 replicate(s) of every run (seed0 to seed2)" in out
    assert "design: across-seed pairs: replicate k against its partner, replicate k + 500" in out
    assert main(["check", str(PAPER)]) == 0
    assert "seeds: 3 replicate(s) of every run (seed0 to seed2)" in capsys.readouterr().out


def test_cli_check_prints_the_curves(repo, capsys):
    assert main(["check", str(repo / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "curve sgdr_restarts: polychain, 3 bends, sgdr epoch 14 to sgdr epoch 30" in out


def test_cli_help():
    out = subprocess.run(
        [tool("closerlook"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "snakemake" in out and "check" in out


def test_snakemake_refuses_a_bad_config_before_any_job(repo, tmp_path, snakemake_env):
    result = subprocess.run(
        [
            tool("snakemake"),
            "-n",
            "--snakefile",
            str(repo / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(repo / "config.yaml"),
            "--config",
            "device=tpu",
        ],
        capture_output=True,
        text=True,
        env=snakemake_env,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert (
        "'device' is 'tpu'; allowed values: 'auto', 'cpu', 'cuda'" in result.stdout + result.stderr
    )
    assert not (tmp_path / "results").exists()


def test_the_teacher_is_a_dag_dependency_of_its_student(repo, tmp_path, snakemake_env):
    out = dry_run_plan(
        tmp_path,
        snakemake_env,
        "results/embedded/runs/student_distill/seed0/metrics.csv",
        configfile=repo / "config.yaml",
    )
    jobs = {line.split()[0] for line in out.splitlines() if line.startswith("train_")}
    assert jobs == {"train_teacher", "train_student_distill"}


def test_cifar10_training_reads_the_data_and_can_download_it(tmp_path, snakemake_env):
    cfg = yaml.safe_load(PAPER.read_text())
    cfg["data"]["data_dir"] = "cifar"
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(cfg))
    out = dry_run_plan(
        tmp_path,
        snakemake_env,
        "results/paper/runs/sgdr/seed0/metrics.csv",
        configfile=tmp_path / "paper.yaml",
    )
    assert "download_cifar10" in out and "cifar/data_batch_1" in out


@pytest.mark.parametrize(
    ("question", "value", "message"),
    [
        (("rq1", "runs"), ["sgdr", "stpe"], "'questions.rq1.runs.1' is 'stpe', not a configured"),
        (("rq1", "curve"), "sgdr_restart", "'questions.rq1.curve' is 'sgdr_restart', not a"),
        (("rq3", "analysis"), "distill", "'questions.rq3.analysis' is 'distill', not a configured"),
        (("rq4", "heuristics"), "sgdr_vs_stp", "allowed values: sgdr_restarts, step_decay"),
        (("rq1", "control"), "step_dcay", "'questions.rq1.control' is 'step_dcay', not a"),
    ],
)
def test_a_misspelt_name_in_questions_names_the_key_and_the_names(
    embedded_config, question, value, message
):
    cfg = copy.deepcopy(embedded_config)
    cfg["questions"][question[0]][question[1]] = value
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.validate(cfg)


def test_a_misspelt_rq2_run_names_its_role(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["questions"]["rq2"]["warmup"]["run"] = "large_batch_wramup"
    with pytest.raises(config.ConfigError, match="'questions.rq2.warmup.run' is 'large_batch_w"):
        config.validate(cfg)


def test_names_filled_in_by_default_leave_their_figures_out(embedded_config):
    """Only names the config writes must exist: a study without the embedded runs keeps the
    schema's default questions and draws what it has."""
    cfg = copy.deepcopy(embedded_config)
    del cfg["questions"]
    cfg["runs"] = {"sgdr": cfg["runs"]["sgdr"]}
    cfg["similarity"]["analyses"] = {}
    cfg["curves"]["connections"] = {}
    assert config.validate(cfg)["questions"]["rq1"]["runs"] == ["sgdr", "step", "cosine"]
