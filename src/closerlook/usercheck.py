"""The config's own code, checked before any job runs (closerlook.config.validate): the
module file of every ``arch: python`` model and ``kind: python`` schedule found and recorded
as its ``source`` (closerlook.usercode), and every torchvision or python network built
(unallocated) on the dataset's input shape and run forward on one example, so that a
missing module, a factory that returns no ``nn.Module``, a layer or freeze path the network
does not have, an input the network cannot take, and a schedule that gives no rate fail as
one line naming the key. Configs with only built-in models and schedules import no torch
here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from closerlook import usercode
from closerlook.config import ConfigError
from closerlook.plan import DATASET_SHAPES, run_settings

USER_ARCHITECTURES = ("torchvision", "python")


def user_schedules(config: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, schedule) of every ``kind: python`` schedule written in the config."""
    places = [("training", config.get("training") or {})]
    places += [(f"runs.{name}", run) for name, run in (config.get("runs") or {}).items()]
    for where, section in places:
        schedule = section.get("schedule")
        if isinstance(schedule, dict) and schedule.get("kind") == "python":
            yield f"{where}.schedule", schedule


def fill_sources(config: dict[str, Any], search: Sequence[str | Path]) -> None:
    """Record the module file of every python model and schedule as its `source` (found in
    `search`, then on sys.path), or raise ConfigError naming the key."""
    entries = [
        (f"models.{name}", spec, "factory")
        for name, spec in (config.get("models") or {}).items()
        if spec.get("arch") == "python"
    ]
    entries += [(where, schedule, "function") for where, schedule in user_schedules(config)]
    for where, entry, key in entries:
        if key not in entry or "source" in entry:
            continue
        module, _ = usercode.split_reference(entry[key])
        path = usercode.find_source(module, search)
        if path is None:
            looked = ", ".join(map(str, search)) or "."
            raise ConfigError(
                f"'{where}.{key}' is {entry[key]!r}, but there is no {module}.py next to the "
                f"config ({looked}) or on PYTHONPATH; put it there or set {where}.source"
            )
        entry["source"] = usercode.shown_path(path)


def check_user_code(config: Mapping[str, Any]) -> None:
    """Build every user network and evaluate every user schedule (module docstring)."""
    for name, spec in (config.get("models") or {}).items():
        if spec["arch"] in USER_ARCHITECTURES:
            check_network(config, name)
    for name in config["runs"]:
        run = run_settings(config, name)
        if run.schedule["kind"] == "python":
            check_schedule(f"runs.{name}.schedule", run.schedule, run.epochs, run.warmup_epochs)
        spec = config["models"][run.model]
        if run.freeze and spec["arch"] in USER_ARCHITECTURES:
            check_freeze(config, name, run.freeze["layers"])


def _built(config: Mapping[str, Any], name: str) -> Any:
    """Model `name` built without weights on the dataset's shape; errors name the key."""
    from closerlook import models, sizes, usermodels

    spec = config["models"][name]
    in_shape, classes = DATASET_SHAPES[config["data"]["dataset"]]
    where = f"models.{name}"
    try:
        return sizes.unallocated(models.build, spec, in_shape, classes)
    except usermodels.LayerPathError as exc:
        raise ConfigError(f"'{where}.{exc.key}' {exc}") from exc
    except usercode.UserCodeError as exc:
        raise ConfigError(f"'{where}.factory': {exc}") from exc
    except Exception as exc:  # torchvision's or the user's builder may raise anything
        key = "name" if spec["arch"] == "torchvision" else "factory"
        raise ConfigError(f"'{where}.{key}': {usercode.one_line(exc)}") from exc


def check_network(config: Mapping[str, Any], name: str) -> None:
    """Model `name` builds, and takes one example of the dataset (a forward pass on the CPU
    with uninitialised weights)."""
    from closerlook import sizes

    _built(config, name)
    spec, dataset = config["models"][name], config["data"]["dataset"]
    in_shape, classes = DATASET_SHAPES[dataset]
    try:
        sizes.network_shapes(spec, in_shape, classes)
    except Exception as exc:  # the forward pass of the user's network may raise anything
        shape = "x".join(map(str, in_shape))
        raise ConfigError(
            f"'models.{name}' cannot take the {dataset} images ({shape}, C x H x W): "
            f"{usercode.one_line(exc)}"
        ) from exc


def check_freeze(config: Mapping[str, Any], run: str, layers: Sequence[str]) -> None:
    """Every frozen name of a user network's run is a layer group or a module path."""
    from closerlook import models, usermodels

    model = run_settings(config, run).model
    spec = config["models"][model]
    groups = models.layer_groups(spec)
    net = _built(config, model)
    for i, layer in enumerate(layers):
        if layer not in groups:
            try:
                usermodels.check_path(net.net, layer, f"freeze.layers.{i}")
            except usermodels.LayerPathError as exc:
                raise ConfigError(
                    f"'runs.{run}.{exc.key}' {exc} (or a group: {', '.join(groups)})"
                ) from exc


def check_schedule(where: str, schedule: Mapping[str, Any], epochs: int, warmup: float) -> None:
    """A python schedule imports and gives a finite rate ≥ 0 at the start and the middle of
    every epoch."""
    from closerlook import schedules

    try:
        lr_at = schedules.from_config(schedule, epochs, warmup)
    except usercode.UserCodeError as exc:
        raise ConfigError(f"'{where}.function': {exc}") from exc
    for t in (k / 2 for k in range(2 * epochs)):
        try:
            lr = lr_at(t)
        except Exception as exc:  # the user's function may raise anything
            raise ConfigError(
                f"'{where}.function': {schedule['function']} at epoch {t:g}: "
                f"{usercode.one_line(exc)}"
            ) from exc
        if not math.isfinite(lr) or lr < 0:
            raise ConfigError(
                f"'{where}.function': {schedule['function']} gives {lr!r} at epoch {t:g}; "
                f"a learning rate is a finite number >= 0"
            )
