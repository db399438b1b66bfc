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

from closerlook import __version__, config, plan
from closerlook.points import step_point

EXIT_BAD_INPUT = 2

# (C, H, W) and classes of each dataset, known without reading its files (data.py: the
# digits are 8x8 grey images, CIFAR-10's python batches 3x32x32).
DATASET_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "digits": ((1, 8, 8), 10),
    "cifar10": ((3, 32, 32), 10),
}


def model_summaries(settings: Mapping[str, Any]) -> list[str]:
    """One line per configured model: its parameter count and registered layers, built on
    the dataset's input shape (on the meta device: no weights are allocated or trained)."""
    import torch

    from closerlook import models

    in_shape, num_classes = DATASET_SHAPES[settings["data"]["dataset"]]
    lines = []
    for name, spec in settings["models"].items():
        try:
            with torch.device("meta"):
                net = models.build(spec, in_shape, num_classes)
        except ValueError as exc:
            raise config.ConfigError(f"'models.{name}': {exc}") from exc
        n_params = sum(p.numel() for p in net.parameters())
        layers = ", ".join(net.layer_names())
        lines.append(f"model {name}: {n_params:,} parameters; layers: {layers}")
    return lines


def _saved_steps(settings: Mapping[str, Any], run: str) -> str:
    """A run's step checkpoints (save_iterations) as analyses name them, each with the
    epoch it falls in (", step200 (epoch 0.4)"); empty without any."""
    steps = plan.checkpoint_steps(plan.run_settings(settings, run))
    if not steps:
        return ""
    per_epoch = plan.steps_per_epoch(settings, run)
    return "".join(f", {step_point(n)} (epoch {n / per_epoch:.4g})" for n in steps)


def _check(args: argparse.Namespace) -> int:
    try:
        settings = config.load(args.config)
        summaries = model_summaries(settings)
    except FileNotFoundError:
        print(f"closerlook: {args.config}: no such config file", file=sys.stderr)
        return EXIT_BAD_INPUT
    except config.ConfigError as exc:
        print(f"closerlook: {args.config}: config error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    digest = config.config_hash(settings)
    print(f"{args.config}: valid (preset {settings['preset']!r}, config hash {digest})")
    for line in [*summaries, *plan_lines(settings)]:
        print(f"  {line}")
    return 0


def plan_lines(settings: Mapping[str, Any]) -> list[str]:
    """The plan of a validated config, one line per seed range, run, analysis and curve."""
    seeds = plan.replicates(settings)
    folders = f"seed{seeds[0]}" + (f" to seed{seeds[-1]}" if len(seeds) > 1 else "")
    lines = [f"seeds: {len(seeds)} replicate(s) of every run ({folders})"]
    for name in settings["runs"]:
        run = plan.run_settings(settings, name)
        epochs = ", ".join(map(str, plan.checkpoint_epochs(run)))
        lines.append(
            f"run {name}: {run.schedule['kind']}, {run.epochs} epochs, saves {epochs}"
            f"{_saved_steps(settings, name)}; model {run.model}"
        )
    for name in settings["similarity"]["analyses"]:
        lines.append(
            f"analysis {name}: {len(plan.analysis_pairs(settings, name))} pair(s) per seed"
        )
    for name, curve in settings["curves"]["connections"].items():
        (run_a, epoch_a), (run_b, epoch_b) = plan.curve_endpoints(settings, name)
        seed_a, seed_b = (
            f" (seed k+{o})" if o else "" for o in plan.curve_seed_offsets(settings, name)
        )
        lines.append(
            f"curve {name}: {curve['kind']}, {curve['n_bends']} bends, "
            f"{run_a} epoch {epoch_a}{seed_a} to {run_b} epoch {epoch_b}{seed_b}"
        )
    return lines


def _inspect(args: argparse.Namespace) -> int:
    from closerlook import inspection

    try:
        if args.file.endswith(".pt"):
            from closerlook import torch_inspection

            if args.layer is not None:
                raise inspection.InspectError(
                    f"{args.file}: a torch file has no datasets; inspect it without {args.layer!r}"
                )
            report = torch_inspection.describe_torch(args.file)
            text = torch_inspection.render_torch(report)
        elif args.layer is None:
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
        help="show what an HDF5 file or a checkpoint (.pt) of the pipeline holds",
        description=(
            "Show what an HDF5 file of the pipeline holds: its kind (activations, similarity, "
            "curve, ...), provenance, probe set, and a table of layers or datasets with shape, "
            "dtype, size on disk, mean, std and fraction of zeros. For a checkpoint or a "
            "curve's bends (.pt): run, replicate, point, seal status, schedule position, "
            "provenance and the layers with their parameter counts, read without running "
            "anything from the file. Exit status 2 if the file is missing, unreadable, unsafe "
            "or not written by closerlook."
        ),
    )
    inspect.add_argument("file", help="an .h5 or .pt file written by the pipeline")
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
