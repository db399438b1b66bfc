"""A real single-node SLURM cluster for the tests of the SLURM profile, and what they read
from it.

The cluster is Debian's `slurm-wlm` (slurmctld + slurmd) with munge, installed and started
here as root, with its state in a temporary folder and two declared (fake) GPUs so that
`gpu: 1` requests schedule; torch finds no GPU in the job and trains on the CPU. Every
daemon started here is stopped again by the PID in its pid file, whatever the outcome
(the fixtures in conftest.py start and stop it).
"""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string

from closerlook import config, plan

from debian import apt_install
from debian import system_program as program
from support import PAPER, REPO, reduced_config

PROFILE = REPO / "workflow/profiles/slurm/profile.yaml"
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
PROGRAMS = ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel"]
SLURM_CONF = Path("/etc/slurm/slurm.conf")  # the jobs' nested srun finds it only here
GRES_CONF = Path("/etc/slurm/gres.conf")
MARKER = "# closerlook test cluster, state in "


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


# --- install --------------------------------------------------------------------------


def install_slurm() -> str | None:
    """Install SLURM and munge with apt-get unless present; the reason to skip, or None."""
    return apt_install(PACKAGES, PROGRAMS)


# --- start and stop -------------------------------------------------------------------


def node_line(host: str) -> str:
    """This machine as a SLURM node (what `slurmd -C` detects), with one declared GPU."""
    detected = run([program("slurmd"), "-C"]).stdout.splitlines()
    line = detected[0] if detected and detected[0].startswith("NodeName=") else ""
    if not line:
        n = os.cpu_count() or 1
        line = (
            f"NodeName={host} CPUs={n} Boards=1 SocketsPerBoard=1 CoresPerSocket={n} "
            "ThreadsPerCore=1 RealMemory=4000"
        )
    line = re.sub(r"^NodeName=\S+", f"NodeName={host}", line)
    return f"{line} Gres=gpu:2 State=UNKNOWN"


def slurm_conf(state: Path, host: str) -> str:
    return f"""{MARKER}{state}
ClusterName=closerlook
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={state}/munge/munge.socket.2
MailProg=/bin/true
StateSaveLocation={state}/state
SlurmdSpoolDir={state}/spool
SlurmctldPidFile={state}/run/slurmctld.pid
SlurmdPidFile={state}/run/slurmd.pid
SlurmctldLogFile={state}/log/slurmctld.log
SlurmdLogFile={state}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
GresTypes=gpu
{node_line(host)}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def pid_files(state: Path) -> list[Path]:
    """The pid files of the node daemon, the controller and munge."""
    return [state / "run/slurmd.pid", state / "run/slurmctld.pid", state / "munge/munged.pid"]


def daemon_pid(pid_file: Path) -> int | None:
    """The live munged/slurmctld/slurmd whose PID a pid file holds, if any."""
    try:
        pid = int(pid_file.read_text().split()[0])
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError, IndexError):
        return None
    return pid if name in {"munged", "slurmctld", "slurmd"} else None


def stop_daemons(pid_files: list[Path], timeout: float = 15.0) -> None:
    """SIGTERM the daemons named by pid files, together; SIGKILL any that linger."""
    pids = [pid for pid in map(daemon_pid, pid_files) if pid is not None]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)


def stop_cluster(state: Path) -> None:
    """Cancel what is left in the queue, stop the daemons, remove the config we wrote."""
    if (state / "run/slurmctld.pid").exists():
        run([program("scancel"), "--user", "root"], timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            left = run([program("squeue"), "-h", "-t", "RUNNING,COMPLETING"], timeout=30)
            if left.returncode != 0 or not left.stdout.strip():
                break
            time.sleep(0.5)
    stop_daemons(pid_files(state))
    for conf in (SLURM_CONF, GRES_CONF):
        if conf.exists() and conf.read_text().startswith(MARKER):
            conf.unlink()


def stop_stale_cluster() -> None:
    """Stop the daemons of an earlier test cluster that was interrupted before its cleanup."""
    if SLURM_CONF.exists():
        first = SLURM_CONF.read_text().splitlines()[0]
        if first.startswith(MARKER):
            stop_cluster(Path(first[len(MARKER) :]))


def start_cluster(state: Path) -> None:
    """munged, slurmctld and slurmd as in the recipe; returns once the node is idle."""
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "log", "run", "munge"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    for d in (state, state / "munge"):
        d.chmod(0o755)  # munged refuses a socket folder that others cannot enter
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(slurm_conf(state, host))
    # Two declared GPUs backed by harmless device files (a Count= line alone drains the node).
    GRES_CONF.write_text(
        f"{MARKER}{state}\n"
        + "".join(f"NodeName={host} Name=gpu File={f}\n" for f in ("/dev/null", "/dev/zero"))
    )
    m = state / "munge"
    key = run([program("mungekey"), "--create", f"--keyfile={m}/munge.key"])
    assert key.returncode == 0, key.stderr
    for cmd in (
        [
            program("munged"),
            f"--key-file={m}/munge.key",
            f"--socket={m}/munge.socket.2",
            f"--log-file={m}/munged.log",
            f"--pid-file={m}/munged.pid",
            f"--seed-file={m}/munged.seed",
        ],
        [program("slurmctld")],
        [program("slurmd")],
    ):
        started = run(cmd, timeout=60)  # each daemonises and returns
        assert started.returncode == 0, f"{cmd[0]} failed: {started.stderr}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "idle" in run([program("sinfo"), "-h", "-o", "%t"], timeout=30).stdout:
            return
        time.sleep(0.2)
    logs = "\n".join(
        f"--- {f.name}\n{f.read_text()[-2000:]}" for f in sorted((state / "log").glob("*.log"))
    )
    raise AssertionError(f"the SLURM node did not become idle within 60 s\n{logs}")


# --- the pipeline through sbatch ------------------------------------------------------


def shrunk_profile(profile_dir: Path, cpus: int = 1, mem_mb: int = 800, retries: int = 0) -> Path:
    """The shipped profile, shrunk to fit a 2-core node and polling fast; the same keys."""
    profile = yaml.safe_load(PROFILE.read_text())
    profile["default-resources"].update(cpus_per_gpu=cpus, mem_mb=mem_mb, runtime=10)
    for resources in profile["set-resources"].values():
        resources.update(runtime=10, mem_mb=mem_mb)
        resources.update({k: cpus for k in ("cpus_per_task", "cpus_per_gpu") if k in resources})
    profile.update(
        {
            "jobs": 2,
            "latency-wait": 5,
            "retries": retries,
            "keep-going": False,
            # no accounting database here: ask squeue (MinJobAge=300 keeps finished jobs)
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "seconds-between-status-checks": 2,
            "slurm-keep-successful-logs": True,
        }
    )
    profile_dir.mkdir(parents=True)
    (profile_dir / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return profile_dir


def smallest_analysis(cfg: dict) -> tuple[str, list[tuple[str, int, str, int]]]:
    """The similarity analysis with the fewest pairs, and its pairs: training, activation
    dumps and per-pair SVCCA run as cluster jobs, its table as a localrule."""
    valid = config.validate(copy.deepcopy(cfg))
    sizes = {name: plan.analysis_pairs(valid, name) for name in valid["similarity"]["analyses"]}
    name = min(sizes, key=lambda n: len(sizes[n]))
    return name, sizes[name]


def finish(proc: subprocess.Popen, log: Path, timeout: float) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: snakemake and its children
        proc.wait()
        raise AssertionError(
            f"snakemake ran over {timeout} s:\n{log.read_text()[-6000:]}"
        ) from None
    text = log.read_text()
    assert proc.returncode == 0, f"snakemake exited {proc.returncode}:\n{text[-6000:]}"
    return text


def sbatch_jobs() -> dict[str, str]:
    """SLURM job id -> the rule recorded in the job's comment (rule_<name>[_wildcards_...])."""
    out = run([program("squeue"), "-h", "-t", "all", "-o", "%i|%k"], timeout=30).stdout
    jobs = {}
    for line in out.splitlines():
        job_id, _, comment = line.partition("|")
        match = re.match(r"rule_(.+?)(_wildcards_.*)?$", comment.strip())
        if match:
            jobs[job_id.strip()] = match.group(1)
    return jobs


def job_environment(state: Path, job_id: str) -> dict[str, str]:
    """The environment slurmctld stored for a batch job (kept until the job is purged)."""
    raw = (state / f"state/hash.{int(job_id) % 10}/job.{job_id}/environment").read_bytes()
    return dict(v.split("=", 1) for v in raw.decode().split("\0") if "=" in v)


def read_metrics(path: Path) -> list[dict]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.pop("seconds", None)  # wall time differs; every other column is deterministic
    return rows


# --- the paper preset's requests, resolved without a cluster ----------------------------


def paper_config(embedded: dict) -> dict:
    """workflow/configs/paper.yaml; where it is absent, the embedded preset on CIFAR-10 at
    the paper's scale (200 epochs, SGDR T0 = 10, step decay at 60/120/150, 10,000 probes)."""
    if PAPER.exists():
        return yaml.safe_load(PAPER.read_text())
    cfg = reduced_config(embedded)
    cfg.update(preset="paper", data={"dataset": "cifar10"})
    cfg["training"].update(epochs=200, batch_size=100)
    cfg["runs"]["sgdr"]["schedule"].update(T0=10, T_mult=2)
    cfg["runs"]["step"]["schedule"]["milestones"] = [60, 120, 150]
    cfg["runs"]["step"]["save_epochs"] = [60, 120, 150]
    cfg["probe"]["size"] = 10000
    return cfg


def dry_run_jobs(text: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resolved resources) of every job that a `snakemake -n` output lists."""
    jobs = []
    for block in re.split(r"\n(?=\[[A-Z][a-z]{2} )", text):
        head = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        found = re.search(r"^\s+resources: (.*)$", block, re.M)
        if head:
            pairs = (item.split("=", 1) for item in found.group(1).split(", ")) if found else []
            jobs.append((head.group(1), dict(pairs)))
    return jobs


LOCAL_RULES = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
snakefile, configfile, workdir = map(Path, sys.argv[1:])
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(ResourceSettings(), ConfigSettings(configfiles=[configfile]),
                      snakefile=snakefile, workdir=workdir)._workflow
    print(json.dumps([r.name for r in wf.rules if r.name in wf._localrules or r.norun]))
"""


def local_rules(configfile: Path, workdir: Path, env: dict) -> set[str]:
    """Rules that run in the Snakemake process itself (`localrule: True`, target rules)."""
    cmd = [
        sys.executable,
        "-c",
        LOCAL_RULES,
        str(REPO / "Snakefile"),
        str(configfile),
        str(workdir),
    ]
    done = run(cmd, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


class Resources(dict):
    """Resolved resources as the SLURM plugin reads them (`.get` and attributes)."""

    def __getattr__(self, name):
        return self[name]


def sbatch_flags(resources: dict[str, str]) -> str:
    """The sbatch options the SLURM plugin builds for a job with these resources."""
    values = {k: int(v) if v.isdigit() else v for k, v in resources.items()}
    job = type("Job", (), {"resources": Resources(values), "threads": 1})()
    params = {
        "run_uuid": "x",
        "slurm_logfile": "x.log",
        "comment_str": "x",
        "account": f" -A {values['slurm_account']}",
        "partition": f" -p {values['slurm_partition']}",
        "workdir": "",
    }
    return get_submit_command(job, params) + set_gres_string(job)
