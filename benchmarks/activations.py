"""Activation dumps: peak memory stays flat as the probe set grows; write throughput.

A VGG-16 (BatchNorm, CIFAR-10 variant, random weights) is dumped on random CIFAR-shaped
images (3x32x32) for a small and a large probe set, each in a fresh process. Each process
reports its peak resident memory (VmHWM), the size of the file it wrote and the time taken.
The images are generated batch by batch, so nothing in the process grows with the probe
set unless the dump itself does.

`ratio` is peak memory (large probe set) / peak memory (small probe set); target <= 1.10,
while the activations themselves grow by the ratio of the probe-set sizes. Also reported:
the peak memory against the file size, write throughput in MB/s and images/s, and the
share of the time spent storing (cast, copy, compression, disk) rather than computing,
and the storing throughput on its own (file MB per second spent storing).

    python benchmarks/activations.py [--quick] [--sizes 1000 5000] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
TARGET = 1.10


class RandomImages:
    """N random CIFAR-shaped images, made on demand one slice at a time (seeded per slice)."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed = n, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows: slice):
        import torch

        start, stop, _ = rows.indices(self.n)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + start)
        return torch.randn(stop - start, 3, 32, 32, generator=g)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(n: int, batch_size: int, dtype: str, compression: str, out: str) -> dict:
    """One dump in this process; returns its measurements."""
    import numpy as np
    import torch

    from closerlook import activation_file, activations, models
    from closerlook.device import resolve

    torch.manual_seed(0)
    device = resolve("auto")
    model = models.vgg(VGG16, [512, 512], (3, 32, 32), 10).to(device)
    storage = activations.Storage(dtype, compression, 1)
    store_seconds = 0.0
    original = activations.capture

    def timed_capture(model, images, batch_size, sink):  # time spent inside the sink
        def timed(name, row, output):
            nonlocal store_seconds
            if output.is_cuda:
                torch.cuda.synchronize()
            t = time.perf_counter()
            sink(name, row, output)
            store_seconds += time.perf_counter() - t

        original(model, images, batch_size, timed)

    activations.capture = timed_capture
    rss_before = peak_rss_bytes()
    t0 = time.perf_counter()
    activations.dump(
        model,
        RandomImages(n),
        np.zeros(n, dtype=np.int64),
        np.arange(n),
        out,
        {"run": "benchmark", "epoch": 0},
        batch_size,
        storage,
    )
    seconds = time.perf_counter() - t0
    with activation_file.ActivationFile(out) as f:
        raw = sum(int(np.prod(info.shape)) * np.dtype(dtype).itemsize for info in f.layers())
    size = os.path.getsize(out)
    return {
        "n": n,
        "peak_rss_mb": peak_rss_bytes() / 1e6,
        "rss_before_dump_mb": rss_before / 1e6,
        "file_mb": size / 1e6,
        "uncompressed_mb": raw / 1e6,
        "seconds": seconds,
        "store_seconds": store_seconds,
        "write_mb_per_s": size / 1e6 / seconds,
        "images_per_s": n / seconds,
        "device": str(device),
    }


def run_child(n: int, args: argparse.Namespace, folder: Path) -> dict:
    out = folder / f"probe{n}.h5"
    cmd = [sys.executable, __file__, "--child", str(n), "--out", str(out)]
    cmd += ["--batch-size", str(args.batch_size), "--dtype", args.dtype]
    cmd += ["--compression", args.compression]
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"child for n={n} failed:\n{done.stderr}")
    out.unlink(missing_ok=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small probe sets (< 1 min)")
    parser.add_argument("--sizes", type=int, nargs=2, metavar=("SMALL", "LARGE"))
    parser.add_argument("--batch-size", type=int, help="default: 128 (32 with --quick)")
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--compression", choices=["none", "gzip", "lzf"], default="none")
    parser.add_argument("--dir", help="folder for the temporary files (default: system temp)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(
            json.dumps(child(args.child, args.batch_size, args.dtype, args.compression, args.out))
        )
        return
    small, large = args.sizes or ((96, 384) if args.quick else (1000, 5000))
    # several batches even in the small run, so both measure the steady state
    args.batch_size = args.batch_size or (32 if args.quick else 128)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="closerlook-bench-") as tmp:
        runs = [run_child(n, args, Path(tmp)) for n in (small, large)]
    for r in runs:
        print(
            f"n={r['n']:>6}  peak RSS {r['peak_rss_mb']:8.1f} MB  file {r['file_mb']:9.1f} MB "
            f"({r['uncompressed_mb']:.0f} MB raw)  {r['seconds']:6.1f} s  "
            f"{r['write_mb_per_s']:6.1f} MB/s  {r['images_per_s']:6.1f} img/s  "
            f"storing {100 * r['store_seconds'] / r['seconds']:.0f}% of the time",
            file=sys.stderr,
        )
    a, b = runs
    ratio = b["peak_rss_mb"] / a["peak_rss_mb"]
    result = {
        "benchmark": "activations",
        "ratio": round(ratio, 3),
        "target": TARGET,
        "ok": ratio <= TARGET,
        "device": b["device"],
        "model": "vgg16_bn",
        "dtype": args.dtype,
        "compression": args.compression,
        "batch_size": args.batch_size,
        "probe_sizes": [a["n"], b["n"]],
        "activation_growth": round(b["uncompressed_mb"] / a["uncompressed_mb"], 2),
        "peak_rss_mb": [round(a["peak_rss_mb"], 1), round(b["peak_rss_mb"], 1)],
        "file_mb": [round(a["file_mb"], 1), round(b["file_mb"], 1)],
        "uncompressed_mb": [round(a["uncompressed_mb"], 1), round(b["uncompressed_mb"], 1)],
        "peak_rss_over_file_size": round(b["peak_rss_mb"] / b["file_mb"], 3),
        "write_mb_per_s": round(b["write_mb_per_s"], 1),
        "images_per_s": round(b["images_per_s"], 1),
        "store_fraction": round(b["store_seconds"] / b["seconds"], 3),
        "store_mb_per_s": round(b["file_mb"] / max(b["store_seconds"], 1e-9), 1),
        "seconds": [round(a["seconds"], 1), round(b["seconds"], 1)],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
