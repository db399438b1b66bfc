"""The `closerlook` command line.

    closerlook check [CONFIG ...]
                                 validate a config and print the plan: models (parameters,
                                 layers and their shapes), runs, analyses, curves
    closerlook inspect FILE [LAYER] [--json]
                                 show what an HDF5, .pt or CSV file of the pipeline holds
    closerlook plan [CONFIG ...] [--calibration FILE] [--json]
                                 what the study costs before it runs: per rule jobs,
                                 time, memory and bytes; GPU/CPU-hours and disk in total
    closerlook calibrate [CONFIG ...] [--device auto|cpu|cuda] [--out FILE]
                                 measure this machine's throughputs for the plan
    closerlook version

The study itself runs through Snakemake: `snakemake --cores all figures`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from closerlook import __version__, config, plan, replicates
from closerlook.plan import DATASET_SHAPES
from closerlook.points import step_point

EXIT_BAD_INPUT = 2


def model_summaries(settings: Mapping[str, Any]) -> list[str]:
    """One line per configured model: its parameter count and its registered layers with
    the output shape of one image, from a forward pass on the dataset's input shape with
    unallocated weights (closerlook.sizes; nothing is trained)."""
    from closerlook import sizes

    in_shape, num_classes = DATASET_SHAPES[settings["data"]["dataset"]]
    lines = []
    for name, spec in settings["models"].items():
        try:
            shapes = sizes.network_shapes(spec, in_shape, num_classes)
        except ValueError as exc:
            raise config.ConfigError(f"'models.{name}': {exc}") from exc
        layers = ", ".join(
            f"{layer} {'x'.join(map(str, shape))}" for layer, shape in shapes.layers.items()
        )
        lines.append(f"model {name}: {shapes.parameters:,} parameters; layers: {layers}")
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
    paths = args.config or ["config.yaml"]
    named = " + ".join(paths)
    try:
        settings = config.load_all(paths)
        summaries = model_summaries(settings)
    except FileNotFoundError as exc:
        return refuse(f"{exc.filename}: no such config file")
    except config.ConfigError as exc:
        return refuse(f"{named}: config error: {exc}")
    digest = config.config_hash(settings)
    print(f"{named}: valid (preset {settings['preset']!r}, config hash {digest})")
    for line in [*summaries, *plan_lines(settings)]:
        print(f"  {line}")
    return 0


def plan_lines(settings: Mapping[str, Any]) -> list[str]:
    """The plan of a validated config, one line per seed range, run, analysis and curve."""
    seeds = plan.replicates(settings)
    folders = f"seed{seeds[0]}" + (f" to seed{seeds[-1]}" if len(seeds) > 1 else "")
    lines = [f"seeds: {len(seeds)} replicate(s) of every run ({folders})"]
    lines += [f"design: {line}" for line in replicates.design(settings)]
    for name in settings["runs"]:
        run = plan.run_settings(settings, name)
        epochs = ", ".join(map(str, plan.checkpoint_epochs(run)))
        trained = replicates.trained_run(settings, name)
        lines.append(
            f"run {name}: {run.schedule['kind']}, {run.epochs} epochs, saves {epochs}"
            f"{_saved_steps(settings, name)}; model {run.model}"
            + (f"; the network of run {trained} (trained once)" if trained != name else "")
        )
    for name in settings["similarity"]["analyses"]:
        lines.append(
            f"analysis {name}: {len(plan.analysis_pairs(settings, name))} pair(s) per seed"
        )
    for name, curve in settings["curves"]["connections"].items():
        (run_a, epoch_a), (run_b, epoch_b) = plan.curve_endpoints(settings, name)
        seed_a, seed_b = (
            f" (replicate k + {k})" if k else "" for k in plan.curve_replicates(settings, name, 0)
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
        elif args.file.endswith(".csv"):
            from closerlook import inspect_tables

            if args.layer is not None:
                raise inspection.InspectError(
                    f"{args.file}: a CSV table has no layers to pick; inspect it without "
                    f"{args.layer!r}"
                )
            report = inspect_tables.describe_table(args.file)
            text = inspect_tables.render_table(report)
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


def refuse(message: str) -> int:
    """Bad input: one line on stderr, exit status 2."""
    print(f"closerlook: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _plan(args: argparse.Namespace) -> int:
    from closerlook import calibration, cost, resources

    paths = args.config or ["config.yaml"]
    try:
        settings = config.load_all(paths)
        path = resources.calibration_path(args.calibration or settings["resources"]["calibration"])
        study = cost.study_cost(settings, calibration.load(path))
    except FileNotFoundError as exc:
        return refuse(f"{exc.filename}: no such file")
    except (config.ConfigError, calibration.CalibrationError) as exc:
        return refuse(f"{' + '.join(map(str, paths))}: {exc}")
    report = study.as_json()
    report["calibration"] = str(path)
    print(json.dumps(report, indent=2) if args.json else render_plan(report, paths))
    return 0


def render_plan(report: Mapping[str, Any], paths: Sequence[str]) -> str:
    """The plan as a table: one row per rule, then the totals."""
    from closerlook.disk import size

    d, t = report["device"], report["totals"]
    lines = [
        f"plan of {' + '.join(paths)} on {d['machine']} ({d['kind']}, calibrated "
        f"{d['measured']}: {report['calibration']})",
        f"{'rule':<28}{'jobs':>5}{'time/job':>11}{'time':>11}{'written/job':>13}"
        f"{'written':>11}{'host peak':>11}{'GPU peak':>10}",
    ]
    for name, r in report["rules"].items():
        lines.append(
            f"{name:<28}{r['jobs']:>5}{duration(r['seconds_per_job']):>11}"
            f"{duration(r['seconds']):>11}{size(r['bytes_per_job']):>13}{size(r['bytes']):>11}"
            f"{size(r['peak_host_bytes']):>11}{size(r['peak_gpu_bytes']):>10}"
        )
    disk = ", ".join(f"{k} {size(v)}" for k, v in t["disk_bytes"].items() if k != "total")
    largest = t["largest_file"]
    lines += [
        f"total: {sum(r['jobs'] for r in report['rules'].values())} jobs, "
        f"{t['gpu_hours']:.1f} GPU-hours, {t['cpu_hours']:.1f} CPU-hours",
        f"disk: {size(t['disk_bytes']['total'])} ({disk})",
        f"largest file: {size(largest['bytes'])} ({largest['name']})",
    ]
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """A duration in the largest fitting unit: 42 s, 12.5 min, 3.2 h, 4.1 d."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} d"


def _calibrate(args: argparse.Namespace) -> int:
    from closerlook import calibrate, logs

    logs.setup()
    paths = args.config or ["config.yaml"]
    try:
        configs = [config.load(p) for p in paths]
    except FileNotFoundError as exc:
        return refuse(f"{exc.filename}: no such file")
    except config.ConfigError as exc:
        return refuse(f"config error: {exc}")
    result = calibrate.calibrate(configs, args.device)
    result.save(args.out)
    n = len(result.throughputs)
    print(f"{args.out}: {result.machine} ({result.device}), {n} model/batch measurements")
    return 0


def add_plan_commands(sub: Any) -> None:
    """The `plan` and `calibrate` subcommands."""
    planner = sub.add_parser(
        "plan",
        help="what the study costs before it runs",
        description=(
            "For the configured study (config files merged in order, as Snakemake merges "
            "them), before any job runs: per rule the number of jobs and, per job, the "
            "predicted wall time on the calibrated machine, peak host and GPU memory and "
            "bytes written; in total GPU- and CPU-hours, disk by artifact kind and the "
            "largest file. Sizes are exact where the format fixes them; times come from a "
            "calibration file (`closerlook calibrate`)."
        ),
    )
    planner.add_argument("config", nargs="*", help="YAML config files (default: config.yaml)")
    planner.add_argument(
        "--calibration",
        help="a calibration file, or the name of one in workflow/calibrations (default: "
        "the config's resources.calibration, else cpu-2core)",
    )
    planner.add_argument("--json", action="store_true", help="one JSON object")
    planner.set_defaults(func=_plan)
    calib = sub.add_parser(
        "calibrate",
        help="measure this machine's throughputs for the plan",
        description=(
            "Time training and inference of every model and batch size the configs use, "
            "each similarity measure, a curve epoch, disk writes and a job's start, on "
            "this machine (a minute or two), and write them as a calibration file."
        ),
    )
    calib.add_argument(
        "config",
        nargs="*",
        help="YAML config files, each a study of its own whose models and batch sizes are "
        "measured (default: config.yaml)",
    )
    calib.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    calib.add_argument("--out", default="calibration.json", help="file to write (JSON)")
    calib.set_defaults(func=_calibrate)


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
        "config",
        nargs="*",
        help="YAML config files, merged in order as Snakemake merges them (default: config.yaml)",
    )
    check.set_defaults(func=_check)
    add_plan_commands(sub)
    inspect = sub.add_parser(
        "inspect",
        help="show what an HDF5 file, a checkpoint (.pt) or a CSV table of the pipeline holds",
        description=(
            "Show what an HDF5 file of the pipeline holds: its kind (activations, similarity, "
            "curve, ...), provenance, probe set, and a table of layers or datasets with shape, "
            "dtype, size on disk, mean, std and fraction of zeros; a curve file's barriers; a "
            "similarity file's values per layer and measure. For a checkpoint or a "
            "curve's bends (.pt): run, replicate, point, seal status, schedule position, "
            "provenance and the layers with their parameter counts, read without running "
            "anything from the file. A CSV table (metrics.csv, similarity tables): its "
            "summary and columns. Exit status 2 if the file is missing, unreadable, unsafe "
            "or not written by closerlook."
        ),
    )
    inspect.add_argument("file", help="an .h5, .pt or .csv file written by the pipeline")
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
