"""The questions as findings and figures read them: the config's `questions` with what they
name resolved — RQ1's accuracy epochs and its restart and drop windows, RQ2's deeper layers
and instability window, and the depth partitions of every depth question
(docs/architecture.md, findings).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from closerlook.plan import resolve_epoch, run_settings, window_pairs


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
    from closerlook.models import layer_groups  # torch: only where the groups are read

    return layer_groups(config["models"][run_settings(config, run).model])[deeper]


def resolved_questions(config: Mapping[str, Any]) -> dict[str, Any]:
    """The questions with what findings and figures need resolved: RQ1's accuracy epoch per
    run (`rq1.read_epochs`) and its restart and drop windows, RQ2's deeper layers by name
    (`rq2.deeper_layers`) and instability window, and the depth partitions (`partitions`)."""
    from closerlook import instability, partitions  # they read the models' layers

    q = copy.deepcopy(dict(config["questions"]))
    rq1, epoch, named = q["rq1"], q["rq1"]["epoch"], config["similarity"]["analyses"]
    runs = [r for r in rq1["runs"] if r in config["runs"]]
    rq1["read_epochs"] = {r: resolve_epoch(config, r, epoch) for r in runs}
    for key, part, window in (
        ("restart_windows", "restarts", "after_restart"),
        ("drop_windows", "control", "after_drop"),
    ):
        name = rq1.get(part)
        rq1[key] = window_pairs(config, name, window) if name in named else None
    q["rq2"]["deeper_layers"] = deeper_layers(config)
    q["rq2"]["window"] = instability.resolve_window(config)
    q["partitions"] = partitions.resolve(config)
    return q
