"""Cross-reference checks of a config, after the schema (closerlook.config.validate): what
the JSON schema cannot express. A run's model exists, a schedule has the parameters its kind
needs, frozen layer groups exist in the run's model, a distillation teacher is another run
(no run is its own teacher, however indirectly) and a saved epoch of it, a step of
`save_iterations` is within the run's steps, an analysis compares saved checkpoints
(closerlook.analysis_checks), a curve joins two saved checkpoints of one architecture, the
probe set fits in its split, and the questions name what exists.

Every failure is a :class:`closerlook.config.ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from closerlook.analysis_checks import check_analysis
from closerlook.config import ConfigError
from closerlook.plan import (
    RunSettings,
    checkpoint_epochs,
    checkpoint_steps,
    curve_endpoints,
    curve_replicates,
    cycle_ends,
    run_settings,
    steps_per_epoch,
    teacher,
)
from closerlook.questions import check_question_names, check_questions
from closerlook.replicates import check_seeds, trained_run

# Parameters each schedule kind needs (schema keys of `$defs/schedule`).
SCHEDULE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "constant": ("lr",),
    "step": ("lr", "milestones", "gamma"),
    "cosine": ("lr_max", "lr_min"),
    "sgdr": ("lr_max", "lr_min", "T0", "T_mult"),
    "python": ("function",),
}
# Keys a schedule kind may have besides its parameters, kind and per.
SCHEDULE_OPTIONS: dict[str, tuple[str, ...]] = {"python": ("kwargs", "source")}


# Model keys that only some architectures take.
VGGS, USER_NETS = ("vgg", "vgg11", "vgg16"), ("torchvision", "python")
ARCH_KEYS: dict[str, tuple[str, ...]] = {
    "conv": VGGS,
    "fc": VGGS,
    "batch_norm": VGGS,
    "dropout": VGGS,
    "width": ("resnet18",),
    "name": ("torchvision",),
    "factory": ("python",),
    "source": ("python",),
    "kwargs": USER_NETS,
    "layers": USER_NETS,
    "features": USER_NETS,
    "classifier": USER_NETS,
}
# Model keys that some architectures need.
ARCH_NEEDS: dict[str, tuple[str, ...]] = {
    "torchvision": ("name", "layers"),
    "python": ("factory", "layers"),
}


def _check_models(models: Mapping[str, Any]) -> None:
    for name, spec in models.items():
        for key, archs in ARCH_KEYS.items():
            if key in spec and spec["arch"] not in archs:
                raise ConfigError(
                    f"'models.{name}.{key}' does not apply to arch {spec['arch']!r}; "
                    f"it applies to: {', '.join(archs)}"
                )
        for key in ARCH_NEEDS.get(spec["arch"], ()):
            if key not in spec:
                need = ", ".join(ARCH_NEEDS[spec["arch"]])
                raise ConfigError(
                    f"'models.{name}.{key}' is missing; arch {spec['arch']!r} needs {need}"
                )


def _check_freeze(where: str, run: RunSettings, model: Mapping[str, Any]) -> None:
    if model["arch"] in USER_NETS:
        return  # groups or module paths, checked on the built network (closerlook.usercheck)
    from closerlook.models import layer_groups  # imports torch: only when freezing

    groups = layer_groups(model)
    for i, group in enumerate(run.freeze["layers"]):
        if group not in groups:
            raise ConfigError(
                f"'{where}.freeze.layers.{i}' is {group!r}, not a layer group of model "
                f"{run.model!r}; allowed values: {', '.join(groups)}"
            )


def _check_teachers(config: dict[str, Any]) -> None:
    """Every teacher is another configured run, saved at the epoch asked for, and following
    teachers from any run never comes back to it."""
    runs = config["runs"]
    for name in runs:
        if run_settings(config, name).distill is None:
            continue
        where = f"runs.{name}.distill.teacher"
        t_run = run_settings(config, name).distill["teacher"]["run"]
        if t_run not in runs:
            raise ConfigError(f"'{where}.run' is {t_run!r}; allowed values: {', '.join(runs)}")
        _, t_epoch = teacher(config, name)  # type: ignore[misc]
        saved = checkpoint_epochs(run_settings(config, t_run))
        if t_epoch not in saved:
            raise ConfigError(
                f"'{where}.epoch' is {t_epoch}, which run {t_run!r} does not save; "
                f"saved epochs: {', '.join(map(str, saved))}"
            )
        chain = [name]
        current: str | None = t_run
        while current is not None:
            if current in chain:
                cycle = " -> ".join([*chain, current])
                raise ConfigError(
                    f"'{where}.run' is {t_run!r}, which makes a cycle of teachers: {cycle}"
                )
            chain.append(current)
            nxt = teacher(config, current)
            current = nxt[0] if nxt and nxt[0] in runs else None


def check_references(config: dict[str, Any], given_questions: dict[str, Any]) -> None:
    """Raise ConfigError at the first reference the config gets wrong; `given_questions`
    is `questions` as the user wrote it (before the schema's defaults)."""
    _check_models(config.get("models") or {})
    for name in config["runs"]:
        _check_run(config, name)
    _check_teachers(config)
    check_seeds(config)
    _check_probe(config)
    for name in config["similarity"]["analyses"]:
        check_analysis(config, name)
    for name, c in config["curves"]["connections"].items():
        _check_curve(config, name, c)
    check_questions(config)
    method = config["figures"].get("method")
    if method is not None and method not in config["similarity"]["methods"]:
        raise ConfigError(
            f"'figures.method' is {method!r}, which similarity.methods does not compute; "
            f"allowed values: {', '.join(config['similarity']['methods'])}"
        )
    check_question_names(config, given_questions)


def _check_run(config: dict[str, Any], name: str) -> None:
    """A run has a model that exists, a complete schedule, and saves what it can reach."""
    models, where = config.get("models") or {}, f"runs.{name}"
    keys = {**config["training"], **config["runs"][name]}
    for key in ("model", "schedule"):
        if key not in keys:
            raise ConfigError(f"'{where}.{key}' is missing (set it in the run or in 'training')")
    run = run_settings(config, name)
    if run.model not in models:
        allowed = ", ".join(models) or "(no models defined)"
        raise ConfigError(f"'{where}.model' is {run.model!r}; allowed values: {allowed}")
    _check_schedule(where, run.schedule)
    if run.freeze:
        _check_freeze(where, run, models[run.model])
    late = [e for e in run.save_epochs if e > run.epochs]
    if late:
        raise ConfigError(
            f"'{where}.save_epochs' has {late[0]}; allowed: 0 to epochs ({run.epochs})"
        )
    _check_steps(config, name, where)


def _check_schedule(where: str, s: Mapping[str, Any]) -> None:
    """A schedule has exactly the parameters of its kind, and a cosine's floor is below its
    peak."""
    need = SCHEDULE_PARAMETERS[s["kind"]]
    missing = [k for k in need if k not in s]
    if missing:
        raise ConfigError(
            f"'{where}.schedule' of kind {s['kind']!r} needs {', '.join(need)}; "
            f"missing: {', '.join(missing)}"
        )
    options = SCHEDULE_OPTIONS.get(s["kind"], ())
    unused = sorted(set(s) - {"kind", "per", *need, *options})
    if unused:
        raise ConfigError(
            f"unknown key '{where}.schedule.{unused[0]}' for kind {s['kind']!r}; "
            f"allowed keys: kind, per, {', '.join([*need, *options])}"
        )
    if s["kind"] in ("cosine", "sgdr") and s["lr_min"] > s["lr_max"]:
        raise ConfigError(f"'{where}.schedule.lr_min' must not exceed lr_max ({s['lr_max']})")


def _check_probe(config: dict[str, Any]) -> None:
    """The probe set is no larger than the split it is drawn from."""
    from closerlook.data import split_sizes

    probe, data = config["probe"], config["data"]
    available = split_sizes(data)[probe["split"]]
    if probe["size"] > available:
        raise ConfigError(
            f"'probe.size' is {probe['size']} but the {probe['split']!r} split of "
            f"{data['dataset']} has {available} images; allowed: 2 to {available}"
        )


def _check_steps(config: dict[str, Any], name: str, where: str) -> None:
    """Every step of `save_iterations` is one the run takes (epochs x steps per epoch)."""
    run = run_settings(config, name)
    steps = checkpoint_steps(run)
    if not steps:
        return
    per_epoch = steps_per_epoch(config, name)
    total = run.epochs * per_epoch
    if steps[-1] > total:
        raise ConfigError(
            f"'{where}.save_iterations' has {steps[-1]}; allowed: 1 to the run's {total} "
            f"steps ({run.epochs} epochs of {per_epoch})"
        )


def _check_curve(config: dict[str, Any], name: str, c: Mapping[str, Any]) -> None:
    """A curve names existing runs and saved epochs, and two endpoints of one architecture."""
    where = f"curves.connections.{name}"
    runs = config["runs"]
    if ("run" in c) == ("endpoints" in c):
        raise ConfigError(
            f"'{where}' needs exactly one of 'run' (with 'epochs') or 'endpoints' "
            f"(two {{run, epoch}} mappings)"
        )
    if "epochs" in c and "run" not in c:
        raise ConfigError(f"'{where}.epochs' needs 'run'; with 'endpoints' give each an epoch")
    if "run" in c:
        refs = [(f"{where}.run", c["run"], f"{where}.epochs")]
    else:
        refs = [
            (f"{where}.endpoints.{i}.run", e["run"], f"{where}.endpoints.{i}.epoch")
            for i, e in enumerate(c["endpoints"])
        ]
    for key, run, _ in refs:
        if run not in runs:
            raise ConfigError(f"'{key}' is {run!r}; allowed values: {', '.join(runs)}")
    if c.get("epochs", "last_cycle_ends") == "last_cycle_ends" and "run" in c:
        run = run_settings(config, c["run"])
        if len(cycle_ends(run)) < 2:
            raise ConfigError(
                f"'{where}.epochs' is 'last_cycle_ends' but run {c['run']!r} has "
                f"{len(cycle_ends(run))} SGDR restart(s) in {run.epochs} epochs; at least "
                f"2 are needed (or give two saved epochs)"
            )
    ends = curve_endpoints(config, name)
    for i, (run_name, epoch) in enumerate(ends):
        saved = checkpoint_epochs(run_settings(config, run_name))
        if epoch not in saved:
            key = refs[min(i, len(refs) - 1)][2]
            raise ConfigError(
                f"'{key}' has {epoch}, which run {run_name!r} does not save; "
                f"saved epochs: {', '.join(map(str, saved))}"
            )
    seeds = curve_replicates(config, name, 0)
    nets = [(trained_run(config, r), e, k) for (r, e), k in zip(ends, seeds, strict=True)]
    if nets[0] == nets[1]:
        raise ConfigError(
            f"'{where}' has the same endpoint twice ({ends[0][0]}, epoch {ends[0][1]}); "
            f"give two epochs, or 'partner: true' to one endpoint"
        )
    model_a, model_b = (run_settings(config, r).model for r, _ in ends)
    if model_a != model_b:
        raise ConfigError(
            f"'{where}' joins runs of different models ({model_a!r} and {model_b!r}); "
            f"both endpoints need the same architecture"
        )
