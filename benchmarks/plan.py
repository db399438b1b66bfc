"""The plan against reality: run a preset and compare each rule's measured wall time and
bytes written with what `closerlook plan` predicted for it on the calibration.

The study runs with `--cores 1` (one job at a time, as the calibration measured a job
alone) in a fresh temporary folder. A job's time is read off Snakemake's log: from the
timestamp before the job's rule line to the one before its "Finished jobid" line (1 s
resolution). Its bytes are the sizes of its outputs, mapped to rules by `snakemake
--summary`. `ratio` is total measured time / total predicted time; `ok` asks it and the
bytes ratio within ±25% (`--tolerance`) on the machine the calibration describes.

    python benchmarks/plan.py [--quick] [--configfile FILE ...] [--calibration FILE]

`--quick` runs only the `train_sgdr` jobs of the embedded preset (every seed, about a
minute).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def snakemake(work: Path, configfiles: list[Path], *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    cmd = [exe, "--snakefile", str(REPO / "Snakefile"), "--directory", str(work), *args]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    return subprocess.run(cmd, capture_output=True, text=True, check=True)


def job_seconds(log: str) -> dict[str, list[float]]:
    """rule -> wall seconds of each of its jobs, from a Snakemake log."""
    stamp, started, seconds = None, {}, defaultdict(list)
    rule = None
    for line in log.splitlines():
        if m := STAMP.match(line):
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := START.match(line):
            rule = m.group(1)
        elif (m := JOBID.match(line)) and rule:
            started[m.group(1)] = stamp
            rule = None
        elif m := FINISHED.match(line):
            begin = started.get(m.group(1))
            if begin is not None:
                seconds[m.group(2)].append((stamp - begin).total_seconds())
    return dict(seconds)


def output_bytes(work: Path, configfiles: list[Path], target: str) -> dict[str, int]:
    """rule -> bytes of the files it wrote, by `snakemake --summary`."""
    summary = snakemake(work, configfiles, "--summary", target).stdout
    written: dict[str, int] = defaultdict(int)
    for line in summary.splitlines()[1:]:
        parts = line.split("\t")
        if len(parts) > 2 and (work / parts[0]).is_file():
            written[parts[2]] += (work / parts[0]).stat().st_size
    return dict(written)


def predicted(configfiles: list[Path], calibration: str | None) -> tuple[dict, str]:
    from closerlook import calibration as calibrations
    from closerlook import config, cost
    from closerlook.resources import calibration_path

    settings = config.load_all([str(p) for p in configfiles] or [str(REPO / "config.yaml")])
    path = calibration_path(calibration or settings["resources"]["calibration"])
    study = cost.study_cost(settings, calibrations.load(path))
    rules = {r: {"seconds": c.seconds, "bytes": c.bytes_written} for r, c in study.rules.items()}
    return rules, study.calibration.machine


def compare(measured_s: dict, measured_b: dict, plan: dict) -> dict[str, dict]:
    rows = {}
    for rule, times in sorted(measured_s.items()):
        p = plan.get(rule, {"seconds": 0.0, "bytes": 0})
        rows[rule] = {
            "jobs": len(times),
            "measured_s": round(sum(times), 1),
            "predicted_s": round(p["seconds"], 1),
            "measured_bytes": measured_b.get(rule, 0),
            "predicted_bytes": p["bytes"],
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="train_sgdr of the embedded preset")
    parser.add_argument("--configfile", nargs="*", type=Path, default=[])
    parser.add_argument("--calibration", help="default: the config's resources.calibration")
    parser.add_argument("--tolerance", type=float, default=0.25)
    args = parser.parse_args()
    plan, machine = predicted(args.configfile, args.calibration)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(REPO / "config.yaml", work / "config.yaml")
        # a rule's jobs have wildcards (the seed): --until runs every job of that rule
        targets = ["figures", "--until", "train_sgdr"] if args.quick else ["figures"]
        t0 = time.perf_counter()
        done = snakemake(work, args.configfile, "--cores", "1", *targets)
        wall = time.perf_counter() - t0
        seconds = job_seconds(done.stderr + done.stdout)
        written = output_bytes(work, args.configfile, "figures")
    rows = compare(seconds, written, plan)
    for rule, r in rows.items():
        print(f"{rule:<28} {r['jobs']:>4} jobs  {r['measured_s']:>8.1f} s measured "
              f"{r['predicted_s']:>8.1f} s predicted  {r['measured_bytes']:>12,} B measured "
              f"{r['predicted_bytes']:>12,} B predicted")  # fmt: skip
    m_s, p_s = (sum(r[k] for r in rows.values()) for k in ("measured_s", "predicted_s"))
    m_b, p_b = (sum(r[k] for r in rows.values()) for k in ("measured_bytes", "predicted_bytes"))
    ratio, bytes_ratio = m_s / max(p_s, 1e-9), m_b / max(p_b, 1)
    print(json.dumps({
        "benchmark": "plan", "ratio": round(ratio, 3), "bytes_ratio": round(bytes_ratio, 3),
        "measured_seconds": round(m_s, 1), "predicted_seconds": round(p_s, 1),
        "measured_bytes": m_b, "predicted_bytes": p_b, "wall_seconds": round(wall, 1),
        "tolerance": args.tolerance, "calibrated_machine": machine,
        "ok": abs(ratio - 1) <= args.tolerance and abs(bytes_ratio - 1) <= args.tolerance,
        "rules": rows,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
