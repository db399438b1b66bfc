"""The `closerlook` command line.

    closerlook check [CONFIG]    validate a config and print the plan of runs, analyses, curves
    closerlook inspect FILE [LAYER] [--json]
                                 show what an HDF5 file of the pipeline holds
    closerlook version

The study itself runs through Snakemake: `snakemake --cores all figures`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from closerlook import __version__
from closerlook import config as cfg

EXIT_BAD_INPUT = 2


def _check(args: argparse.Namespace) -> int:
    try:
        config = cfg.load(args.config)
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
    for name in config["runs"]:
        run = cfg.run_config(config, name)
        epochs = ", ".join(map(str, cfg.checkpoint_epochs(run)))
        print(f"  run {name}: {run['schedule']['kind']}, {run['epochs']} epochs, saves {epochs}")
    for name in config["similarity"]["analyses"]:
        pairs = cfg.analysis_pairs(config, name)
        print(f"  analysis {name}: {len(pairs)} pair(s) per seed")
    for name, curve in config["curves"]["connections"].items():
        (run_a, epoch_a), (run_b, epoch_b) = cfg.curve_endpoints(config, name)
        print(
            f"  curve {name}: {curve['kind']}, {curve['n_bends']} bends, "
            f"{run_a} epoch {epoch_a} to {run_b} epoch {epoch_b}"
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
