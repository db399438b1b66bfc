"""Config validation: every bad value fails before any job runs, naming the key."""

import copy
import subprocess

import pytest

from closerlook import config as study
from closerlook.cli import main

from support import tool


def check(cfg):
    return study.validate(cfg)


def error(cfg) -> str:
    with pytest.raises(study.ConfigError) as info:
        study.validate(cfg)
    return str(info.value)


def test_embedded_config_is_valid_and_gets_defaults(embedded_config):
    cfg = check(embedded_config)
    assert cfg["device"] == "auto"
    assert cfg["probe"]["seed"] == 0
    assert cfg["training"]["save_epochs"] == []
    assert study.checkpoint_epochs(study.run_config(cfg, "sgdr")) == [0, 2, 3, 6, 7, 14, 15, 30]


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
    cfg = copy.deepcopy(embedded_config)
    edit(cfg)
    assert expected in error(cfg)


def test_enum_errors_list_the_allowed_values(embedded_config):
    cfg = copy.deepcopy(embedded_config)
    cfg["runs"]["sgdr"]["schedule"]["kind"] = "exponential"
    msg = error(cfg)
    assert "runs.sgdr.schedule.kind" in msg
    assert "'sgdr'" in msg and "'step'" in msg


def test_cli_check_reports_errors_with_exit_status_2(tmp_path, embedded_config, capsys):
    import yaml

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
    assert "seeds: 1 replicate(s) of every run (seed0)" in out
    assert main(["check", str(repo / "workflow/configs/paper.yaml")]) == 0
    assert "seeds: 3 replicate(s) of every run (seed0 to seed2)" in capsys.readouterr().out


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
