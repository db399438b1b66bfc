"""Fixtures of the fault suite: one small run, its activations and a curve, made once; and
helpers to run a job in a child process that a test can kill."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from closerlook.device import single_thread

import jobs


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="session")
def made(tmp_path_factory) -> Path:
    """A folder holding the small run's checkpoints and metrics, the activations of its
    last checkpoint and a curve between epochs 2 and 6 (never modified: copy it).
    Uninterrupted, so it is the reference of every killed job; jobs.SECONDS has their times."""
    folder = tmp_path_factory.mktemp("made")
    dataset = jobs.digits()
    for kind, job in (
        ("train", jobs.train_job),
        ("dump", jobs.dump_job),
        ("curve", jobs.curve_job),
    ):
        t0 = time.monotonic()
        job(folder, dataset)
        jobs.SECONDS[kind] = time.monotonic() - t0
    return folder


@pytest.fixture
def work(made, tmp_path) -> Path:
    """A private copy of `made` to damage."""
    shutil.copytree(made, tmp_path / "work")
    return tmp_path / "work"


@dataclass
class Child:
    """A job running in a child process (see jobs.py)."""

    proc: subprocess.Popen
    ready_at: float
    stderr: Path

    def kill(self) -> int:
        self.proc.kill()
        return self.proc.wait()

    def finish(self, timeout: float = 120) -> float:
        """Wait for the job to end; its seconds from `ready` to the end."""
        out, _ = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, self.stderr.read_text()[-3000:]
        assert out.strip().endswith("done"), out
        return time.monotonic() - self.ready_at


def start(kind: str, folder: Path) -> Child:
    """Start job `kind` on `folder` and wait until it has loaded everything."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    stderr = Path(tempfile.mkstemp(prefix=f"{kind}-", suffix=".stderr")[1])
    with open(stderr, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(Path(jobs.__file__)), kind, str(folder)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        proc.wait()
        raise AssertionError(f"job {kind} did not start: {stderr.read_text()[-3000:]}")
    return Child(proc, time.monotonic(), stderr)


@pytest.fixture
def child():
    """Start children with `child(kind, folder)`; any left running are killed at the end."""
    started: list[Child] = []

    def make(kind: str, folder: Path) -> Child:
        started.append(start(kind, folder))
        return started[-1]

    yield make
    for c in started:
        if c.proc.poll() is None:
            c.kill()
