"""The study's configuration: read, checked against the JSON schema, defaults filled in.

A config is checked in two passes before any job runs:

1. the JSON schema (`workflow/schemas/config.schema.yaml`): types, ranges, unknown keys,
   and every default (:func:`fill_defaults`; nothing else repeats them);
2. the cross-references the schema cannot express (closerlook.checks).

Every failure is a :class:`ConfigError` whose message names the key and what is allowed.
What the config asks each job to do is derived by closerlook.plan.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


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
    if v == "type" and error.validator_value == "object" and error.schema.get("properties"):
        keys = ", ".join(sorted(error.schema["properties"]))
        return f"'{_key_path(where)}' is {error.instance!r}, not a mapping; give its keys: {keys}"
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
    mapping whose default is a mapping gains the default's missing keys; list items take
    the defaults of `items`)."""
    schema = _resolve_ref(schema, root)
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            fill_defaults(item, schema["items"], root)
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


def validate(
    config: Mapping[str, Any],
    schema: Mapping[str, Any] | None = None,
    search: Sequence[str | Path] = (".",),
) -> dict[str, Any]:
    """Return a validated copy of `config` with defaults filled in, or raise ConfigError.
    The module files of python models and schedules are looked for in `search` (the config
    files' folders), then on sys.path (closerlook.usercheck)."""
    schema = schema or load_schema()
    config = copy.deepcopy(dict(config))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError(_describe(errors[0]))
    given = copy.deepcopy(config.get("questions") or {})  # what the user wrote, not defaults
    fill_defaults(config, schema, schema)
    from closerlook.checks import check_references  # checks read the plan, which reads this
    from closerlook.usercheck import check_user_code, fill_sources

    fill_sources(config, search)
    check_references(config, given)
    check_user_code(config)
    return config


def read(path: str | Path) -> dict[str, Any]:
    """A YAML config file's mapping, not yet validated."""
    with open(path) as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return raw


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a YAML config file."""
    return load_all([path])


def overlay(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` merged into `base` as Snakemake merges config files given one after another:
    mappings key by key, anything else (lists too) replaced."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = overlay(dict(out[key]), value)
        else:
            out[key] = value
    return out


def load_all(paths: Sequence[str | Path]) -> dict[str, Any]:
    """Config files merged in order (a preset and its overlays), then validated."""
    merged: dict[str, Any] = {}
    for path in paths:
        merged = overlay(merged, read(path))
    from closerlook.usercode import search_folders

    return validate(merged, search=search_folders(paths))


def config_hash(obj: Any) -> str:
    """SHA-256 (first 16 hex digits) of a JSON-serialisable object, keys sorted."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
