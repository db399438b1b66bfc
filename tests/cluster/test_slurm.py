"""The SLURM profile: the embedded pipeline through sbatch on a real single-node SLURM
cluster (cluster.py, started by the `slurm_cluster` fixture), and the paper preset's
requests resolved without a cluster."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from closerlook import checkpoints, config, replicates, resources

import cluster
from support import reduced_config, snakemake_command


@pytest.mark.slow
def test_embedded_pipeline_runs_through_sbatch(
    slurm_cluster, spawn, embedded_config, tmp_path, snakemake_env
):
    cfg = reduced_config(embedded_config)
    cfg["device"] = "cpu"  # the job sees the fake GPU's CUDA_VISIBLE_DEVICES, not a GPU
    analysis, pairs = cluster.smallest_analysis(cfg)
    targets = [f"results/{cfg['preset']}/similarity/{analysis}.csv"]
    runs = sorted({run for p in pairs for run in (p[0], p[2])})
    cluster_dir, local_dir = tmp_path / "cluster", tmp_path / "local"
    for d in (cluster_dir, local_dir):
        d.mkdir()
        (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(snakemake_env, SBATCH_PARTITION="debug")
    env.pop("HDF5_USE_FILE_LOCKING", None)  # the profile sets it for the jobs
    for name in ("SNAKEMAKE_PROFILE", "SBATCH_ACCOUNT", "CLOSERLOOK_CPU_PARTITION"):
        env.pop(name, None)
    profile = cluster.shrunk_profile(tmp_path / "profile")

    # The local reference run shares the 2 cores with the cluster run; SLURM jobs spend
    # most of their wall time waiting on submission and status polls.
    local = spawn(
        snakemake_command(local_dir, "--cores", "1", "--workflow-profile", "none", *targets),
        env,
        tmp_path / "local.log",
    )
    on_cluster = spawn(
        snakemake_command(cluster_dir, "--profile", str(profile), *targets),
        env,
        tmp_path / "cluster.log",
    )
    cluster_log = cluster.finish(on_cluster, tmp_path / "cluster.log", timeout=600)
    cluster.finish(local, tmp_path / "local.log", timeout=600)

    # Every cluster rule went through sbatch, which answered with a SLURM job id ...
    jobs = cluster.sbatch_jobs()
    expected = {
        **{f"train_{run}": 1 for run in runs},
        "activations": len({(p[0], p[1]) for p in pairs} | {(p[2], p[3]) for p in pairs}),
        "similarity_pair": len(pairs),
    }
    ran = {rule: list(jobs.values()).count(rule) for rule in set(jobs.values())}
    assert ran == expected, f"SLURM saw {ran}, expected {expected}\n{cluster_log[-4000:]}"
    assert re.findall(r"SLURM jobid (\d+)", cluster_log), "no SLURM job id in the log"
    assert set(re.findall(r"SLURM jobid (\d+)", cluster_log)) == set(jobs)
    # ... with its own log under .snakemake/slurm_logs/<rule>/.../<jobid>.log
    slurm_logs = {p.stem for p in (cluster_dir / ".snakemake/slurm_logs").rglob("*.log")}
    assert set(jobs) <= slurm_logs
    # ... and the environment the profile sets for them.
    for job_id in jobs:
        environment = cluster.job_environment(slurm_cluster, job_id)
        assert environment.get("HDF5_USE_FILE_LOCKING") == "FALSE"
    # ... while the localrules ran here and never reached SLURM.
    assert "similarity_table" not in jobs.values()
    assert re.search(r"localrule similarity_table:", cluster_log)

    # Same seed, same CPU arithmetic: the cluster reproduces the local run exactly.
    root = f"results/{cfg['preset']}"
    for run in runs:
        metrics = f"{root}/runs/{run}/seed0/metrics.csv"
        on_slurm, reference = cluster_dir / metrics, local_dir / metrics
        assert cluster.read_metrics(on_slurm) == cluster.read_metrics(reference)
    table = f"{root}/similarity/{analysis}.csv"
    a, b = pd.read_csv(cluster_dir / table), pd.read_csv(local_dir / table)
    assert len(a) > 0
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6, atol=1e-9)


def test_paper_preset_requests_with_the_slurm_profile(embedded_config, tmp_path, snakemake_env):
    cfg = cluster.paper_config(embedded_config)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(
        snakemake_env, SBATCH_PARTITION="gpu", SBATCH_ACCOUNT="lab", CLOSERLOOK_CPU_PARTITION="cpu"
    )
    cmd = snakemake_command(tmp_path, "--profile", str(cluster.PROFILE.parent), "--dry-run")
    done = cluster.run(cmd, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    jobs = cluster.dry_run_jobs(done.stdout)
    local = cluster.local_rules(tmp_path / "config.yaml", tmp_path, env)
    profile = yaml.safe_load(cluster.PROFILE.read_text())
    cpu_rules = {r for r, res in profile["set-resources"].items() if res.get("gpu") == 0}
    submitted = {rule for rule, _ in jobs} - local
    gpu_rules = submitted - cpu_rules

    # Training (one rule per run), activation dumps and curve fitting ask for a GPU ...
    trained = replicates.trained_runs(config.validate(cfg))  # identical runs train once
    assert {f"train_{run}" for run in trained} | {"activations"} <= gpu_rules
    assert not {rule for rule in submitted if "curve" in rule} - gpu_rules
    # ... SVCCA asks for CPUs, and figures and tables run locally.
    assert "similarity_pair" in submitted - gpu_rules
    assert {"similarity_table", "similarity_figure", "learning_curves"} <= local
    gpu = profile["default-resources"]
    for rule, res in jobs:
        if rule in local:
            continue
        flags = cluster.sbatch_flags(res)
        assert "-A lab" in flags, (rule, flags)
        assert int(res["runtime"]) > 0 and f"-t {res['runtime']}" in flags, (rule, flags)
        if rule in gpu_rules:
            assert res["gpu"] == "1" and "-p gpu" in flags, (rule, flags)
            assert "--gpus=1" in flags, (rule, flags)
            assert f"--cpus-per-gpu={gpu['cpus_per_gpu']}" in flags, (rule, flags)
            assert int(res["mem_mb"]) >= gpu["mem_mb"], (rule, res)
        else:
            own = profile["set-resources"][rule]
            assert res["gpu"] == "0" and "--gpus" not in flags and "-p cpu" in flags, (rule, flags)
            assert f"--cpus-per-task={own['cpus_per_task']}" in flags, (rule, flags)
            # without a calibration: the rule's own fallback (similarity.smk)
            assert f"--mem {UNCALIBRATED[rule]['mem_mb']}" in flags, (rule, flags)
        for key, value in {
            **UNCALIBRATED.get(rule, {}),
            **profile["set-resources"].get(rule, {}),
        }.items():
            if not key.startswith("?"):  # a YTE conditional, checked above
                assert res[key] == str(value), (rule, key, res)


# the rules' requests without a calibration (workflow/rules: planned_resources fallbacks)
UNCALIBRATED = {
    "similarity_pair": {"mem_mb": 64000, "runtime": 240},
    "activations": {"runtime": 60},
    "curve_evaluate": {"runtime": 360},
}


def profile_requests(workdir: Path, profile: Path, env: dict, attempt: int) -> dict:
    """(rule, outputs) -> resolved resources of every job a SLURM dry run at `attempt`
    submits (the localrules left out)."""
    cmd = snakemake_command(
        workdir, "--profile", str(profile), "--dry-run", "--attempt", str(attempt)
    )
    done = cluster.run(cmd, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    local = cluster.local_rules(workdir / "config.yaml", workdir, env)
    jobs = {}
    for block in re.split(r"\n(?=\[[A-Z][a-z]{2} )", done.stdout):
        (rule, res), *_ = cluster.dry_run_jobs(block) or [(None, None)]
        if rule and rule not in local:
            jobs[(rule, re.search(r"^\s+output: (.*)$", block, re.M).group(1))] = res
    return jobs


def test_a_retry_asks_for_more_time(embedded_config, tmp_path, snakemake_env):
    """The profile retries a failed or timed-out job (retries: 3); the second try asks for
    twice the first one's runtime, memory unchanged: the rules' fallbacks and the
    profile's default (without a calibration) and the plan's requests (with one) alike."""
    paper, calibrated = cluster.paper_config(embedded_config), reduced_config(embedded_config)
    paper["resources"] = {"calibration": None}
    assert yaml.safe_load(cluster.PROFILE.read_text())["retries"] >= 2
    default = 720  # the profile's default-resources runtime: "720 * attempt"
    env = dict(snakemake_env, SBATCH_PARTITION="gpu", SBATCH_ACCOUNT="lab")
    for name, cfg in (("paper", paper), ("calibrated", calibrated)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump(cfg))
        tries = [
            profile_requests(tmp_path / name, cluster.PROFILE.parent, env, attempt)
            for attempt in (1, 2)
        ]
        assert tries[0].keys() == tries[1].keys()
        rules = {rule for rule, _ in tries[0]}
        assert {"activations", "similarity_pair"} <= rules and any("train_" in r for r in rules)
        for job, first in tries[0].items():
            res = tries[1][job]
            assert int(res["runtime"]) == 2 * int(first["runtime"]), (name, job, res)
            assert f"-t {res['runtime']}" in cluster.sbatch_flags(res), (name, job, res)
            assert res["mem_mb"] == first["mem_mb"], (name, job, res)
        if name == "paper":  # the first try: the rules' fallbacks, else the profile's
            for (rule, _), res in tries[0].items():
                want = UNCALIBRATED.get(rule, {}).get("runtime", default)
                assert int(res["runtime"]) == want, (rule, res)


def test_calibrated_requests_are_the_plans_and_the_profile_overrides_them(
    embedded_config, tmp_path, snakemake_env
):
    """With the embedded preset's calibration every submitted job asks for the plan's
    runtime and memory (closerlook.resources); a profile's set-resources still wins."""
    cfg = reduced_config(embedded_config)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    profile = yaml.safe_load(cluster.PROFILE.read_text())
    profile["set-resources"]["activations"] = {"runtime": 7, "mem_mb": 1234}
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile/profile.yaml").write_text(yaml.safe_dump(profile))
    cmd = snakemake_command(tmp_path, "--profile", str(tmp_path / "profile"), "--dry-run")
    done = cluster.run(cmd, env=snakemake_env, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    planned = resources.rule_requests(config.validate(cfg))
    local = cluster.local_rules(tmp_path / "config.yaml", tmp_path, snakemake_env)
    jobs = [(rule, res) for rule, res in cluster.dry_run_jobs(done.stdout) if rule not in local]
    assert {rule for rule, _ in jobs} >= {"train_sgdr", "activations", "similarity_pair"}
    for rule, res in jobs:
        want = {"runtime": 7, "mem_mb": 1234} if rule == "activations" else planned[rule]
        assert (int(res["runtime"]), int(res["mem_mb"])) == (want["runtime"], want["mem_mb"])


# --------------------------------------------------------------------------- preemption
EPOCHS = 100  # about 0.2 s each on the embedded data


def wait_for(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s:\n{log.read_text()[-4000:]}"
        time.sleep(0.2)


def state_of(job_id: str) -> str:
    out = cluster.run([cluster.program("squeue"), "-h", "-j", job_id, "-o", "%T"], timeout=30)
    return out.stdout.strip()


def epochs_after_resume(log: Path) -> list[int]:
    """The epochs a job's log reports after its last "resuming after epoch" line."""
    text = log.read_text() if log.exists() else ""
    _, found, after = text.rpartition("resuming after epoch")
    return [int(e) for e in re.findall(r"step epoch (\d+)/", after)] if found else []


def freeze(job_id: str) -> None:
    """Stop a running job's training process where it stands (SIGSTOP), as a hung job is:
    found among the job's processes (SLURM tracks the tree, proctrack/linuxproc) by its
    script; SLURM's own processes keep running, so it can end the job at its time limit."""
    listed = cluster.run([cluster.program("scontrol"), "listpids", job_id], timeout=30)
    assert listed.returncode == 0, listed.stderr
    pids = [
        int(w[0]) for w in map(str.split, listed.stdout.splitlines()[1:]) if w and w[0].isdigit()
    ]
    training = [p for p in pids if "train.py" in command_line(p)]
    assert training, listed.stdout
    for pid in training:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def job_log(cluster_dir: Path, job_id: str) -> Path:
    logs = list((cluster_dir / ".snakemake/slurm_logs").rglob(f"{job_id}.log"))
    return logs[0] if logs else cluster_dir / "missing.log"


@pytest.mark.slow
def test_a_requeued_training_job_resumes_to_the_same_run(
    slurm_cluster, spawn, embedded_config, tmp_path, snakemake_env
):
    """`scontrol requeue` of a training job after its first epoch (as a preemption does):
    the job comes back and resumes from resume/. It then runs past its time limit; SLURM
    ends it (TIMEOUT), Snakemake's retry submits it again, and that job resumes too. The
    run ends with the metrics and final checkpoint of an uninterrupted run."""
    cfg = reduced_config(embedded_config)
    cfg["device"] = "cpu"
    # long enough to interrupt twice; it saves only its drop windows (3/4, 5/6: step_decay)
    cfg["runs"]["step"].update(epochs=EPOCHS, save_epochs=[3, 4, 5, 6])
    cfg["resources"] = {"calibration": None}  # the shrunk profile's 10-minute limit
    target = f"results/{cfg['preset']}/runs/step/seed0/metrics.csv"
    cluster_dir, local_dir = tmp_path / "cluster", tmp_path / "local"
    for d in (cluster_dir, local_dir):
        d.mkdir()
        (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(snakemake_env, SBATCH_PARTITION="debug")
    for name in ("SNAKEMAKE_PROFILE", "SBATCH_ACCOUNT", "CLOSERLOOK_CPU_PARTITION"):
        env.pop(name, None)
    profile = cluster.shrunk_profile(tmp_path / "profile", retries=1)
    earlier = set(cluster.sbatch_jobs())  # SLURM still lists the jobs of earlier tests
    log = tmp_path / "c.log"
    on_cluster = spawn(snakemake_command(cluster_dir, "--profile", str(profile), target), env, log)
    resume = cluster_dir / f"results/{cfg['preset']}/runs/step/seed0/resume/last.pt"
    wait_for(resume.exists, 300, "no epoch finished", log)
    new = {j: rule for j, rule in cluster.sbatch_jobs().items() if j not in earlier}
    (job_id,) = [j for j, rule in new.items() if rule == "train_step"]
    scontrol = cluster.program("scontrol")

    # Preempted: requeued, the same job id comes back and resumes.
    t0 = time.monotonic()
    requeued = cluster.run([scontrol, "requeue", job_id], timeout=30)
    assert requeued.returncode == 0, requeued.stderr
    wait_for(lambda: state_of(job_id) == "PENDING", 60, "no requeue", log)
    # SLURM holds a requeued job back for a while (its begin time); let it start now
    cluster.run([scontrol, "update", f"JobId={job_id}", "StartTime=now"], timeout=30)
    # the rule's log is written as training goes (SLURM's job log only when a step ends)
    train_log = cluster_dir / f"results/{cfg['preset']}/logs/train/step.seed0.log"
    wait_for(lambda: epochs_after_resume(train_log), 300, "no epoch after the requeue", log)
    back_after = time.monotonic() - t0

    # Out of time: stopped where it stands, so it is still running when its limit passes.
    t1 = time.monotonic()
    freeze(job_id)
    cluster.run([scontrol, "update", f"JobId={job_id}", "TimeLimit=1"], timeout=30)
    cluster_log = cluster.finish(on_cluster, log, timeout=600)
    assert f"JOB {job_id} ON" in cluster_log and "DUE TO TIME LIMIT" in cluster_log, cluster_log[
        -3000:
    ]
    retried_after = time.monotonic() - t1
    new = {j: rule for j, rule in cluster.sbatch_jobs().items() if j not in earlier}
    (retry_id,) = [j for j, rule in new.items() if rule == "train_step" and j != job_id]
    text = job_log(cluster_dir, retry_id).read_text()
    assert "resuming after epoch" in text, text[-3000:]
    assert epochs_after_resume(job_log(cluster_dir, retry_id))[-1] == EPOCHS, text[-3000:]

    local = spawn(
        snakemake_command(local_dir, "--cores", "1", "--workflow-profile", "none", target),
        env,
        tmp_path / "l.log",
    )
    cluster.finish(local, tmp_path / "l.log", timeout=600)
    metrics = cluster_dir / target
    assert cluster.read_metrics(metrics) == cluster.read_metrics(local_dir / target)
    final = f"checkpoints/epoch{EPOCHS:03d}.pt"
    got = checkpoints.load_checkpoint(metrics.parent / final)["model"]
    want = checkpoints.load_checkpoint(local_dir / target.replace("metrics.csv", final))["model"]
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert not resume.parent.exists()
    print(
        f"requeued job {job_id} resumed {back_after:.0f} s after the requeue; "
        f"timed out and retried as {retry_id}, done {retried_after:.0f} s after the stop"
    )
    assert "train_step" in cluster_log
