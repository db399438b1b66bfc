"""Fixtures of the SLURM tests: a running cluster (closerlook's test cluster, cluster.py)
and commands started in their own sessions."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

import cluster


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running single-node SLURM cluster; stopped afterwards even if a test fails."""
    reason = cluster.install_slurm()
    if reason:
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("starting munged, slurmctld and slurmd needs root")
    conf = cluster.SLURM_CONF
    if conf.exists() and not conf.read_text().startswith(cluster.MARKER):
        pytest.skip(f"{conf} belongs to an existing SLURM installation; left alone")
    cluster.stop_stale_cluster()
    # munged wants every folder above its socket open to all: not pytest's 0700 tmp_path.
    state = Path(tempfile.mkdtemp(prefix="closerlook-slurm-"))
    try:
        cluster.start_cluster(state)
        yield state
    finally:
        cluster.stop_cluster(state)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def spawn():
    """Start a command in its own session, logging to a file; what still runs at teardown
    (a failed assertion, a timeout) is killed with its children."""
    procs: list[subprocess.Popen] = []

    def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
        with open(log, "w") as out:
            procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
