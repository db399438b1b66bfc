"""Curve training and evaluation speed (docs/architecture.md, speed).

ratio = time of one curve-training epoch (one t ~ U(0, 1) per batch, weights
w(t) = Σ_k c_k(t) θ_k through torch.func.functional_call, weight decay on w(t)) over one
ordinary SGD epoch of the same network, data and batch size, measured in this process.
Also reported: the time to evaluate one t (BatchNorm statistics recomputed from the
training split, then train and validation loss and accuracy).

    python benchmarks/curves.py --quick     # embedded preset: digits, small VGG (CPU, <1 min)
    python benchmarks/curves.py             # CIFAR-shaped synthetic data, a wider VGG (GPU)
    --threads N pins torch CPU threads (steadier numbers on a shared machine)
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time

import torch
import torch.nn.functional as F

from closerlook import curve_eval, curve_fit, curves, data, models, plan
from closerlook import device as devices
from closerlook.data import Dataset, Split
from closerlook.sgd import Precision

TARGET = 1.5


def ordinary_epoch(net: torch.nn.Module, split: Split, batch_size: int, seed: int) -> float:
    """Seconds for one epoch of plain SGD (momentum, weight decay) over `split`."""
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    g = torch.Generator().manual_seed(seed)
    net.train()
    _sync(split.images.device)
    t0 = time.perf_counter()
    perm = torch.randperm(len(split), generator=g).to(split.images.device)
    loss_sum = torch.zeros((), device=split.images.device)
    for i in range(0, len(split), batch_size):
        idx = perm[i : i + batch_size]
        x, y = split.images[idx], split.labels[idx]
        with Precision(autocast=x.is_cuda).context():  # as curve training: bf16 on CUDA
            out = net(x)
        loss = F.cross_entropy(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach()
    loss_sum.item()
    _sync(split.images.device)
    return time.perf_counter() - t0


def curve_epoch(curve: curves.Curve, split: Split, batch_size: int, seed: int) -> float:
    fit = plan.CurveFit(epochs=1, lr=0.01, batch_size=batch_size, seed=seed)
    _sync(split.images.device)
    t0 = time.perf_counter()
    curve_fit.fit_curve(curve, split, fit, split.images.shape[-1])
    _sync(split.images.device)
    return time.perf_counter() - t0


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def synthetic_cifar(n_train: int, n_val: int) -> Dataset:
    g = torch.Generator().manual_seed(0)
    return Dataset(
        "synthetic-cifar",
        Split(torch.randn(n_train, 3, 32, 32, generator=g), torch.randint(0, 10, (n_train,))),
        Split(torch.randn(n_val, 3, 32, 32, generator=g), torch.randint(0, 10, (n_val,))),
        10,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="embedded preset, under a minute")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--n-train", type=int, default=10_000, help="full mode: training images")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    dev = devices.resolve(args.device)

    if args.quick:
        dataset = data.load_digits()
        spec = {"arch": "vgg", "conv": [16, 16, "M", 32, 32, "M"], "fc": [64]}
        batch_size, repeats = 64, args.repeats or 5
    else:
        dataset = synthetic_cifar(args.n_train, args.n_train // 5)
        spec = {"arch": "vgg", "conv": [64, 64, "M", 128, 128, "M", 256, 256, "M"], "fc": [256]}
        batch_size, repeats = 100, args.repeats or 3
    train, val = dataset.train.to(dev), dataset.val.to(dev)

    def build(seed: int) -> models.LayeredNet:
        torch.manual_seed(seed)
        net = models.build(spec, dataset.image_shape, dataset.num_classes).to(dev)
        return net.to(memory_format=torch.channels_last) if dev.type == "cuda" else net

    net = build(0)
    a, b = build(1), build(2)
    curve = curves.Curve.on_segment(
        a, curves.flat_parameters(a), curves.flat_parameters(b), "polychain", 3
    )

    # warm-up (lazy imports, allocator, cuDNN autotuning), then alternate the two
    ordinary_epoch(net, train, batch_size, 0)
    curve_epoch(curve, train, batch_size, 0)
    plain, curved = [], []
    for r in range(repeats):
        plain.append(ordinary_epoch(net, train, batch_size, r))
        curved.append(curve_epoch(curve, train, batch_size, r))
    t_plain, t_curve = statistics.median(plain), statistics.median(curved)

    w = curve.flat_weights(0.5).detach()
    curve_eval.evaluate_weights(curve.net, w, train, val, train.images)
    evals = []
    for _ in range(repeats):
        _sync(dev)
        t0 = time.perf_counter()
        curve_eval.evaluate_weights(curve.net, w, train, val, train.images)
        _sync(dev)
        evals.append(time.perf_counter() - t0)

    ratio = t_curve / t_plain
    print(
        json.dumps(
            {
                "benchmark": "curves",
                "ratio": round(ratio, 3),
                "target": TARGET,
                "ok": ratio <= TARGET,
                "device": str(dev),
                "threads": torch.get_num_threads(),
                "data": dataset.name,
                "n_train": len(train),
                "batch_size": batch_size,
                "parameters": int(w.numel()),
                "ordinary_epoch_s": round(t_plain, 4),
                "curve_epoch_s": round(t_curve, 4),
                "eval_one_t_s": round(statistics.median(evals), 4),
                "eval_one_t_note": "BN recomputed on the whole training split + train and val",
                "repeats": repeats,
            }
        )
    )


if __name__ == "__main__":
    main()
