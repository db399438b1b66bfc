"""The `closerlook` command line.

    closerlook check [CONFIG]    validate a config and print the plan: models (parameters,
                                 layers), runs, analyses, curves
    closerlook inspect FILE [LAYER] [--json]
                                 show what an HDF5 file of the pipeline holds
    closerlook version

The study itself runs through Snakemake: `snakemake --cores all figures`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from closerlook import __version__
from closerlook import config as cfg
from closerlook.points import step_point

EXIT_BAD_INPUT = 2

# (C, H, W) and classes of each dataset, known without reading its files (data.py: the
# digits are 8x8 grey images, CIFAR-10's python batches 3x32x32).
DATASET_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "digits": ((1, 8, 8), 10),
    "cifar10": ((3, 32, 32), 10),
}


def model_summaries(config: Mapping[str, Any]) -> list[str]:
    """One line per configured model: its parameter count and registered layers, built on
    the dataset's input shape (on the meta device: no weights are allocated or trained)."""
    import torch

    from closerlook import models

    in_shape, num_classes = DATASET_SHAPES[config["data"]["dataset"]]
    lines = []
    for name, spec in config["models"].items():
        try:
            with torch.device("meta"):
                net = models.build(spec, in_shape, num_classes)
        except ValueError as exc:
            raise cfg.ConfigError(f"'models.{name}': {exc}") from exc
        n_params = sum(p.numel() for p in net.parameters())
        layers = ", ".join(net.layer_names())
        lines.append(f"model {name}: {n_params:,} parameters; layers: {layers}")
    return lines


def _saved_steps(config: Mapping[str, Any], run: str) -> str:
    """A run's step checkpoints (save_iterations) as analyses name them, each with the
    epoch it falls in (", step200 (epoch 0.4)"); empty without any."""
    steps = cfg.checkpoint_steps(cfg.run_config(config, run))
    if not steps:
        return ""
    per_epoch = cfg.steps_per_epoch(config, run)
    return "".join(f", {step_point(n)} (epoch {n / per_epoch:.4g})" for n in steps)


def _check(args: argparse.Namespace) -> int:
    try:
        config = cfg.load(args.config)
        summaries = model_summaries(config)
    except FileNotFoundError:
        print(f"closerlook: {args.config}: no such config file", file=sys.stderr)
        return EXIT_BAD_INPUT
    except cfg.ConfigError as exc:
        print(f"closerlook: {args.config}: config error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"{args.config}: valid (preset {config['preset']!r}, config hash {cfg.config_hash(config)})"
    )
    seeds = cfg.replicates(config)
    folders = f"seed{seeds[0]}" + (f" to seed{seeds[-1]}" if len(seeds) > 1 else "")
    print(f"  seeds: {len(seeds)} replicate(s) of every run ({folders})")
    for line in summaries:
        print(f"  {line}")
    for name in config["runs"]:
        run = cfg.run_config(config, name)
        epochs = ", ".join(map(str, cfg.checkpoint_epochs(run)))
        print(
            f"  run {name}: {run['schedule']['kind']}, {run['epochs']} epochs, saves {epochs}"
            f"{_saved_steps(config, name)}; model {run['model']}"
        )
    for name in config["similarity"]["analyses"]:
        pairs = cfg.analysis_pairs(config, name)
        print(f"  analysis {name}: {len(pairs)} pair(s) per seed")
    for name, curve in config["curves"]["connections"].items():
        (run_a, epoch_a), (run_b, epoch_b) = cfg.curve_endpoints(config, name)
        offsets = cfg.curve_seed_offsets(config, name)
        seed_a, seed_b = (f" (seed k+{o})" if o else "" for o in offsets)
        print(
            f"  curve {name}: {curve['kind']}, {curve['n_bends']} bends, "
            f"{run_a} epoch {epoch_a}{seed_a} to {run_b} epoch {epoch_b}{seed_b}"
        )
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from closerlook import inspection

    try:
        if args.layer is None:
            report = inspection.describe(args.file)
            text = inspection.render(report)
        else:
            report = inspection.describe_dataset(args.file, args.layer)
            text = inspection.render_dataset(report)
    except inspection.InspectError as exc:
        print(f"closerlook: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(report, indent=2) if args.json else text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="closerlook",
        description=(
            "A closer look at deep-learning heuristics (Gotmare et al., ICLR 2019): SGDR, "
            "warmup and distillation through mode connectivity and SVCCA. The pipeline runs "
            "with `snakemake --cores all figures`; this command helps around it."
        ),
    )
    parser.add_argument("--version", action="version", version=f"closerlook {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check", help="validate a config and print the plan")
    check.add_argument(
        "config", nargs="?", default="config.yaml", help="YAML config (default: config.yaml)"
    )
    check.set_defaults(func=_check)
    inspect = sub.add_parser(
        "inspect",
        help="show the provenance, probe set and layers (or datasets) of an HDF5 file",
        description=(
            "Show what an HDF5 file of the pipeline holds: its kind (activations, similarity, "
            "curve, ...), provenance, probe set, and a table of layers or datasets with shape, "
            "dtype, size on disk, mean, std and fraction of zeros. Exit status 2 if the file "
            "is missing, unreadable or not written by closerlook."
        ),
    )
    inspect.add_argument("file", help="an .h5 file written by the pipeline")
    inspect.add_argument(
        "layer", nargs="?", help="one layer (or dataset path) to show statistics of"
    )
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(func=_inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
