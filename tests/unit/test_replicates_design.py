"""The design of replicates (closerlook.replicates) with known answers: seed groups and
their bases, pairing on purpose, identical runs as one network, disjoint partners, and the
configs it refuses."""

from __future__ import annotations

import copy

import pytest

from closerlook import config, plan, replicates

from support import PAPER, config_error


def runs(**keys) -> dict:
    """A config of step-decay runs named by `keys`, each with its own extra keys."""
    schedule = {"kind": "step", "lr": 0.05, "milestones": [5], "gamma": 0.1}
    return {
        "seeds": 3,
        "training": {"seed": 0},
        "models": {"m": {"arch": "vgg"}},
        "runs": {name: {"model": "m", "schedule": schedule, **k} for name, k in keys.items()},
    }


def test_each_group_trains_its_own_seeds():
    cfg = runs(a={}, b={"pair_with": "a"}, c={}, d={"seed": 50_000})
    assert replicates.groups(cfg) == {"a": ["a", "b"], "c": ["c"], "d": ["d"]}
    assert [replicates.seed_base(cfg, r) for r in "abcd"] == [0, 0, 1000, 50_000]
    cfg["training"]["seed"] = 7  # the study's base seed shifts every group
    assert [replicates.seed_base(cfg, r) for r in "abc"] == [7, 7, 1007]


def test_pairing_follows_the_chain_to_its_root():
    cfg = runs(a={}, b={"pair_with": "a"}, c={"pair_with": "b"})
    assert {replicates.paired_root(cfg, r) for r in "abc"} == {"a"}


def test_the_partner_of_replicate_k_is_k_plus_500():
    # pairs (0, 500), (1, 501), (2, 502): no replicate in two pairs, and a fourth seed adds
    # (3, 503) without re-pairing the others
    pairs = [(k, replicates.partner(k)) for k in range(3)]
    assert pairs == [(0, 500), (1, 501), (2, 502)]
    assert len({k for p in pairs for k in p}) == 6
    assert replicates.replicate_indices({"seeds": 4}) == [0, 1, 2, 3, 500, 501, 502, 503]


def test_identical_runs_are_one_network_under_the_paired_runs_name():
    # b and c differ from a only in what they save: one network, trained as a (the root)
    cfg = runs(
        c={"pair_with": "a", "save_iterations": [3]},
        a={"save_epochs": [2]},
        b={"pair_with": "a", "save_epochs": [4]},
        d={},  # the same settings, its own seeds: another network
        e={"pair_with": "a", "momentum": 0.5},  # paired, one setting changed
    )
    cfg["training"].update(epochs=6, batch_size=8, momentum=0.9, weight_decay=0.0)
    assert {r: replicates.trained_run(cfg, r) for r in "abcde"} == {
        "a": "a", "b": "a", "c": "a", "d": "d", "e": "e"
    }  # fmt: skip
    assert replicates.trained_runs(cfg) == ["a", "d", "e"]
    trained = plan.trained_settings(cfg, "a")
    assert trained.save_epochs == [2, 4] and trained.save_iterations == [3]
    assert "a, c, b: identical training, one network (trained once)" in replicates.design(cfg)


def test_a_distilled_run_is_identical_only_with_the_same_teachers_network():
    distill = {"teacher": {"run": "t"}, "temperature": 4, "alpha": 0.9}
    cfg = runs(t={}, u={"pair_with": "t"}, s1={"distill": distill})
    cfg["runs"]["s2"] = {**copy.deepcopy(cfg["runs"]["s1"]), "pair_with": "s1"}
    assert replicates.trained_run(cfg, "s2") == "s1"
    cfg["runs"]["s2"]["distill"] = {**distill, "teacher": {"run": "u"}}  # u is t's network
    assert replicates.trained_run(cfg, "s2") == "s1"
    cfg["runs"]["u"]["momentum"] = 0.5  # now another teacher
    assert replicates.trained_run(cfg, "s2") == "s2"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["teacher"].update(seed=1002),
            "'runs.step' and 'runs.teacher' would both train torch seed 1002: pair them on "
            "purpose with 'runs.teacher.pair_with: step', or give their 'seed' values at "
            "least 1000 apart",
        ),
        (
            lambda r: r["student_distill"].update(seed=3),
            "'runs.student_distill' has both pair_with and seed; a paired run trains the seeds "
            "of 'student_plain': remove its seed",
        ),
        (
            lambda r: r["step"].update(pair_with="stepp"),
            "'runs.step.pair_with' is 'stepp'; allowed values: sgdr, step, cosine",
        ),
        (
            lambda r: r["student_plain"].update(pair_with="student_distill"),
            "goes round in a circle (student_plain -> student_distill -> student_plain)",
        ),
    ],
)
def test_a_design_that_cannot_be_trained_names_the_key(embedded_config, change, message):
    cfg = copy.deepcopy(embedded_config)
    change(cfg["runs"])
    assert message in config_error(cfg)


def test_both_presets_train_each_distinct_network_once(embedded_config):
    embedded, paper = config.validate(embedded_config), config.load(PAPER)
    assert replicates.trained_run(embedded, "small_batch") == "step"
    assert replicates.trained_run(embedded, "student_plain") == "student_plain"  # narrower
    assert replicates.trained_run(paper, "student_plain") == "step"
    for cfg in (embedded, paper):
        trained = replicates.trained_runs(cfg)
        keys = [replicates.training_key(cfg, r) for r in trained]
        assert len(set(keys)) == len(keys)  # no two trained networks are identical
