"""Shared fixtures: the repository, the venv's tools, and a reduced embedded config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from support import BIN, REPO, reduced_config


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def embedded_config() -> dict:
    with open(REPO / "config.yaml") as f:
        return yaml.safe_load(f)


@pytest.fixture
def small_config(embedded_config) -> dict:
    return reduced_config(embedded_config)


@pytest.fixture
def snakemake_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env
