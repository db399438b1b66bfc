"""Shared fixtures: the repository, the venv's tools, and a reduced embedded config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from closerlook.device import single_thread

from support import BIN, REPO, reduced_config, small_digits


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


@pytest.fixture(scope="module")
def one_thread():
    """Request it (`pytestmark = pytest.mark.usefixtures("one_thread")`) for small nets."""
    with single_thread():
        yield


@pytest.fixture(scope="module")
def digits():
    """A quarter of the digits training set (support.small_digits), once per module."""
    return small_digits()


@pytest.fixture(scope="session")
def small_study(tmp_path_factory, embedded_config) -> Path:
    """A small finished study's results folder (tests/small_study.py), built once: read
    only (copy it to change it)."""
    from closerlook import config, resolved

    import small_study as study

    questions = resolved.resolved_questions(config.validate(embedded_config))
    with single_thread():
        return study.build(tmp_path_factory.mktemp("small_study"), questions)
