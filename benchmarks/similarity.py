"""DFT-CCA speed: batched over all frequencies vs a straightforward per-frequency loop.

The baseline is what one writes first: a full complex 2-D FFT in float64 (NumPy), then
for every one of the H·W frequencies a CCA from covariances, inverse square roots (eigh)
and an SVD. The contender is `closerlook.dft_cca.dft_cca_result`: the real-input
half-spectrum, one batched product for all covariances (float32 on the device), Cholesky
whitening and batched singular values in float64.

    python benchmarks/similarity.py            # N=2048, C=128, 16x16 (docs/architecture.md, speed)
    python benchmarks/similarity.py --quick    # N=512, C=64, 8x8
    python benchmarks/similarity.py --device cuda
    python benchmarks/similarity.py --threads 1   # both sides single-threaded

`--threads` sets the BLAS/OpenMP threads of NumPy and torch alike (default 2, the target
machine's cores). On a machine shared with other work, multi-threaded BLAS stalls on
busy cores and the float64 loop suffers most; `--threads 1` gives a ratio that contention
distorts less. The load average before and after is part of the report.

The last line printed is one JSON object with the ratio, the largest difference between
the two results and the time per stage of the batched path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _threads_from_argv(default: int = 2) -> int:
    """--threads must reach the BLAS libraries before NumPy and torch load them."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
    return default


THREADS = _threads_from_argv()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from closerlook import dft_cca  # noqa: E402
from closerlook.device import resolve  # noqa: E402


def conv_maps(n: int, c: int, hw: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two related ReLU conv maps with spatial correlation and uneven channel variances,
    like a layer at two checkpoints: y mixes x's channels, adds noise, rectifies."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n, c, hw, hw, generator=g)
    blur = torch.tensor([[0.25, 0.5, 0.25]])
    kernel = (blur.T @ blur).expand(c, 1, 3, 3)
    base = torch.nn.functional.conv2d(base, kernel, padding=1, groups=c)
    scales = torch.linspace(1.0, 0.1, c)
    mix_x = torch.randn(c, c, generator=g) / c**0.5 * scales
    x = torch.relu(torch.einsum("nchw,cd->ndhw", base, mix_x) + 0.1)
    mix_y = torch.eye(c) + 0.5 * torch.randn(c, c, generator=g) / c**0.5
    noise = 0.5 * torch.randn(n, c, hw, hw, generator=g) * x.std()
    y = torch.relu(torch.einsum("nchw,cd->ndhw", x, mix_y) + noise)
    return x.numpy(), y.numpy()


def loop_dft_cca(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The baseline: full complex FFT, then one float64 CCA per frequency in a loop."""
    xf, yf = np.fft.fft2(x.astype(np.float64)), np.fft.fft2(y.astype(np.float64))
    h, w = x.shape[2:]
    per_frequency = np.zeros((h, w))
    total = count = 0.0

    def inverse_sqrt(s: np.ndarray) -> np.ndarray:
        lam, vec = np.linalg.eigh(s)
        return (vec / np.sqrt(lam)) @ vec.conj().T

    for u in range(h):
        for v in range(w):
            a, b = xf[:, :, u, v], yf[:, :, u, v]
            a, b = a - a.mean(axis=0), b - b.mean(axis=0)
            sxx, syy, sxy = a.conj().T @ a, b.conj().T @ b, a.conj().T @ b
            m = inverse_sqrt(sxx) @ sxy @ inverse_sqrt(syy)
            rho = np.clip(np.linalg.svd(m, compute_uv=False), 0.0, 1.0)
            per_frequency[u, v] = rho.mean()
            total, count = total + rho.sum(), count + rho.size
    return total / count, per_frequency


def stage_times(x: np.ndarray, y: np.ndarray, device: torch.device) -> tuple[dict, int]:
    """Seconds of each named step of dft_cca_result (mixed precision, no SV step), run one
    after the other as it does, and how many frequencies were redone in float64."""
    times: dict[str, float] = {}

    def timed(name, step, *args):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = step(*args)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times[name] = time.perf_counter() - start
        return out

    zx, zy, grid = timed("spectra", dft_cca.spectra, x, y, device, "mixed")
    n = zx.shape[2]
    cov = timed("covariances", dft_cca.covariances, zx, zy)
    c = dft_cca.Correlations.empty(cov, zx.shape[3], zy.shape[3])
    eigen = timed("cholesky_correlations", dft_cca.cholesky_correlations, c, cov, zx, zy)
    timed("eigen_correlations", dft_cca.eigen_correlations, c, cov, eigen, None, n)
    timed("pooled", dft_cca.pooled, c, grid, None, n)
    return times, c.redone_in_float64


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=512, C=64, 8x8")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--repeats", type=int, default=3, help="batched runs; the best counts")
    parser.add_argument("--threads", type=int, default=THREADS, help="BLAS/torch threads (2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    n, c, hw = (512, 64, 8) if args.quick else (2048, 128, 16)
    device = resolve(args.device)
    x, y = conv_maps(n, c, hw)
    load_before = os.getloadavg()[0]

    start = time.perf_counter()
    ref_value, ref_freq = loop_dft_cca(x, y)
    baseline_s = time.perf_counter() - start
    print(f"per-frequency NumPy loop (float64, {hw * hw} frequencies): {baseline_s:.2f} s")

    warm = slice(0, 4 * c)  # enough datapoints for every channel
    dft_cca.dft_cca_result(x[warm], y[warm], device=device)  # warm-up (CUDA context, kernels)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = dft_cca.dft_cca_result(x, y, device=device, precision="mixed")
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    batched_s = min(times)
    stages, redone = stage_times(x, y, device)
    runs = ", ".join(f"{t:.3f}" for t in times)
    print(f"batched DFT-CCA on {device}: {batched_s:.3f} s (runs: {runs})")
    print("  stages: " + ", ".join(f"{k} {v:.3f}" for k, v in stages.items()))

    grid = result.grid
    mapped = ref_freq[np.ix_(grid.rows % hw, grid.cols)]
    diff = max(float(np.abs(result.per_frequency - mapped).max()), abs(result.value - ref_value))
    ratio = baseline_s / batched_s
    target = 50.0 if device.type == "cuda" else 5.0
    tolerance = 1e-5
    report = {
        "benchmark": "similarity",
        "what": "DFT-CCA, batched vs per-frequency NumPy loop",
        "shape": [n, c, hw, hw],
        "device": str(device),
        "baseline_s": round(baseline_s, 3),
        "batched_s": round(batched_s, 4),
        "ratio": round(ratio, 2),
        "target": target,
        "max_abs_diff": diff,
        "tolerance": tolerance,
        "ok": bool(ratio >= target and diff <= tolerance),
        "frequencies_redone_in_float64": redone,
        "stages_s": {k: round(v, 4) for k, v in stages.items()},
        "value": result.value,
        "threads": torch.get_num_threads(),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "quick": args.quick,
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
