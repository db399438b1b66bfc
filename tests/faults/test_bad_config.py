"""Random wrong configs: every one is refused by `closerlook.config.validate` (what the
Snakefile runs before any job) with a one-line ConfigError naming the key."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closerlook import config, plan

from jobs import reduced_config
from support import config_error, run_snakemake

SCHEMA = config.load_schema()
CASES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON_TYPES = {
    "string": st.text(max_size=5),
    "integer": st.integers(-5, 5),
    "number": st.floats(-5, 5, allow_nan=False).filter(lambda x: x != int(x)),
    "boolean": st.booleans(),
    "array": st.lists(st.integers(0, 3), max_size=2),
    "object": st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=1),
    "null": st.none(),
}


@pytest.fixture(scope="module")
def base(embedded_config) -> dict:
    return reduced_config(embedded_config)


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        node: Any = SCHEMA
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def places(cfg: Any, schema: dict, path: tuple = ()):
    """(path, schema) of every value present in `cfg`, with the schema that governs it."""
    schema = resolve(schema)
    yield path, schema
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key in schema.get("properties", {}):
                yield from places(value, schema["properties"][key], (*path, key))
            elif isinstance(schema.get("additionalProperties"), dict):
                yield from places(value, schema["additionalProperties"], (*path, key))
    elif isinstance(cfg, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(cfg):
            yield from places(value, schema["items"], (*path, i))


def typed(schema: dict) -> list[str]:
    t = schema.get("type")
    return [t] if isinstance(t, str) else list(t or [])


def set_at(cfg: dict, path: tuple, value: Any) -> dict:
    cfg = copy.deepcopy(cfg)
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return cfg


def refused(cfg: dict, *named: str) -> str:
    """The one-line message validate gives `cfg`; it names every string in `named`."""
    message = config_error(cfg, SCHEMA)
    for name in named:
        assert name in message, (name, message)
    return message


def dotted(path: tuple) -> str:
    return ".".join(map(str, path))


@CASES
@given(data=st.data())
def test_a_value_of_the_wrong_type_names_its_key(base, data):
    candidates = [(p, s) for p, s in places(base, SCHEMA) if p and typed(s)]
    path, schema = data.draw(st.sampled_from(candidates), label="key")
    allowed = set(typed(schema)) | ({"number"} if "integer" in typed(schema) else set())
    allowed |= {"integer"} if "number" in allowed else set()
    wrong = data.draw(st.sampled_from(sorted(set(JSON_TYPES) - allowed)), label="type")
    refused(set_at(base, path, data.draw(JSON_TYPES[wrong], label="value")), dotted(path))


@CASES
@given(data=st.data())
def test_a_number_out_of_range_names_its_key(base, data):
    bounds = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
    candidates = [(p, s) for p, s in places(base, SCHEMA) if p and any(b in s for b in bounds)]
    path, schema = data.draw(st.sampled_from(candidates), label="key")
    bound = data.draw(st.sampled_from([b for b in bounds if b in schema]), label="bound")
    exclusive = bound.startswith("exclusive")
    beyond = (
        st.integers(0 if exclusive else 1, 100)
        if "integer" in typed(schema)
        else (st.floats(0 if exclusive else 1e-3, 100))
    )
    offset = data.draw(beyond, label="beyond the bound")
    value = schema[bound] - offset if "inimum" in bound else schema[bound] + offset
    refused(set_at(base, path, value), dotted(path))


@CASES
@given(data=st.data(), key=st.text(min_size=1, max_size=12))
def test_an_unknown_key_is_named(base, data, key):
    closed = [
        p
        for p, s in places(base, SCHEMA)
        if s.get("additionalProperties") is False and key not in s.get("properties", {})
    ]
    path = data.draw(st.sampled_from(closed), label="where")
    node = base
    for part in path:
        node = node[part]
    cfg = set_at(base, (*path, key), 1) if path else {**copy.deepcopy(base), key: 1}
    message = refused(cfg, "unknown key")
    assert dotted((*path, key)).replace("\n", "\\n").replace("\r", "\\r") in message


# ------------------------------------------------------------------------- references
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=10)


@CASES
@given(name=names, which=st.sampled_from(["step", "sgdr", "teacher", "student_distill"]))
def test_a_run_of_a_model_that_does_not_exist(base, name, which):
    if name in base["models"]:
        return
    refused(set_at(base, ("runs", which, "model"), name), f"runs.{which}.model", repr(name))


@CASES
@given(name=names)
def test_a_teacher_that_is_not_a_run(base, name):
    if name in base["runs"]:
        return
    path = ("runs", "student_distill", "distill", "teacher", "run")
    refused(set_at(base, path, name), dotted(path))


@CASES
@given(epoch=st.integers(0, 50))
def test_a_teacher_epoch_that_is_not_saved(base, epoch):
    saved = plan.checkpoint_epochs(plan.run_settings(config.validate(base, SCHEMA), "teacher"))
    path = ("runs", "student_distill", "distill", "teacher", "epoch")
    if epoch in saved:
        config.validate(set_at(base, path, epoch), SCHEMA)
    else:
        refused(set_at(base, path, epoch), dotted(path), "does not save")


@CASES
@given(length=st.integers(1, 5), closing=st.data())
def test_a_teacher_that_is_a_student_of_its_student(base, length, closing):
    """Runs r0 <- r1 <- ... (each distilled from the next); the last one's teacher is one
    of the chain: a cycle, however long, is refused naming a teacher key."""
    cfg = copy.deepcopy(base)
    chain = [f"r{i}" for i in range(length)]
    for i, name in enumerate(chain):
        cfg["runs"][name] = {
            "schedule": {"kind": "constant", "lr": 0.1},
            "distill": {"teacher": {"run": chain[i + 1] if i + 1 < length else "teacher"}},
        }
    back = closing.draw(st.sampled_from(chain), label="teacher of the last")
    cfg["runs"][chain[-1]]["distill"]["teacher"]["run"] = back
    message = refused(cfg, "cycle of teachers", ".distill.teacher.run")
    assert message.split("'")[1].startswith("runs.r")


@CASES
@given(data=st.data())
def test_an_analysis_or_curve_of_a_missing_run_or_unsaved_epoch(base, data):
    valid = config.validate(base, SCHEMA)
    cases = {  # (key, wrong value or None for an epoch, runs whose saved epochs apply)
        "analysis run": (("similarity", "analyses", "sgdr_restarts", "run"), "ghost", []),
        "analysis epochs": (("similarity", "analyses", "step_decay", "epochs"), None, ["step"]),
        "across runs": (
            ("similarity", "analyses", "sgdr_vs_step", "runs"),
            ["sgdr", "ghost"],
            [],
        ),
        "across epoch": (
            ("similarity", "analyses", "sgdr_vs_step", "epoch"),
            None,
            ["sgdr", "step"],
        ),
        "curve run": (("curves", "connections", "sgdr_restarts", "run"), "ghost", []),
        "curve epochs": (("curves", "connections", "sgdr_restarts", "epochs"), None, ["sgdr"]),
    }
    label = data.draw(st.sampled_from(sorted(cases)), label="case")
    path, value, runs = cases[label]
    if value is None:
        saved = [set(plan.checkpoint_epochs(plan.run_settings(valid, r))) for r in runs]
        both = set.intersection(*saved)
        bad = data.draw(st.integers(0, 40).filter(lambda e: e not in both), label="epoch")
        value = {"epoch": bad}.get(path[-1], [min(both), bad])
    refused(set_at(base, path, value), dotted(path))


def test_probe_sets_that_do_not_fit_their_split(base):
    sizes = {"train": 1347, "val": 450}  # digits at val_fraction 0.25
    for split, n in sizes.items():
        cfg = set_at(set_at(base, ("probe", "split"), split), ("probe", "size"), n)
        config.validate(cfg, SCHEMA)
        refused(set_at(cfg, ("probe", "size"), n + 1), "probe.size", f"has {n} images")
    refused(set_at(base, ("probe", "size"), 0), "probe.size")
    cifar = set_at(base, ("data",), {"dataset": "cifar10"})
    refused(
        set_at(cifar, ("probe", "size"), 10_001) | {"probe": {"split": "val", "size": 10_001}},
        "probe.size",
        "10000",
    )


@pytest.mark.slow
def test_snakemake_refuses_a_bad_config_before_any_job(repo, tmp_path, base, snakemake_env):
    bad = set_at(base, ("runs", "student_distill", "distill", "teacher", "run"), "student_plain")
    bad["runs"]["student_plain"]["distill"] = {"teacher": {"run": "student_distill"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(bad))
    env = {**snakemake_env, "PYTHONPATH": str(repo / "src")}
    result = run_snakemake(tmp_path, env, cores=1, timeout=300)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "cycle of teachers" in line]
    assert lines and "runs.student_" in lines[0] and "distill.teacher.run" in lines[0]
    assert not (tmp_path / "results").exists()
