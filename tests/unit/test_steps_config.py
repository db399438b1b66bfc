"""Checkpoint points (closerlook.points) in configs, tables and figure labels: epochs and
optimizer steps ("stepN", a run's `save_iterations`)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from closerlook import config as study
from closerlook import points
from closerlook.results import LayerProfile, layer_profiles


@pytest.fixture
def with_steps(embedded_config) -> dict:
    """The embedded preset, its small-batch run also saved after step 9 (the 9 iterations
    of 3 warmup epochs at batch 512) and compared there with initialisation."""
    cfg = copy.deepcopy(embedded_config)
    cfg["runs"]["small_batch"]["save_epochs"] = [3]
    cfg["runs"]["small_batch"]["save_iterations"] = [9]
    cfg["similarity"]["analyses"]["init_small_batch"]["epochs"] = [0, "step9"]
    return cfg


# ------------------------------------------------------------------------- points
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


# ------------------------------------------------------------------------- config
def test_a_step_of_save_iterations_is_a_checkpoint_analyses_can_name(with_steps):
    cfg = study.validate(with_steps)
    run = study.run_config(cfg, "small_batch")
    assert study.checkpoint_steps(run) == [9]
    assert study.checkpoint_points(run) == [0, 3, 30, "step9"]
    assert study.checkpoint_epochs(run) == [0, 3, 30]  # epochs as before
    assert study.analysis_pairs(cfg, "init_small_batch") == [
        ("small_batch", 0, "small_batch", "step9")
    ]
    # 1347 digits in batches of 64
    assert study.steps_per_epoch(cfg, "small_batch") == 22


def test_a_step_not_in_save_iterations_is_a_one_line_error(with_steps):
    cfg = copy.deepcopy(with_steps)
    cfg["similarity"]["analyses"]["init_small_batch"]["epochs"] = [0, "step10"]
    with pytest.raises(study.ConfigError) as err:
        study.validate(cfg)
    assert str(err.value) == (
        "'similarity.analyses.init_small_batch.epochs' has step10, which run 'small_batch' "
        "does not save; saved epochs: 0, 3, 30; saved steps (save_iterations): step9"
    )


def test_a_step_of_a_run_without_save_iterations_is_an_error(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["init_large_batch"]["epochs"] = [0, "step9"]
    with pytest.raises(study.ConfigError) as err:
        study.validate(cfg)
    message = str(err.value)
    assert message.startswith("'similarity.analyses.init_large_batch.epochs' has step9")
    assert message.endswith("saved steps (save_iterations): none") and "\n" not in message


def test_an_unsaved_epoch_keeps_its_message(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["similarity"]["analyses"]["init_large_batch"]["epochs"] = [0, 4]
    with pytest.raises(study.ConfigError, match=r"has 4, which run 'large_batch' does not save; "):
        study.validate(cfg)
    with pytest.raises(study.ConfigError) as err:
        study.validate(cfg)
    assert str(err.value).endswith("saved epochs: 0, 3, 30")


def test_a_step_beyond_the_run_is_a_config_error(with_steps):
    cfg = copy.deepcopy(with_steps)
    cfg["runs"]["small_batch"]["save_iterations"] = [9, 661]  # 30 epochs of 22 steps: 660
    with pytest.raises(study.ConfigError) as err:
        study.validate(cfg)
    assert str(err.value) == (
        "'runs.small_batch.save_iterations' has 661; allowed: 1 to the run's 660 steps "
        "(30 epochs of 22)"
    )
    cfg["runs"]["small_batch"]["save_iterations"] = [9, 660]
    study.validate(cfg)


@pytest.mark.parametrize("steps", [[0], [-3], ["step9"], [9, 9], 9])
def test_save_iterations_are_distinct_steps_from_1(embedded_config, steps):
    cfg = copy.deepcopy(embedded_config)
    cfg["runs"]["small_batch"]["save_iterations"] = steps
    with pytest.raises(study.ConfigError, match=r"'runs\.small_batch\.save_iterations"):
        study.validate(cfg)


@pytest.mark.parametrize("point", ["step0", "step", "epoch3", "3", "step-1"])
def test_an_analysis_names_steps_as_stepN(with_steps, point):
    cfg = copy.deepcopy(with_steps)
    cfg["similarity"]["analyses"]["init_small_batch"]["epochs"] = [0, point]
    with pytest.raises(study.ConfigError, match=r"'similarity\.analyses\.init_small_batch\.epochs"):
        study.validate(cfg)


def test_save_iterations_do_not_change_the_other_runs_settings(embedded_config, with_steps):
    """No default: a run without save_iterations keeps its settings, hence its hash."""
    plain = study.validate(embedded_config)
    stepped = study.validate(with_steps)
    for run in ("sgdr", "large_batch"):
        assert study.run_config(plain, run) == study.run_config(stepped, run)
        assert "save_iterations" not in study.run_config(plain, run)


# ------------------------------------------------------------------------- tables
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
    ((_, label, _),) = figures._restarts([p])
    assert label == "epoch 0 vs step 200"
    ((_, label, _),) = figures._reference(
        [LayerProfile("r", "step200", "r", "step200", ["a"], np.ones(1), np.zeros(1))]
    )
    assert label.endswith("(step 200)")
