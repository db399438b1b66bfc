"""Activation storage: does float16 change any similarity value by more than 1e-3?

Activation files may store float16 (`probe.dtype`) at half the bytes of float32. This
script checks, on real activations, whether the similarity values notice. Two setups:

* embedded: the embedded preset's default model (config.yaml `training.model`, on the
  digits data of its `data` section), trained as its SGDR run for a few epochs (2 with
  --quick, else 6) in two replicates (seeds 0 and 1) by train_run. Pairs, as the pipeline
  forms them: seed 0 against seed 1 at the last epoch (across seeds) and, without --quick,
  seed 0 at the cycle end 2 against seed 0 at the last epoch (sgdr_restarts). Dumped by
  activations.dump_checkpoint on the config's probe set (500 training images).
* vgg16: the paper preset's VGG-16 (workflow/configs/paper.yaml `models.vgg16`) on random
  CIFAR-shaped images (3x32x32) with class structure (a smooth prototype per class plus
  noise); two networks (seeds 0 and 1) after 10 SGD steps (random weights with --quick),
  their BatchNorm statistics then recomputed on 512 such images (recompute_batchnorm of
  closerlook.curve_eval) as a trained network holds them: with the initial ones (mean 0,
  variance 1) the maps shrink layer by layer until the classifier barely varies across
  images, which float16 cannot resolve, and no trained network looks like that
  (--initial-bn shows it). One pair, network 0 against network 1, on 500 probe images
  (--images), every layer; --quick: 150 images and the layers QUICK_LAYERS. Dumped by
  activations.dump.

Every network is dumped twice, with activations.Storage(dtype="float32") and "float16",
read back with activation_file.open_activations, and each pair compared with the
pipeline's compare.shared_layers and compare.compare_layers (the core of compare_pair),
keep, epsilon, precision and seed from the preset's `similarity` section, once from the
float32 files and once from the float16 files. Measures: every one either preset computes
(svcca, pwcca, cka, dft_svcca, dft_cca); with --baseline also their shuffled baselines
"<measure>_shuffled" (the pipeline's chance levels; it doubles the comparison time).

The last line on stdout is one JSON object (progress goes to stderr):

    benchmark, target       "storage", 1e-3 (TARGET)
    ratio                   the largest |float16 - float32| of any value / target
    ok, float16_holds       every value's |float16 - float32| <= target, in both setups
    max_difference          the largest |float16 - float32| of any value in either setup
    worst                   where it is: setup, pair, layer, measure
    size_ratio              float16 bytes / float32 bytes of all activation files on disk
    embedded, vgg16         per setup: model, epochs or sgd_steps and batchnorm,
                            probe_size, layers, pairs, float32_bytes, float16_bytes,
                            size_ratio, max_difference, float16_holds, dims_changed
                            (values whose dimensions used, dim_a or dim_b, differ between
                            the dtypes), compare_seconds, seconds, and `measures`:
                            measure -> {max_difference, layer, pair, float32, float16,
                            dims_changed} (its largest difference over all layers and
                            pairs, where it is, the two values there and whether their
                            dimensions differ)
    methods, baseline, device, threads, quick, seconds, cpu_seconds

    python benchmarks/storage.py [--quick] [--images 500] [--baseline] [--initial-bn]
                                 [--device cpu] [--dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from closerlook import activations, compare, config, data, models, plan  # noqa: E402
from closerlook import train as training  # noqa: E402
from closerlook.activation_file import open_activations  # noqa: E402
from closerlook.curve_eval import recompute_batchnorm  # noqa: E402
from closerlook.device import resolve  # noqa: E402
from closerlook.dimensions import DimensionWarning  # noqa: E402
from closerlook.similarity import METHODS  # noqa: E402

TARGET = 1e-3
DTYPES = ("float32", "float16")
EMBEDDED_RUN = "sgdr"  # the embedded preset's main run (RQ1; seed_to_seed pairs its seeds)
QUICK_LAYERS = ["conv5", "conv11", "fc2", "logits"]  # VGG-16 with --quick


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ embedded
def train_embedded(cfg: dict, folder: Path, epochs: int, early, device: str) -> dict:
    """(seed, epoch) -> checkpoint of the embedded run, trained for `epochs` in seeds 0, 1."""
    dataset = data.load(cfg["data"])
    spec = cfg["models"][cfg["runs"][EMBEDDED_RUN].get("model", cfg["training"]["model"])]
    ckpts = {}
    for seed in (0, 1):
        run = plan.run_settings(cfg, EMBEDDED_RUN, replicate=seed)
        run = dataclasses.replace(run, epochs=epochs, save_epochs=[])
        where = folder / f"seed{seed}"
        wanted = {epochs} if early is None else {early, epochs}
        saved = {e: where / f"epoch{e:03d}.pt" for e in sorted(wanted)}
        start = time.perf_counter()
        state = training.train_run(
            run, spec, dataset, saved, where / "metrics.csv", where / "resume", device, "bench"
        )
        acc = state.metrics[-1].get("val_acc", math.nan) if state.metrics else math.nan
        log(f"embedded: seed {seed} trained {epochs} epochs in "
            f"{time.perf_counter() - start:.1f} s, val_acc {acc:.3f}")  # fmt: skip
        ckpts.update({(seed, e): p for e, p in saved.items()})
    return ckpts


def embedded_setup(cfg: dict, folder: Path, args: argparse.Namespace) -> dict:
    """Train, dump (both dtypes) and describe the embedded setup's pairs."""
    epochs, early = (2, None) if args.quick else (6, 2)
    device = args.device
    ckpts = train_embedded(cfg, folder, epochs, early, device)
    files = {}
    for (seed, epoch), ckpt in ckpts.items():
        for dtype in DTYPES:
            out = folder / f"seed{seed}_epoch{epoch}_{dtype}.h5"
            probe = {**cfg["probe"], "dtype": dtype}
            activations.dump_checkpoint(ckpt, out, cfg["data"], probe, epoch, device)
            files[(seed, epoch, dtype)] = out
    pairs = {f"seed0 vs seed1 epoch{epochs}": ((0, epochs), (1, epochs))}
    if early is not None:
        pairs[f"seed0 epoch{early} vs seed0 epoch{epochs}"] = ((0, early), (0, epochs))
    return {
        "info": {
            "model": cfg["runs"][EMBEDDED_RUN].get("model", cfg["training"]["model"]),
            "run": EMBEDDED_RUN,
            "epochs": epochs,
            "probe_size": cfg["probe"]["size"],
        },
        "pairs": {
            name: {d: (files[(*a, d)], files[(*b, d)]) for d in DTYPES}
            for name, (a, b) in pairs.items()
        },
        "layers": None,
    }


# --------------------------------------------------------------------------- vgg16
class ClassImages:
    """CIFAR-shaped images with class structure: a smooth random prototype per class
    (4x4 noise upsampled to 32x32), plus per-image noise, standardised."""

    def __init__(self, classes: int = 10, seed: int = 1234):
        g = torch.Generator().manual_seed(seed)
        coarse = torch.randn(classes, 3, 4, 4, generator=g)
        self.prototypes = torch.nn.functional.interpolate(
            coarse, size=(32, 32), mode="bilinear", align_corners=False
        )
        self.classes = classes

    def draw(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, self.classes, (n,), generator=g)
        images = self.prototypes[labels] + 0.7 * torch.randn(n, 3, 32, 32, generator=g)
        return (images - images.mean()) / images.std(), labels


def sgd_steps(model: torch.nn.Module, source: ClassImages, steps: int, seed: int) -> float:
    """A few SGD steps (train mode, batch 64, lr 0.02, momentum 0.9); the last loss."""
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    model.train()
    loss = torch.tensor(math.nan)
    device = next(model.parameters()).device
    for step in range(steps):
        x, y = source.draw(64, seed=10_000 * (seed + 1) + step)
        loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def vgg16_setup(paper: dict, folder: Path, args: argparse.Namespace) -> dict:
    """Build, train a little, dump (both dtypes) and describe the VGG-16 pair."""
    spec, device = paper["models"]["vgg16"], args.device
    n, steps = (args.images or 150, 0) if args.quick else (args.images or 500, 10)
    source = ClassImages()
    images, labels = source.draw(n, seed=0)
    files = {}
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = models.build(spec, (3, 32, 32), 10).to(resolve(device))
        start = time.perf_counter()
        loss = sgd_steps(model, source, steps, seed)
        if not args.initial_bn:  # the data's running statistics, as after training
            recompute_batchnorm(model, source.draw(512, seed=99 + seed)[0].to(resolve(device)))
        trained = f"{steps} SGD steps, loss {loss:.3f}" if steps else "random weights"
        log(f"vgg16: network {seed} ({trained}) in {time.perf_counter() - start:.1f} s")
        for dtype in DTYPES:
            out = folder / f"net{seed}_{dtype}.h5"
            provenance = {"run": f"vgg16_net{seed}", "epoch": 0, "replicate": seed}
            storage = activations.Storage(dtype=dtype)
            activations.dump(
                model, images, labels.numpy(), np.arange(n), out, provenance, 100, storage
            )
            files[(seed, dtype)] = out
        del model
    return {
        "info": {"model": "vgg16", "spec": spec, "sgd_steps": steps, "probe_size": n}
        | {"batchnorm": "initial" if args.initial_bn else "recomputed"},
        "pairs": {"net0 vs net1": {d: (files[(0, d)], files[(1, d)]) for d in DTYPES}},
        "layers": QUICK_LAYERS if args.quick else None,
    }


# ---------------------------------------------------------------------- comparison
def similarities(paths: tuple, dtype: str, labels: list, sim: dict, layers, device: str) -> dict:
    """(layer, label) -> Similarity of two activation files stored as `dtype`, by the
    pipeline's own compare.shared_layers and compare.compare_layers (what compare_pair
    computes), on `layers` of the shared ones (None: all of them)."""
    options = {k: sim[k] for k in ("keep", "epsilon", "precision")}
    with open_activations(paths[0]) as fa, open_activations(paths[1]) as fb:
        stored = {info.dtype for f in (fa, fb) for info in f.layers()}
        if stored != {dtype}:
            raise RuntimeError(f"{paths} hold {stored}, not {dtype}")
        shared = compare.shared_layers(fa, fb)
        shared = [name for name in shared if layers is None or name in layers]
        perm = compare.shuffled_rows(len(fa.probe_indices), sim["seed"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DimensionWarning)  # dims are compared below
            found = compare.compare_layers(
                fa, fb, shared, labels, perm, options | {"device": device}
            )
    return found


def compare_dtypes(paths: dict, labels: list[str], sim: dict, layers, device: str):
    """One row per (layer, measure) of a pair: its value from the float32 files and from
    the float16 files, their absolute difference, and whether the dimensions used differ."""
    got = {d: similarities(paths[d], d, labels, sim, layers, device) for d in DTYPES}
    rows = []
    for (layer, label), r32 in got["float32"].items():
        r16 = got["float16"][(layer, label)]
        diff = abs(r16.value - r32.value)
        if math.isnan(diff):  # NaN on one side only is a difference; on both, none
            diff = 0.0 if math.isnan(r32.value) and math.isnan(r16.value) else math.inf
        dims_changed = (r32.dim_x, r32.dim_y) != (r16.dim_x, r16.dim_y)
        rows.append(
            {"layer": layer, "method": label, "float32": r32.value, "float16": r16.value}
            | {"difference": diff, "dims_changed": dims_changed}
        )
    return pd.DataFrame(rows)


def file_bytes(pairs: dict) -> dict[str, int]:
    """Bytes on disk of every distinct activation file of a setup, per dtype."""
    distinct = {d: {p for pair in pairs.values() for p in pair[d]} for d in DTYPES}
    return {d: sum(os.path.getsize(p) for p in paths) for d, paths in distinct.items()}


def worst_rows(merged: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """measure -> the row with its largest difference over all pairs and layers."""
    out: dict[str, dict] = {}
    for pair, table in merged.items():
        for method, rows in table.groupby("method", sort=False):
            row = rows.loc[rows["difference"].idxmax()]
            if method not in out or row["difference"] > out[method]["max_difference"]:
                out[method] = {
                    "max_difference": float(row["difference"]),
                    "layer": row["layer"],
                    "pair": pair,
                    "float32": float(row["float32"]),
                    "float16": float(row["float16"]),
                    "dims_changed": bool(row["dims_changed"]),
                }
    return out


def measure_setup(setup: dict, labels: list[str], sim: dict, device: str) -> dict:
    """The report of one setup: per measure its largest float16 difference, sizes, verdict."""
    start = time.perf_counter()
    merged = {}
    for name, paths in setup["pairs"].items():
        table = compare_dtypes(paths, labels, sim, setup["layers"], device)
        worst = table.loc[table["difference"].idxmax()]
        where = f"{worst['method']}, {worst['layer']}"
        seconds = time.perf_counter() - start
        log(f"  {name}: {len(table)} values ({seconds:.0f} s), largest difference "
            f"{worst['difference']:.2e} ({where})")  # fmt: skip
        merged[name] = table
    measures = worst_rows(merged)
    sizes = file_bytes(setup["pairs"])
    largest = max(m["max_difference"] for m in measures.values())
    return {
        **setup["info"],
        "layers": list(dict.fromkeys(next(iter(merged.values()))["layer"])),
        "pairs": list(merged),
        "float32_bytes": sizes["float32"],
        "float16_bytes": sizes["float16"],
        "size_ratio": round(sizes["float16"] / sizes["float32"], 4),
        "max_difference": largest,
        "float16_holds": bool(largest <= TARGET),
        "dims_changed": int(sum(t["dims_changed"].sum() for t in merged.values())),
        "compare_seconds": round(time.perf_counter() - start, 1),
        "measures": measures,
    }


def print_table(name: str, report: dict) -> None:
    log(f"{name}: float16/float32 bytes {report['size_ratio']:.3f}; "
        f"{report['dims_changed']} values with other dimensions; largest difference:")  # fmt: skip
    for method, m in report["measures"].items():
        flag = "" if m["max_difference"] <= TARGET else "  > target"
        log(f"  {method:<18} {m['max_difference']:.2e}  {m['layer']:<7} {m['pair']:<28} "
            f"float32 {m['float32']:.5f} float16 {m['float16']:.5f}{flag}")  # fmt: skip


def run_setups(args: argparse.Namespace, folder: Path) -> tuple[list[str], dict[str, dict]]:
    """Every measure of either preset, and the report of each setup."""
    embedded = config.load(REPO / "config.yaml")
    paper = config.load(REPO / "workflow/configs/paper.yaml")
    wanted = {*embedded["similarity"]["methods"], *paper["similarity"]["methods"]}
    methods = [m for m in METHODS if m in wanted]
    labels = [*methods, *(m + compare.SHUFFLED for m in methods if args.baseline)]
    reports = {}
    for name, cfg, build in (("embedded", embedded, embedded_setup), ("vgg16", paper, vgg16_setup)):
        start = time.perf_counter()
        where = folder / name
        where.mkdir()
        setup = build(cfg, where, args)
        log(f"{name}: trained and dumped in {time.perf_counter() - start:.1f} s; comparing")
        report = measure_setup(setup, labels, cfg["similarity"], args.device)
        report["seconds"] = round(time.perf_counter() - start, 1)
        print_table(name, report)
        reports[name] = report
        shutil.rmtree(where)  # the VGG-16 files take a few GB
    return methods, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, images, layers")
    parser.add_argument("--images", type=int, help="VGG-16 probe size (500; 150 with --quick)")
    parser.add_argument("--baseline", action="store_true", help="also the shuffled baselines")
    parser.add_argument(
        "--initial-bn", action="store_true", help="VGG-16: keep BatchNorm's initial statistics"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--dir", help="folder for the temporary files (default: system temp)")
    args = parser.parse_args()
    start, cpu_start = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="closerlook-storage-") as tmp:
        methods, reports = run_setups(args, Path(tmp))
    setup, measure = max(
        ((s, m) for s in reports for m in reports[s]["measures"]),
        key=lambda sm: reports[sm[0]]["measures"][sm[1]]["max_difference"],
    )
    w = reports[setup]["measures"][measure]
    f32 = sum(r["float32_bytes"] for r in reports.values())
    f16 = sum(r["float16_bytes"] for r in reports.values())
    result = {
        "benchmark": "storage",
        # like every benchmark: ratio against its target, ok when within it
        "ratio": round(w["max_difference"] / TARGET, 4),
        "target": TARGET,
        "ok": all(r["float16_holds"] for r in reports.values()),
        "float16_holds": all(r["float16_holds"] for r in reports.values()),
        "max_difference": w["max_difference"],
        "worst": {"setup": setup, "pair": w["pair"], "layer": w["layer"], "measure": measure},
        "size_ratio": round(f16 / f32, 4),
        **reports,
        "methods": methods,
        "baseline": args.baseline,
        "device": str(resolve(args.device)),
        "threads": torch.get_num_threads(),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu_start, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
