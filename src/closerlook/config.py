"""The study's configuration: schema validation with defaults, and the derived plan.

A config is checked in two passes before any job runs:

1. the JSON schema (`workflow/schemas/config.schema.yaml`): types, ranges, unknown keys;
2. the cross-references the schema cannot express: a run's model exists, a schedule has
   the parameters its kind needs, frozen layer groups exist in the run's model, a
   distillation teacher is another run (no run is its own teacher, however indirectly) and
   a saved epoch of it, an analysis names a run and epochs (or steps "stepN" of
   `save_iterations`, each within the run's steps) that are saved, the probe set fits in
   its split.

Every failure is a :class:`ConfigError` whose message names the key and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from closerlook import schedules
from closerlook.points import Point, is_step, step_point

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# Parameters each schedule kind needs (schema keys of `$defs/schedule`).
SCHEDULE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "constant": ("lr",),
    "step": ("lr", "milestones", "gamma"),
    "cosine": ("lr_max", "lr_min"),
    "sgdr": ("lr_max", "lr_min", "T0", "T_mult"),
}


class ConfigError(ValueError):
    """A configuration value that closerlook cannot run with; the message names the key and
    is always one line (a line break in a key or value is shown as \\n)."""

    def __init__(self, message: str):
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


def load_schema(path: Path | None = None) -> dict[str, Any]:
    with open(path or SCHEMA_PATH) as f:
        return yaml.safe_load(f)


def _key_path(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    """One line for a schema violation: the key, the offending value, what is allowed."""
    where = list(error.absolute_path)
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        key = _key_path([*where, extra[0]]) if extra else _key_path(where)
        hint = f"allowed keys: {', '.join(allowed)}" if allowed else "no keys allowed here"
        return f"unknown key '{key}'; {hint}"
    if v == "enum":
        allowed = ", ".join(map(repr, error.validator_value))
        return f"'{_key_path(where)}' is {error.instance!r}; allowed values: {allowed}"
    if v == "required":
        return f"'{_key_path(where)}': {error.message}"
    if v == "oneOf":
        allowed = " ".join(error.schema.get("description", "").split())
        return f"'{_key_path(where)}' is {error.instance!r}; allowed: {allowed}"
    return f"'{_key_path(where)}': {error.message}"


def _resolve_ref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return {**node, **{k: v for k, v in schema.items() if k != "$ref"}}


def fill_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """Fill schema `default`s into `instance` (a missing key takes its default; a present
    mapping whose default is a mapping gains the default's missing keys)."""
    schema = _resolve_ref(schema, root)
    if not isinstance(instance, dict):
        return instance
    for key, sub in schema.get("properties", {}).items():
        sub = _resolve_ref(sub, root)
        if "default" in sub:
            if key not in instance:
                instance[key] = copy.deepcopy(sub["default"])
            elif isinstance(instance[key], dict) and isinstance(sub["default"], dict):
                for k, v in sub["default"].items():
                    instance[key].setdefault(k, copy.deepcopy(v))
        if key in instance:
            fill_defaults(instance[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in set(instance) - set(schema.get("properties", {})):
            fill_defaults(instance[key], extra, root)
    return instance


def validate(config: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return a validated copy of `config` with defaults filled in, or raise ConfigError."""
    schema = schema or load_schema()
    config = copy.deepcopy(dict(config))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError(_describe(errors[0]))
    fill_defaults(config, schema, schema)
    _check_references(config)
    return config


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a YAML config file."""
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return validate(raw)


# --------------------------------------------------------------------------- derived plan
def run_config(config: Mapping[str, Any], run: str) -> dict[str, Any]:
    """A run's full settings: `training` defaults overridden by the run's own keys."""
    if run not in config["runs"]:
        raise ConfigError(f"unknown run '{run}'; runs: {', '.join(config['runs'])}")
    resolved = {**copy.deepcopy(config["training"]), **copy.deepcopy(config["runs"][run])}
    resolved["name"] = run
    return resolved


def replicates(config: Mapping[str, Any]) -> list[int]:
    """The replicate indices k = 0 .. seeds−1 (folders seed{k})."""
    return list(range(config.get("seeds", 1)))


def run_seed(config: Mapping[str, Any], run: str, replicate: int) -> int:
    """The torch seed of a run's replicate k: the run's `seed` (default 0) + k."""
    return int(run_config(config, run)["seed"]) + int(replicate)


def model_config(config: Mapping[str, Any], run: str) -> dict[str, Any]:
    return copy.deepcopy(config["models"][run_config(config, run)["model"]])


def checkpoint_epochs(run: Mapping[str, Any]) -> list[int]:
    """Epochs whose weights a run saves: 0 (initialisation), `save_epochs`, the end of every
    SGDR cycle, and the last epoch."""
    epochs = {0, run["epochs"], *(e for e in run.get("save_epochs", []) if e <= run["epochs"])}
    epochs.update(cycle_ends(run))
    return sorted(epochs)


def checkpoint_steps(run: Mapping[str, Any]) -> list[int]:
    """Optimizer steps after which a run also saves its weights (`save_iterations`, counted
    from 1 at the start of training), ascending."""
    return sorted({int(n) for n in run.get("save_iterations", [])})


def checkpoint_points(run: Mapping[str, Any]) -> list[Point]:
    """Every checkpoint a run saves (closerlook.points): its epochs (`checkpoint_epochs`),
    then its steps as "stepN" (`checkpoint_steps`)."""
    return [*checkpoint_epochs(run), *map(step_point, checkpoint_steps(run))]


def steps_per_epoch(config: Mapping[str, Any], run: str) -> int:
    """Optimizer steps in one epoch of a run: its batches over the training split."""
    from closerlook.data import split_sizes

    return math.ceil(split_sizes(config["data"])["train"] / run_config(config, run)["batch_size"])


def cycle_ends(run: Mapping[str, Any]) -> list[int]:
    """The SGDR restarts of a run (empty for other schedules)."""
    s = run["schedule"]
    if s["kind"] != "sgdr":
        return []
    return schedules.sgdr_cycle_ends(s["T0"], s["T_mult"], run["epochs"])


# Keys each analysis kind needs and allows (schema keys of `$defs/analysis`).
ANALYSIS_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "within_run": (("run",), ("epochs", "after_restart", "matrix")),
    "across_runs": (("runs",), ("epoch",)),
    "teacher_student": (("teacher", "students"), ("epoch", "teacher_epoch")),
    "across_seeds": (("run",), ("epoch", "epochs")),
}


def analysis_epochs(config: Mapping[str, Any], name: str) -> list[Point]:
    """The saved points a within-run analysis compares, in order: epochs, and steps
    ("stepN") where `epochs` lists them ("saved" is every saved epoch, without steps)."""
    a = config["similarity"]["analyses"][name]
    run = run_config(config, a["run"])
    if a.get("epochs", "cycle_ends") == "cycle_ends":
        return cycle_ends(run)
    if a["epochs"] == "saved":
        return checkpoint_epochs(run)
    return list(a["epochs"])


EPOCH_KEYWORDS = ("last", "last_cycle_end")


def resolve_epoch(config: Mapping[str, Any], run: str, epoch: int | str) -> int:
    """An epoch of one run: an integer, "last" (the run's final epoch) or "last_cycle_end"
    (the last completed SGDR cycle, where the paper reads SGDR's iterates; the final epoch
    of any other schedule)."""
    settings = run_config(config, run)
    if epoch == "last":
        return settings["epochs"]
    if epoch == "last_cycle_end":
        return (cycle_ends(settings) or [settings["epochs"]])[-1]
    return int(epoch)


def restarts(run: Mapping[str, Any]) -> list[int]:
    """The SGDR cycle ends after which training restarts (every one before the last epoch)."""
    return [e for e in cycle_ends(run) if e < run["epochs"]]


def after_restart_pairs(config: Mapping[str, Any], name: str) -> list[tuple[int, int]]:
    """(e, e + δ) for every SGDR cycle end e before the run's last epoch: the iterate at a
    restart against one δ epochs into the next cycle (`after_restart`: one δ for every
    restart, or one per restart in order; the authors compared 10/12, 30/33, 70/74, 150/152)."""
    a = config["similarity"]["analyses"][name]
    delta = a.get("after_restart")
    if delta is None:
        return []
    ends = restarts(run_config(config, a["run"]))
    deltas = [delta] * len(ends) if isinstance(delta, int) else list(delta)
    return [(e, e + d) for e, d in zip(ends, deltas, strict=False)]


def analysis_pairs(config: Mapping[str, Any], name: str) -> list[tuple[str, Point, str, Point]]:
    """(run_a, epoch_a, run_b, epoch_b) for each comparison of an analysis:

    - within_run: consecutive checkpoints of its run, then each restart against the
      iterate `after_restart` epochs later (`after_restart_pairs`);
    - across_runs: every pair of its runs (in the order listed) at one epoch;
    - teacher_student: the teacher against each student;
    - across_seeds: the run against itself at one epoch, or at each of `epochs` (in the
      next seed: `partner_seed`).
    """
    a = config["similarity"]["analyses"][name]
    kind = a.get("kind", "within_run")
    if kind == "within_run":
        epochs = analysis_epochs(config, name)
        pairs = list(zip(epochs, epochs[1:], strict=False)) + after_restart_pairs(config, name)
        return [(a["run"], e, a["run"], f) for e, f in dict.fromkeys(pairs)]
    epoch = a.get("epoch", "last")
    if kind == "across_runs":
        runs = list(a["runs"])
        return [
            (r, resolve_epoch(config, r, epoch), s, resolve_epoch(config, s, epoch))
            for i, r in enumerate(runs)
            for s in runs[i + 1 :]
        ]
    if kind == "across_seeds":
        if "epochs" in a:
            return [(a["run"], e, a["run"], e) for e in analysis_epochs(config, name)]
        e = resolve_epoch(config, a["run"], epoch)
        return [(a["run"], e, a["run"], e)]
    if kind == "teacher_student":
        t = a["teacher"]
        te = resolve_epoch(config, t, a.get("teacher_epoch", "last"))
        return [(t, te, s, resolve_epoch(config, s, epoch)) for s in a["students"]]
    raise ConfigError(
        f"'similarity.analyses.{name}.kind' is {kind!r}; allowed values: {', '.join(ANALYSIS_KEYS)}"
    )


def partner_seed(config: Mapping[str, Any], name: str, seed: int) -> int:
    """The seed of the second checkpoint of an analysis' pair in seed k: k itself (like
    with like), or k + 1 for an across_seeds analysis (two independently trained networks)."""
    kind = config["similarity"]["analyses"][name].get("kind", "within_run")
    return int(seed) + 1 if kind == "across_seeds" else int(seed)


def curve_endpoints(config: Mapping[str, Any], name: str) -> list[tuple[str, int]]:
    """The two endpoints (run, epoch) of a configured curve: two saved epochs of `run`
    (by default its last two SGDR restarts) or the two `endpoints` given as {run, epoch}."""
    c = config["curves"]["connections"][name]
    if "endpoints" in c:
        return [
            (e["run"], resolve_epoch(config, e["run"], e.get("epoch", "last")))
            for e in c["endpoints"]
        ]
    run = run_config(config, c["run"])
    epochs = c.get("epochs", "last_cycle_ends")
    if epochs == "last_cycle_ends":
        epochs = cycle_ends(run)[-2:]
    return [(c["run"], int(e)) for e in epochs]


def curve_seed_offsets(config: Mapping[str, Any], name: str) -> tuple[int, int]:
    """How many seeds after the curve's own seed k each endpoint is read from: (0, 0) for
    two checkpoints of one network, (0, 1) for optima of two independently trained
    replicates (an endpoint's `seed_offset`; the replicate k + 1 is trained for it)."""
    c = config["curves"]["connections"][name]
    ends = c.get("endpoints", [{}, {}])
    return (int(ends[0].get("seed_offset", 0)), int(ends[1].get("seed_offset", 0)))


def curve_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A curve's training settings: its own keys, then the first endpoint's run's SGD
    settings (batch size, momentum, weight decay, augmentation)."""
    c = config["curves"]["connections"][name]
    run = run_config(config, curve_endpoints(config, name)[0][0])
    settings = {k: run[k] for k in ("batch_size", "momentum", "weight_decay", "augment", "flip")}
    settings.update(
        {k: c[k] for k in ("batch_size", "momentum", "weight_decay") if k in c},
        kind=c["kind"],
        n_bends=c["n_bends"],
        epochs=c["train_epochs"],
        lr=c["lr"],
        seed=c["seed"],
        model=run["model"],
    )
    return settings


def figure_method(config: Mapping[str, Any]) -> str:
    """The similarity method of the RQ figures and findings: `figures.method`, else the
    first of `similarity.methods`."""
    return config["figures"].get("method") or config["similarity"]["methods"][0]


def figure_methods(config: Mapping[str, Any]) -> list[str]:
    """Every similarity measure the figures draw and findings judge: the primary one
    (`figure_method`) first, then the rest of `similarity.methods`."""
    return list(dict.fromkeys([figure_method(config), *config["similarity"]["methods"]]))


def matrix_method(config: Mapping[str, Any], analysis: str) -> str | None:
    """The measure of an analysis' layer x layer matrix (closerlook.layer_matrix): the
    primary one (`figure_method`) where the analysis says `matrix: true`, else None."""
    wanted = config["similarity"]["analyses"][analysis].get("matrix", False)
    return figure_method(config) if wanted else None


def run_colours(config: Mapping[str, Any], runs: Iterable[str]) -> dict[str, str]:
    """Each run's colour in every figure: `figures.colours`, else the tab10 colour ("C0" to
    "C9") of its position in `runs`."""
    order = list(config["runs"])
    overrides = config["figures"].get("colours", {})
    return {r: overrides.get(r, f"C{order.index(r) % 10}" if r in order else "0.3") for r in runs}


RQ2_ROLES = ("no_warmup", "warmup", "frozen", "small_batch")


def question_parts(config: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    """What each RQ figure draws, limited to what is configured: figure name -> {"runs",
    "analyses", "curves"} (lists of names). A figure whose parts are all missing is left
    out; `rq4_summary` and findings.md take the union of everything."""
    q = config["questions"]
    runs = config["runs"]
    analyses = config["similarity"]["analyses"]
    curves = config["curves"]["connections"]

    def have(names: Iterable[str], where: Mapping[str, Any]) -> list[str]:
        return [n for n in dict.fromkeys(names) if n in where]

    rq1, rq2 = q["rq1"], q["rq2"]
    setups = [rq2[role] for role in RQ2_ROLES if role in rq2]
    parts = {
        "rq1_training": {"runs": have(rq1["runs"], runs)},
        "rq1_line_and_curve": {"curves": have([rq1["curve"]], curves)},
        "rq1_loss_plane": {"curves": have([rq1["curve"]], curves)},
        "rq1_restart_cca": {
            "analyses": have([rq1["restarts"]], analyses)
            + have([rq1.get("reference", "")], analyses)
        },
        "rq2_warmup": {"runs": have([s["run"] for s in setups], runs)},
        "rq2_warmup_cca": {"analyses": have([s["analysis"] for s in setups], analyses)},
        "rq3_distillation_cca": {"analyses": have([q["rq3"]["analysis"]], analyses)},
    }
    parts = {name: p for name, p in parts.items() if any(p.values())}
    union: dict[str, list[str]] = {"runs": [], "analyses": [], "curves": []}
    for p in parts.values():
        for kind, names in p.items():
            union[kind] += [n for n in names if n not in union[kind]]
    # findings (d) and (e): the summary and findings.md read these too
    rq4 = q["rq4"]
    for kind, names in (
        ("analyses", have([rq4["independent"], rq4["heuristics"]], analyses)),
        ("curves", have([rq4["curve"]], curves)),
    ):
        union[kind] += [n for n in names if n not in union[kind]]
    for a in union["analyses"]:
        for run_a, _, run_b, _ in analysis_pairs(config, a):
            union["runs"] += [r for r in (run_a, run_b) if r not in union["runs"]]
    parts["rq4_summary"] = union
    return parts


def deeper_layers(config: Mapping[str, Any]) -> list[str] | None:
    """RQ2's "deeper layers" as registered layer names (`questions.rq2.deeper`: a layer
    group of the no-warmup run's model, or a list of its layers), or None for the default
    (the second half of the layers in network order)."""
    q = config["questions"]["rq2"]
    deeper, run = q.get("deeper"), q["no_warmup"]["run"]
    if deeper is None or run not in config["runs"]:
        return None
    if isinstance(deeper, list):
        return list(deeper)
    from closerlook.models import layer_groups

    return layer_groups(config["models"][run_config(config, run)["model"]])[deeper]


def resolved_questions(config: Mapping[str, Any]) -> dict[str, Any]:
    """The questions with what findings and figures need resolved: RQ1's accuracy epoch per
    run (`rq1.read_epochs`) and RQ2's deeper layers by name (`rq2.deeper_layers`)."""
    q = copy.deepcopy(dict(config["questions"]))
    epoch = q["rq1"].get("epoch", "last_cycle_end")
    q["rq1"]["read_epochs"] = {
        r: resolve_epoch(config, r, epoch) for r in q["rq1"]["runs"] if r in config["runs"]
    }
    q["rq2"]["deeper_layers"] = deeper_layers(config)
    return q


def teacher(config: Mapping[str, Any], run: str) -> tuple[str, int] | None:
    """(teacher run, teacher epoch) of a distilled run, or None; the epoch defaults to the
    teacher's last."""
    d = run_config(config, run).get("distill")
    if not d:
        return None
    name = d["teacher"]["run"]
    return name, d["teacher"].get("epoch", run_config(config, name)["epochs"])


def config_hash(obj: Any) -> str:
    """SHA-256 (first 16 hex digits) of a JSON-serialisable object, keys sorted."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# Model keys that only some architectures take.
ARCH_KEYS: dict[str, tuple[str, ...]] = {
    "conv": ("vgg", "vgg11", "vgg16"),
    "fc": ("vgg", "vgg11", "vgg16"),
    "batch_norm": ("vgg", "vgg11", "vgg16"),
    "dropout": ("vgg", "vgg11", "vgg16"),
    "width": ("resnet18",),
}


def _check_models(models: Mapping[str, Any]) -> None:
    for name, spec in models.items():
        for key, archs in ARCH_KEYS.items():
            if key in spec and spec["arch"] not in archs:
                raise ConfigError(
                    f"'models.{name}.{key}' does not apply to arch {spec['arch']!r}; "
                    f"it applies to: {', '.join(archs)}"
                )


def _check_freeze(where: str, run: Mapping[str, Any], model: Mapping[str, Any]) -> None:
    from closerlook.models import layer_groups  # imports torch: only when freezing

    groups = layer_groups(model)
    for i, group in enumerate(run["freeze"]["layers"]):
        if group not in groups:
            raise ConfigError(
                f"'{where}.freeze.layers.{i}' is {group!r}, not a layer group of model "
                f"{run['model']!r}; allowed values: {', '.join(groups)}"
            )


def _check_teachers(config: dict[str, Any]) -> None:
    """Every teacher is another configured run, saved at the epoch asked for, and following
    teachers from any run never comes back to it."""
    runs = config["runs"]
    for name in runs:
        if run_config(config, name).get("distill") is None:
            continue
        where = f"runs.{name}.distill.teacher"
        t_run = run_config(config, name)["distill"]["teacher"]["run"]
        if t_run not in runs:
            raise ConfigError(f"'{where}.run' is {t_run!r}; allowed values: {', '.join(runs)}")
        _, t_epoch = teacher(config, name)  # type: ignore[misc]
        saved = checkpoint_epochs(run_config(config, t_run))
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


def _check_references(config: dict[str, Any]) -> None:
    models = config.get("models") or {}
    _check_models(models)
    for name in config["runs"]:
        run = run_config(config, name)
        where = f"runs.{name}"
        for key in ("model", "schedule"):
            if key not in run:
                raise ConfigError(
                    f"'{where}.{key}' is missing (set it in the run or in 'training')"
                )
        if run["model"] not in models:
            allowed = ", ".join(models) or "(no models defined)"
            raise ConfigError(f"'{where}.model' is {run['model']!r}; allowed values: {allowed}")
        s = run["schedule"]
        missing = [k for k in SCHEDULE_PARAMETERS[s["kind"]] if k not in s]
        if missing:
            need = ", ".join(SCHEDULE_PARAMETERS[s["kind"]])
            raise ConfigError(
                f"'{where}.schedule' of kind {s['kind']!r} needs {need}; "
                f"missing: {', '.join(missing)}"
            )
        unused = sorted(set(s) - {"kind", "per", *SCHEDULE_PARAMETERS[s["kind"]]})
        if unused:
            raise ConfigError(
                f"unknown key '{where}.schedule.{unused[0]}' for kind {s['kind']!r}; "
                f"allowed keys: kind, per, {', '.join(SCHEDULE_PARAMETERS[s['kind']])}"
            )
        if s["kind"] in ("cosine", "sgdr") and s["lr_min"] > s["lr_max"]:
            raise ConfigError(f"'{where}.schedule.lr_min' must not exceed lr_max ({s['lr_max']})")
        if run.get("freeze"):
            _check_freeze(where, run, models[run["model"]])
        late = [e for e in run["save_epochs"] if e > run["epochs"]]
        if late:
            raise ConfigError(
                f"'{where}.save_epochs' has {late[0]}; allowed: 0 to epochs ({run['epochs']})"
            )
        _check_steps(config, name, where)
    _check_teachers(config)
    _check_probe(config)
    for name in config["similarity"]["analyses"]:
        _check_analysis(config, name)
    for name, c in config["curves"]["connections"].items():
        _check_curve(config, name, c)
    _check_questions(config)
    method = config["figures"].get("method")
    if method is not None and method not in config["similarity"]["methods"]:
        raise ConfigError(
            f"'figures.method' is {method!r}, which similarity.methods does not compute; "
            f"allowed values: {', '.join(config['similarity']['methods'])}"
        )


def _check_questions(config: dict[str, Any]) -> None:
    """RQ3 names its students by role, and RQ2's deeper layers exist in its model."""
    q, analyses = config["questions"], config["similarity"]["analyses"]
    rq3 = q["rq3"]
    a = analyses.get(rq3["analysis"])
    if a is not None and a.get("kind") == "teacher_student":
        students = list(a["students"])
        for role in ("distilled", "plain"):
            key = f"questions.rq3.{role}"
            if role not in rq3:
                raise ConfigError(
                    f"'{key}' is missing; name the {role} student of analysis "
                    f"{rq3['analysis']!r}; allowed values: {', '.join(students)}"
                )
            if rq3[role] not in students:
                raise ConfigError(
                    f"'{key}' is {rq3[role]!r}, not a student of analysis "
                    f"{rq3['analysis']!r}; allowed values: {', '.join(students)}"
                )
        if rq3["distilled"] == rq3["plain"]:
            raise ConfigError(
                f"'questions.rq3.plain' is {rq3['plain']!r}, the same run as "
                f"questions.rq3.distilled; name two different students"
            )
    deeper, run = q["rq2"].get("deeper"), q["rq2"]["no_warmup"]["run"]
    if deeper is None or run not in config["runs"]:
        return
    from closerlook.models import layer_groups, layer_names

    spec = config["models"][run_config(config, run)["model"]]
    allowed = list(layer_groups(spec)) if isinstance(deeper, str) else layer_names(spec)
    for i, name in enumerate([deeper] if isinstance(deeper, str) else deeper):
        if name not in allowed:
            key = "questions.rq2.deeper" + ("" if isinstance(deeper, str) else f".{i}")
            raise ConfigError(
                f"'{key}' is {name!r}, not a layer {'group ' if isinstance(deeper, str) else ''}"
                f"of model {run_config(config, run)['model']!r}; allowed values: "
                f"{', '.join(allowed)}"
            )


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


def _check_analysis(config: dict[str, Any], name: str) -> None:
    """An analysis has the keys of its kind, names configured runs, and compares only
    epochs that those runs save."""
    a = config["similarity"]["analyses"][name]
    where = f"similarity.analyses.{name}"
    kind = a.get("kind", "within_run")
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
    if kind in ("within_run", "across_seeds") and (kind == "within_run" or "epochs" in a):
        run = run_config(config, a["run"])
        epochs = analysis_epochs(config, name)
        least = 2 if kind == "within_run" else 1
        if a.get("epochs", "cycle_ends") == "cycle_ends" and len(epochs) < least:
            raise ConfigError(
                f"'{where}.epochs' is 'cycle_ends' but run {a['run']!r} has "
                f"{len(epochs)} SGDR restart(s) in {run['epochs']} epochs; at least "
                f"{least} {'are' if least > 1 else 'is'} needed"
            )
        checks = [("epochs", a["run"], e) for e in epochs]
        checks += [("after_restart", a["run"], f) for _, f in after_restart_pairs(config, name)]
        _check_after_restart(config, name, where)
    else:
        checks = []
        for run_a, epoch_a, run_b, epoch_b in analysis_pairs(config, name):
            key_a = "teacher_epoch" if kind == "teacher_student" else "epoch"
            checks += [(key_a, run_a, epoch_a), ("epoch", run_b, epoch_b)]
    for key, run_name, point in checks:
        _check_saved(f"{where}.{key}", run_name, point, run_config(config, run_name))


def _check_saved(key: str, run_name: str, point: Point, run: Mapping[str, Any]) -> None:
    """`point` (an epoch, or a step "stepN") is a checkpoint that `run` saves."""
    if point in checkpoint_points(run):
        return
    saved = f"saved epochs: {', '.join(map(str, checkpoint_epochs(run)))}"
    steps = [step_point(n) for n in checkpoint_steps(run)]
    if steps or is_step(point):
        saved += f"; saved steps (save_iterations): {', '.join(steps) or 'none'}"
    raise ConfigError(f"'{key}' has {point}, which run {run_name!r} does not save; {saved}")


def _check_steps(config: dict[str, Any], name: str, where: str) -> None:
    """Every step of `save_iterations` is one the run takes (epochs x steps per epoch)."""
    steps = checkpoint_steps(run_config(config, name))
    if not steps:
        return
    per_epoch = steps_per_epoch(config, name)
    total = run_config(config, name)["epochs"] * per_epoch
    if steps[-1] > total:
        raise ConfigError(
            f"'{where}.save_iterations' has {steps[-1]}; allowed: 1 to the run's {total} "
            f"steps ({run_config(config, name)['epochs']} epochs of {per_epoch})"
        )


def _check_after_restart(config: dict[str, Any], name: str, where: str) -> None:
    """`after_restart` belongs to an SGDR run, and a list has one δ per restart."""
    a = config["similarity"]["analyses"][name]
    delta = a.get("after_restart")
    if delta is None:
        return
    ends = restarts(run_config(config, a["run"]))
    if not ends:
        raise ConfigError(
            f"'{where}.after_restart' needs an SGDR run with a restart before its last "
            f"epoch; run {a['run']!r} has none"
        )
    if isinstance(delta, list) and len(delta) != len(ends):
        raise ConfigError(
            f"'{where}.after_restart' has {len(delta)} values for {len(ends)} restarts "
            f"(after epochs {', '.join(map(str, ends))}); give one per restart or one number"
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
        run = run_config(config, c["run"])
        if len(cycle_ends(run)) < 2:
            raise ConfigError(
                f"'{where}.epochs' is 'last_cycle_ends' but run {c['run']!r} has "
                f"{len(cycle_ends(run))} SGDR restart(s) in {run['epochs']} epochs; at least "
                f"2 are needed (or give two saved epochs)"
            )
    ends = curve_endpoints(config, name)
    for i, (run_name, epoch) in enumerate(ends):
        saved = checkpoint_epochs(run_config(config, run_name))
        if epoch not in saved:
            key = refs[min(i, len(refs) - 1)][2]
            raise ConfigError(
                f"'{key}' has {epoch}, which run {run_name!r} does not save; "
                f"saved epochs: {', '.join(map(str, saved))}"
            )
    offsets = curve_seed_offsets(config, name)
    if ends[0] == ends[1] and offsets[0] == offsets[1]:
        raise ConfigError(
            f"'{where}' has the same endpoint twice ({ends[0][0]}, epoch {ends[0][1]}); "
            f"give two epochs, or a seed_offset to one endpoint"
        )
    model_a, model_b = (run_config(config, r)["model"] for r, _ in ends)
    if model_a != model_b:
        raise ConfigError(
            f"'{where}' joins runs of different models ({model_a!r} and {model_b!r}); "
            f"both endpoints need the same architecture"
        )
