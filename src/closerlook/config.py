"""The study's configuration: schema validation with defaults, and the derived plan.

A config is checked in two passes before any job runs:

1. the JSON schema (`workflow/schemas/config.schema.yaml`): types, ranges, unknown keys;
2. the cross-references the schema cannot express: a run's model exists, a schedule has
   the parameters its kind needs, an analysis names a run and epochs that are saved.

Every failure is a :class:`ConfigError` whose message names the key and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from closerlook import schedules

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# Parameters each schedule kind needs (schema keys of `$defs/schedule`).
SCHEDULE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "constant": ("lr",),
    "step": ("lr", "milestones", "gamma"),
    "cosine": ("lr_max", "lr_min"),
    "sgdr": ("lr_max", "lr_min", "T0", "T_mult"),
}


class ConfigError(ValueError):
    """A configuration value that closerlook cannot run with; the message names the key."""


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


def model_config(config: Mapping[str, Any], run: str) -> dict[str, Any]:
    return copy.deepcopy(config["models"][run_config(config, run)["model"]])


def checkpoint_epochs(run: Mapping[str, Any]) -> list[int]:
    """Epochs whose weights a run saves: 0 (initialisation), `save_epochs`, the end of every
    SGDR cycle, and the last epoch."""
    epochs = {0, run["epochs"], *(e for e in run.get("save_epochs", []) if e <= run["epochs"])}
    epochs.update(cycle_ends(run))
    return sorted(epochs)


def cycle_ends(run: Mapping[str, Any]) -> list[int]:
    """The SGDR restarts of a run (empty for other schedules)."""
    s = run["schedule"]
    if s["kind"] != "sgdr":
        return []
    return schedules.sgdr_cycle_ends(s["T0"], s["T_mult"], run["epochs"])


# Keys each analysis kind needs and allows (schema keys of `$defs/analysis`).
ANALYSIS_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "within_run": (("run",), ("epochs",)),
    "across_runs": (("runs",), ("epoch",)),
    "teacher_student": (("teacher", "students"), ("epoch", "teacher_epoch")),
}


def analysis_epochs(config: Mapping[str, Any], name: str) -> list[int]:
    """The saved epochs a within-run analysis compares, in order."""
    a = config["similarity"]["analyses"][name]
    run = run_config(config, a["run"])
    if a.get("epochs", "cycle_ends") == "cycle_ends":
        return cycle_ends(run)
    if a["epochs"] == "saved":
        return checkpoint_epochs(run)
    return list(a["epochs"])


def _epoch_of(config: Mapping[str, Any], run: str, epoch: int | str) -> int:
    """An analysis epoch for one run: an integer, or "last" for the run's final epoch."""
    return run_config(config, run)["epochs"] if epoch == "last" else int(epoch)


def analysis_pairs(config: Mapping[str, Any], name: str) -> list[tuple[str, int, str, int]]:
    """(run_a, epoch_a, run_b, epoch_b) for each comparison of an analysis:

    - within_run: consecutive checkpoints of its run;
    - across_runs: every pair of its runs (in the order listed) at one epoch;
    - teacher_student: the teacher against each student.
    """
    a = config["similarity"]["analyses"][name]
    kind = a.get("kind", "within_run")
    if kind == "within_run":
        epochs = analysis_epochs(config, name)
        return [(a["run"], e, a["run"], f) for e, f in zip(epochs, epochs[1:], strict=False)]
    epoch = a.get("epoch", "last")
    if kind == "across_runs":
        runs = list(a["runs"])
        return [
            (r, _epoch_of(config, r, epoch), s, _epoch_of(config, s, epoch))
            for i, r in enumerate(runs)
            for s in runs[i + 1 :]
        ]
    if kind == "teacher_student":
        t = a["teacher"]
        te = _epoch_of(config, t, a.get("teacher_epoch", "last"))
        return [(t, te, s, _epoch_of(config, s, epoch)) for s in a["students"]]
    raise ConfigError(
        f"'similarity.analyses.{name}.kind' is {kind!r}; allowed values: {', '.join(ANALYSIS_KEYS)}"
    )


def config_hash(obj: Any) -> str:
    """SHA-256 (first 16 hex digits) of a JSON-serialisable object, keys sorted."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _check_references(config: dict[str, Any]) -> None:
    models = config.get("models") or {}
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
        late = [e for e in run["save_epochs"] if e > run["epochs"]]
        if late:
            raise ConfigError(
                f"'{where}.save_epochs' has {late[0]}; allowed: 0 to epochs ({run['epochs']})"
            )
    for name in config["similarity"]["analyses"]:
        _check_analysis(config, name)


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
        "across_runs": [(f"runs.{i}", r) for i, r in enumerate(a.get("runs", []))],
        "teacher_student": [("teacher", a.get("teacher"))]
        + [(f"students.{i}", r) for i, r in enumerate(a.get("students", []))],
    }[kind]
    for key, run in named:
        if run not in runs:
            raise ConfigError(f"'{where}.{key}' is {run!r}; allowed values: {', '.join(runs)}")
    if kind == "within_run":
        run = run_config(config, a["run"])
        epochs = analysis_epochs(config, name)
        if a.get("epochs", "cycle_ends") == "cycle_ends" and len(epochs) < 2:
            raise ConfigError(
                f"'{where}.epochs' is 'cycle_ends' but run {a['run']!r} has "
                f"{len(epochs)} SGDR restart(s) in {run['epochs']} epochs; at least 2 are needed"
            )
        checks = [("epochs", a["run"], e) for e in epochs]
    else:
        checks = []
        for run_a, epoch_a, run_b, epoch_b in analysis_pairs(config, name):
            key_a = "teacher_epoch" if kind == "teacher_student" else "epoch"
            checks += [(key_a, run_a, epoch_a), ("epoch", run_b, epoch_b)]
    for key, run_name, epoch in checks:
        saved = checkpoint_epochs(run_config(config, run_name))
        if epoch not in saved:
            raise ConfigError(
                f"'{where}.{key}' has {epoch}, which run {run_name!r} does not save; "
                f"saved epochs: {', '.join(map(str, saved))}"
            )
