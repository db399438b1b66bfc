"""Minibatch CKA streamed from HDF5 against the same measure on layers loaded whole.

Two activation files hold one paper-sized conv layer each: N = 10,000 probe images of
64 x 32 x 32 = 65,536 features in float32 (2.6 GB per file; the second is the first plus
noise). In a fresh process each:

- streamed: the comparison job's path (closerlook.compare.compare_pair with
  `cka_minibatch`), which reads both layers one minibatch of rows at a time;
- whole: both layers read into memory (ActivationFile.read), then the same minibatch CKA
  on the arrays (closerlook.similarity.layer_similarity).

Each process reports its peak resident memory (VmHWM) and its time; a third process that
only imports the same modules gives the base every process holds. `ratio` is the peak
memory above that base, streamed / whole (target <= 0.25: streaming holds a minibatch, not
the layer), `time_ratio` the streamed time over the whole one (target <= 1.5), and both
values must agree to 1e-9.

    python benchmarks/cka_stream.py             # N=10000, 64x32x32 (2 x 2.6 GB of disk)
    python benchmarks/cka_stream.py --quick     # N=8000, 32x8x8 (2 x 66 MB)
    python benchmarks/cka_stream.py --minibatch 512 --dir /scratch
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MEMORY_TARGET, TIME_TARGET = 0.25, 1.5

CHILD = """
import json, sys, time
sys.path.insert(0, {src!r})
from closerlook import compare, similarity
from closerlook.activation_file import ActivationFile
a, b, mode, size = {a!r}, {b!r}, {mode!r}, {size}
t0 = time.perf_counter()
if mode == "base":  # the imports alone: what every process holds before any layer
    value = float("nan")
elif mode == "streamed":
    table = compare.compare_pair(a, b, "bench", ["cka_minibatch"], baseline=False,
                                 minibatch_size=size).table
    value = float(table["value"].iloc[0])
else:
    with ActivationFile(a) as fa, ActivationFile(b) as fb:
        x, y = fa.read("conv"), fb.read("conv")
    value = similarity.layer_similarity(x, y, "cka_minibatch", minibatch_size=size).value
seconds = time.perf_counter() - t0
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({{"value": value, "seconds": seconds, "peak_bytes": peak}}))
"""


def write_pair(folder: Path, n: int, shape: tuple[int, int, int]) -> tuple[Path, Path]:
    """Two activation files of one layer "conv", written a slice at a time."""
    import numpy as np

    sys.path.insert(0, str(SRC))
    from closerlook import hdf5_format
    from closerlook.activations import write_header

    paths = folder / "a.h5", folder / "b.h5"
    files = [hdf5_format.create(p) for p in paths]
    sets = []
    for f in files:
        write_header(f, {"run": "bench", "epoch": 0}, np.arange(n), np.zeros(n))
        layers = f.create_group("layers")
        layers.attrs["layer_order"] = '["conv"]'
        sets.append(
            layers.create_dataset(
                "conv", (n, *shape), "float32", chunks=(16, *shape), fletcher32=True
            )
        )
    rng = np.random.default_rng(0)
    for start in range(0, n, 500):
        rows = min(500, n - start)
        x = rng.standard_normal((rows, *shape), dtype=np.float32)
        sets[0][start : start + rows] = x
        sets[1][start : start + rows] = x + 2.0 * rng.standard_normal(x.shape, dtype=np.float32)
    for f in files:
        f.close()
    return paths


def measure(a: Path, b: Path, mode: str, size: int) -> dict[str, float]:
    code = CHILD.format(src=str(SRC), a=str(a), b=str(b), mode=mode, size=size)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=8000, 32x8x8")
    parser.add_argument("--n", type=int, help="probe images (default 10000; quick 8000)")
    parser.add_argument("--minibatch", type=int, default=256, help="rows per minibatch")
    parser.add_argument("--dir", help="where to write the two files (default: a temp dir)")
    args = parser.parse_args()
    n = args.n or (8000 if args.quick else 10000)
    shape = (32, 8, 8) if args.quick else (64, 32, 32)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        t0 = time.perf_counter()
        a, b = write_pair(Path(tmp), n, shape)
        written = time.perf_counter() - t0
        file_bytes = a.stat().st_size
        base = measure(a, b, "base", args.minibatch)["peak_bytes"]
        streamed = measure(a, b, "streamed", args.minibatch)
        whole = measure(a, b, "whole", args.minibatch)
    # memory above what the imports alone hold
    ratio = (streamed["peak_bytes"] - base) / (whole["peak_bytes"] - base)
    time_ratio = streamed["seconds"] / whole["seconds"]
    difference = abs(streamed["value"] - whole["value"])
    report = {
        "benchmark": "cka_stream",
        "what": "minibatch CKA streamed from HDF5 vs layers loaded whole (peak memory)",
        "device": "cpu",
        "n": n,
        "features": shape[0] * shape[1] * shape[2],
        "minibatch": args.minibatch,
        "file_bytes": file_bytes,
        "write_seconds": round(written, 1),
        "base_peak_bytes": base,
        "streamed": streamed,
        "whole": whole,
        "ratio": round(ratio, 4),
        "target": MEMORY_TARGET,
        "time_ratio": round(time_ratio, 3),
        "time_target": TIME_TARGET,
        "difference": difference,
        "ok": ratio <= MEMORY_TARGET and time_ratio <= TIME_TARGET and difference < 1e-9,
        "quick": args.quick,
    }
    print(f"streamed: {streamed['seconds']:.1f} s, peak {streamed['peak_bytes'] / 1e9:.2f} GB")
    print(f"whole:    {whole['seconds']:.1f} s, peak {whole['peak_bytes'] / 1e9:.2f} GB")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
