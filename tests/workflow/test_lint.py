"""House style: ruff, snakefmt and snakemake --lint are clean."""

import subprocess

import pytest

from support import tool


def run(repo, *cmd):
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True)


def test_ruff(repo):
    result = run(repo, tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout


def test_snakefmt(repo):
    result = run(repo, tool("snakefmt"), "--check", "Snakefile", "workflow/rules")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_snakemake_lint(repo):
    result = run(repo, tool("snakemake"), "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
