"""Curve config: endpoints as (run, epoch), defaults, and errors that name the key."""

import copy

import pytest

from closerlook import config as study


def error(cfg) -> str:
    with pytest.raises(study.ConfigError) as info:
        study.validate(cfg)
    return str(info.value)


def with_curve(base, **curve):
    cfg = copy.deepcopy(base)
    cfg.setdefault("curves", {}).setdefault("connections", {})["x"] = curve
    return cfg


def test_embedded_curve_joins_the_last_two_sgdr_restarts(embedded_config):
    cfg = study.validate(embedded_config)
    assert study.curve_endpoints(cfg, "sgdr_restarts") == [("sgdr", 14), ("sgdr", 30)]
    assert cfg["curves"]["bn_images"] == 0 and cfg["curves"]["bn_batch_size"] == 512


def test_defaults_and_settings_inherited_from_the_run(embedded_config):
    cfg = study.validate(with_curve(embedded_config, run="sgdr", batch_size=32))
    c = cfg["curves"]["connections"]["x"]
    assert (c["kind"], c["n_bends"], c["seed"]) == ("polychain", 3, 0)
    assert study.curve_endpoints(cfg, "x") == [("sgdr", 14), ("sgdr", 30)]
    settings = study.curve_settings(cfg, "x")
    assert settings["batch_size"] == 32
    assert settings["weight_decay"] == cfg["training"]["weight_decay"]
    assert settings["model"] == "vgg_small"


def test_a_config_without_curves_gets_the_documented_defaults(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    del cfg["curves"]
    assert study.validate(cfg)["curves"] == {
        "points": 31,
        "bn_images": 0,
        "bn_batch_size": 512,
        "eval_seed": 0,
        "plane": {"grid": 21, "margin": 0.2},
        "connections": {},
    }


def test_endpoints_from_two_runs_rq4(embedded_config):
    cfg = study.validate(
        with_curve(
            embedded_config,
            endpoints=[{"run": "sgdr"}, {"run": "step", "epoch": 22}],
            kind="bezier",
        )
    )
    assert study.curve_endpoints(cfg, "x") == [("sgdr", 30), ("step", 22)]
    cfg = study.validate(with_curve(embedded_config, run="step", epochs=[15, 30]))
    assert study.curve_endpoints(cfg, "x") == [("step", 15), ("step", 30)]


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
    assert expected in error(with_curve(embedded_config, **curve))


def test_bad_curve_settings_name_the_key(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["curves"]["plane"]["grid"] = 1
    assert "'curves.plane.grid'" in error(cfg)
    cfg = copy.deepcopy(embedded_config)
    cfg["curves"]["points"] = 1
    assert "'curves.points'" in error(cfg)
    cfg = copy.deepcopy(embedded_config)
    cfg["curves"]["steps"] = 3
    assert "unknown key 'curves.steps'" in error(cfg)


def test_endpoints_must_share_an_architecture(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["models"]["wide"] = {"arch": "vgg", "conv": [32, "M"], "fc": [64]}
    cfg["runs"]["step"]["model"] = "wide"
    cfg["curves"]["connections"]["x"] = {"endpoints": [{"run": "sgdr"}, {"run": "step"}]}
    msg = error(cfg)
    assert "'curves.connections.x'" in msg and "different models" in msg


def test_cli_check_prints_the_curves(repo, capsys):
    from closerlook.cli import main

    assert main(["check", str(repo / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "curve sgdr_restarts: polychain, 3 bends, sgdr epoch 14 to sgdr epoch 30" in out
