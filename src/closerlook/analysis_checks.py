"""Cross-reference checks of one similarity analysis (closerlook.checks): it has the keys of
its kind, names configured runs, compares at least one pair, and only checkpoints its runs
save; a within-run analysis' windows (`after_restart`, `after_drop`) start at restarts or
drops its run has, and both their ends are saved epochs within the run.

Every failure is a :class:`closerlook.config.ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

from typing import Any

from closerlook.config import ConfigError
from closerlook.plan import (
    WINDOWS,
    RunSettings,
    analysis_epochs,
    analysis_pairs,
    checkpoint_epochs,
    checkpoint_points,
    checkpoint_steps,
    run_settings,
    window_pairs,
)
from closerlook.points import Point, is_step, step_point

# Keys each analysis kind needs and allows (schema keys of `$defs/analysis`).
ANALYSIS_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "within_run": (("run",), ("epochs", "pairs", "after_restart", "after_drop", "matrix")),
    "across_runs": (("runs",), ("epoch",)),
    "teacher_student": (("teacher", "students"), ("epoch", "teacher_epoch")),
    "across_seeds": (("run",), ("epoch", "epochs")),
}
# What each window starts at, in words: (one start, what the run needs to have one).
WINDOW_STARTS = {
    "after_restart": ("restart", "an SGDR run with a restart before its last epoch"),
    "after_drop": ("drop", "a step schedule with a milestone before its last epoch"),
}


def check_analysis(config: dict[str, Any], name: str) -> None:
    """An analysis has the keys of its kind, names configured runs, and compares only
    epochs that those runs save."""
    a = config["similarity"]["analyses"][name]
    where, kind = f"similarity.analyses.{name}", a["kind"]
    needed, optional = ANALYSIS_KEYS[kind]
    missing = [k for k in needed if k not in a]
    if missing:
        raise ConfigError(
            f"'{where}' of kind {kind!r} needs {', '.join(needed)}; missing: {', '.join(missing)}"
        )
    unused = sorted(set(a) - {"kind", *needed, *optional})
    if unused:
        raise ConfigError(
            f"unknown key '{where}.{unused[0]}' for kind {kind!r}; "
            f"allowed keys: kind, {', '.join((*needed, *optional))}"
        )
    runs = config["runs"]
    named = {
        "within_run": [("run", a.get("run"))],
        "across_seeds": [("run", a.get("run"))],
        "across_runs": [(f"runs.{i}", r) for i, r in enumerate(a.get("runs", []))],
        "teacher_student": [("teacher", a.get("teacher"))]
        + [(f"students.{i}", r) for i, r in enumerate(a.get("students", []))],
    }[kind]
    for key, run in named:
        if run not in runs:
            raise ConfigError(f"'{where}.{key}' is {run!r}; allowed values: {', '.join(runs)}")
    if kind == "within_run" or (kind == "across_seeds" and "epochs" in a):
        _check_points(config, name, where)
        return
    for run_a, epoch_a, run_b, epoch_b in analysis_pairs(config, name):
        key_a = "teacher_epoch" if kind == "teacher_student" else "epoch"
        check_saved(f"{where}.{key_a}", run_a, epoch_a, run_settings(config, run_a))
        check_saved(f"{where}.epoch", run_b, epoch_b, run_settings(config, run_b))


def _check_points(config: dict[str, Any], name: str, where: str) -> None:
    """The `epochs` of a within-run or across-seeds analysis are saved, enough of them to
    compare, and a within-run analysis' windows fit its run."""
    a = config["similarity"]["analyses"][name]
    run, within = run_settings(config, a["run"]), a["kind"] == "within_run"
    epochs = analysis_epochs(config, name)
    least = 2 if within else 1
    if a.get("epochs", "cycle_ends") == "cycle_ends" and len(epochs) < least:
        raise ConfigError(
            f"'{where}.epochs' is 'cycle_ends' but run {a['run']!r} has "
            f"{len(epochs)} SGDR restart(s) in {run.epochs} epochs; at least "
            f"{least} {'are' if least > 1 else 'is'} needed"
        )
    if not within and not epochs:
        raise ConfigError(f"'{where}.epochs' is empty; list the points where the seeds meet")
    for point in epochs:
        check_saved(f"{where}.epochs", a["run"], point, run)
    if not within:
        return
    for key in WINDOWS:
        _check_window(config, name, key, where)
    if not analysis_pairs(config, name):
        raise ConfigError(
            f"'{where}' compares no pair: give `epochs` two or more points, or a window "
            f"({', '.join(WINDOWS)})"
        )


def _check_window(config: dict[str, Any], name: str, key: str, where: str) -> None:
    """Window `key` of a within-run analysis: its run has the restarts or drops it starts
    at, a list gives one δ per start, and both ends e and e + δ of each window are saved
    epochs within the run (a step run saves its drops only where save_epochs says)."""
    a = config["similarity"]["analyses"][name]
    delta, (start, needs) = a.get(key), WINDOW_STARTS[key]
    if delta is None:
        return
    run = run_settings(config, a["run"])
    starts = WINDOWS[key](run)
    if not starts:
        raise ConfigError(
            f"'{where}.{key}' needs {needs}; run {a['run']!r} "
            f"(schedule {run.schedule['kind']}) has none"
        )
    if isinstance(delta, list) and len(delta) != len(starts):
        raise ConfigError(
            f"'{where}.{key}' has {len(delta)} values for {len(starts)} {start}s "
            f"(after epochs {', '.join(map(str, starts))}); give one per {start} or one number"
        )
    pairs, saved = window_pairs(config, name, key), checkpoint_epochs(run)
    for e, f in pairs:
        if f > run.epochs:
            raise ConfigError(
                f"'{where}.{key}' has {f} (the {start} at epoch {e} + {f - e}), beyond the "
                f"{run.epochs} epochs of run {a['run']!r}; allowed after epoch {e}: 1 to "
                f"{run.epochs - e}"
            )
    unsaved = [x for x in dict.fromkeys(x for pair in pairs for x in pair) if x not in saved]
    for e, f in pairs:
        if e in unsaved or f in unsaved:
            what = f"starts at {e}" if e in unsaved else f"has {f}"
            raise ConfigError(
                f"'{where}.{key}' {what} (the {start} at epoch {e} + {f - e}), which run "
                f"{a['run']!r} does not save; add {', '.join(map(str, unsaved))} to "
                f"runs.{a['run']}.save_epochs (saved epochs: {', '.join(map(str, saved))})"
            )


def check_saved(key: str, run_name: str, point: Point, run: RunSettings) -> None:
    """`point` (an epoch, or a step "stepN") is a checkpoint that `run` saves."""
    if point in checkpoint_points(run):
        return
    saved = f"saved epochs: {', '.join(map(str, checkpoint_epochs(run)))}"
    steps = [step_point(n) for n in checkpoint_steps(run)]
    if steps or is_step(point):
        saved += f"; saved steps (save_iterations): {', '.join(steps) or 'none'}"
    raise ConfigError(f"'{key}' has {point}, which run {run_name!r} does not save; {saved}")
