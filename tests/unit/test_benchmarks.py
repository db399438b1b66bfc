"""Every benchmark script imports and documents its options (the timings themselves are
measured by running the scripts, never in tests)."""

import subprocess
import sys

import pytest

from support import REPO

SCRIPTS = sorted((REPO / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_runs_help(script):
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout
