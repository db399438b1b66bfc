"""The config's research questions (`questions`): the checks of what they name. RQ3 names
its students by role, RQ2's deeper layers exist in its model, and every run, analysis or
curve the config itself writes there exists (a name filled in from the schema's defaults
that is not configured leaves its figure out instead)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from closerlook.config import ConfigError
from closerlook.plan import run_settings


def check_questions(config: dict[str, Any]) -> None:
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

    model = run_settings(config, run).model
    spec = config["models"][model]
    allowed = list(layer_groups(spec)) if isinstance(deeper, str) else layer_names(spec)
    for i, name in enumerate([deeper] if isinstance(deeper, str) else deeper):
        if name not in allowed:
            key = "questions.rq2.deeper" + ("" if isinstance(deeper, str) else f".{i}")
            raise ConfigError(
                f"'{key}' is {name!r}, not a layer {'group ' if isinstance(deeper, str) else ''}"
                f"of model {model!r}; allowed values: "
                f"{', '.join(allowed)}"
            )


# What each name of `questions` refers to: (question, key) -> the config section it names.
QUESTION_NAMES = {
    ("rq1", "runs"): "runs",
    ("rq1", "restarts"): "analyses",
    ("rq1", "reference"): "analyses",
    ("rq1", "control"): "analyses",
    ("rq1", "curve"): "curves",
    ("rq1", "earlier"): "curves",
    ("rq3", "analysis"): "analyses",
    ("rq4", "independent"): "analyses",
    ("rq4", "heuristics"): "analyses",
    ("rq4", "curve"): "curves",
    ("rq4", "robustness"): "curves",
}


def configured_names(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """The names questions may refer to: section ("runs", "analyses", "curves") -> names."""
    return {
        "runs": list(config["runs"]),
        "analyses": list(config["similarity"]["analyses"]),
        "curves": list(config["curves"]["connections"]),
    }


def named_parts(questions: dict[str, Any]) -> list[tuple[tuple[str, ...], str, str]]:
    """Every run, analysis or curve `questions` names: (where, name, config section), where
    is the key path (e.g. ("rq1", "runs", "1") or ("rq2", "warmup", "run"))."""
    named: list[tuple[tuple[str, ...], str, str]] = []
    for (q, key), section in QUESTION_NAMES.items():
        value = (questions.get(q) or {}).get(key)
        if isinstance(value, list):
            named += [((q, key, str(i)), v, section) for i, v in enumerate(value)]
        elif isinstance(value, str):
            named.append(((q, key), value, section))
    for role, setup in (questions.get("rq2") or {}).items():
        if isinstance(setup, dict):
            for key, section in (("run", "runs"), ("analysis", "analyses")):
                if isinstance(setup.get(key), str):
                    named.append((("rq2", role, key), setup[key], section))
    return named


def check_question_names(config: dict[str, Any], given: dict[str, Any]) -> None:
    """Every run, analysis or curve the user's own `questions` name exists (a name filled
    in from the schema's defaults that is not configured leaves its figure out instead)."""
    names = configured_names(config)
    for where, name, section in named_parts(given):
        if name not in names[section]:
            what = {"runs": "run", "analyses": "similarity analysis", "curves": "curve"}[section]
            raise ConfigError(
                f"'questions.{'.'.join(where)}' is {name!r}, not a configured {what}; "
                f"allowed values: {', '.join(names[section]) or '(none configured)'}"
            )
