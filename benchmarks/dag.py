"""DAG build time: a dry run of the paper preset against one of the embedded preset.

The speed targets (docs/architecture.md, speed) ask that the paper preset's DAG builds in
seconds. Both dry runs start from an empty results folder (every job planned), in fresh
temporary working directories; the ratio is paper / embedded, and `ok` also requires the
paper DAG within `--target-seconds`.

    python benchmarks/dag.py [--quick]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def dry_run_seconds(configfile: Path) -> tuple[float, int]:
    """Wall seconds of `snakemake -n figures` and the number of jobs it planned."""
    snakemake = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        result = subprocess.run(
            [snakemake, "figures", "-n", "--snakefile", str(REPO / "Snakefile"),
             "--directory", work, "--configfile", str(configfile)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
    jobs = 0
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total" and parts[1].isdigit():
            jobs = int(parts[1])
    return seconds, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat (about 20 s)")
    parser.add_argument("--target-seconds", type=float, default=10.0)
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    paper = [dry_run_seconds(REPO / "workflow/configs/paper.yaml") for _ in range(repeats)]
    embedded = [dry_run_seconds(REPO / "config.yaml") for _ in range(repeats)]
    t_paper, t_embedded = min(p[0] for p in paper), min(e[0] for e in embedded)
    print(json.dumps({
        "benchmark": "dag", "ratio": round(t_paper / t_embedded, 2),
        "paper_seconds": round(t_paper, 2), "embedded_seconds": round(t_embedded, 2),
        "paper_jobs": paper[0][1], "embedded_jobs": embedded[0][1],
        "target_seconds": args.target_seconds, "ok": t_paper <= args.target_seconds,
        "device": "cpu",
    }))  # fmt: skip


if __name__ == "__main__":
    main()
