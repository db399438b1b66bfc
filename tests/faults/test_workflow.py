"""Through Snakemake: a second invocation on a busy results folder is refused by the lock;
a training job killed with its Snakemake resumes after `--unlock` and completes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from closerlook import checkpoints

from jobs import reduced_config, tool


@pytest.mark.slow
def test_lock_kill_unlock_and_resume(repo, tmp_path, embedded_config, snakemake_env):
    cfg = reduced_config(embedded_config)
    cfg["runs"]["sgdr"]["epochs"] = 30  # long enough to outlast the side invocations
    cfg["runs"]["sgdr"]["save_epochs"] = [3, 7, 15]  # one epoch after each restart
    cfg["models"]["vgg_small"]["conv"] = [64, 64, "M", 128, 128, "M"]  # slow enough to catch
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = {**snakemake_env, "PYTHONPATH": str(repo / "src")}
    base = [tool("snakemake"), "--snakefile", str(repo / "Snakefile"), "--directory"]
    base += [str(tmp_path), "--configfile", str(tmp_path / "config.yaml"), "--cores", "1"]

    def snakemake(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*base, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
        )

    run = tmp_path / "results/embedded/runs/sgdr/seed0"
    target = "results/embedded/runs/sgdr/seed0/metrics.csv"  # train_sgdr, seed 0
    first = subprocess.Popen(
        [*base, target],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
        start_new_session=True,  # its own process group: the kill takes the job with it
    )
    try:
        deadline = time.monotonic() + 240
        while not list((tmp_path / ".snakemake/locks").glob("*")):
            assert first.poll() is None, "the first invocation ended early"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # side by side, while the job runs: both are refused, the plain one by the lock or
        # because the running job's outputs are incomplete, the one told to redo
        # incomplete outputs by the lock
        with ThreadPoolExecutor(2) as pool:
            second = pool.submit(snakemake, target)
            forced = pool.submit(snakemake, target, "--rerun-incomplete")
            second, forced = second.result(), forced.result()
        assert first.poll() is None, "the first invocation ended too soon for this test"
        assert second.returncode != 0
        assert "cannot be locked" in second.stderr or "IncompleteFilesException" in second.stderr
        assert forced.returncode != 0
        assert "cannot be locked" in forced.stderr and "--unlock" in forced.stderr
        while not (run / "resume/last.pt").exists():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert not (run / "metrics.csv").exists()

    stale = snakemake(target, "--rerun-incomplete")  # the kill left its lock behind
    assert stale.returncode != 0 and "--unlock" in stale.stderr
    assert snakemake("--unlock").returncode == 0
    resumed = snakemake(target, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = tmp_path / "results/embedded/logs/train/sgdr.seed0.log"
    assert "resuming after epoch" in log.read_text()
    assert len(checkpoints.read_metrics(run / "metrics.csv")) == 31
    for path in (run / "checkpoints").glob("epoch*.pt"):
        checkpoints.load_checkpoint(path)
    assert not (run / "resume").exists()
