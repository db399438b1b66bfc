"""Fixtures of the workflow suite: one reduced embedded study with two seeds, run to
completion once per session through a real Snakemake DAG (never modified: copy it)."""

from __future__ import annotations

import os

import pytest
import yaml

from closerlook import config

from support import BIN, reduced_config, run_snakemake


@pytest.fixture(scope="session")
def finished(tmp_path_factory, embedded_config):
    """(folder, validated config, environment) of the finished reduced study."""
    workdir = tmp_path_factory.mktemp("pipeline")
    cfg = reduced_config(embedded_config)
    cfg["seeds"] = 2
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    result = run_snakemake(workdir, env, "figures")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, config.validate(cfg), env
