"""What each rule's jobs ask a scheduler for, from the plan (closerlook.cost): the longest
job's predicted time and the largest job's host memory, times a safety factor
(`resources.safety`, default 2), on the machine `resources.calibration` describes.
A retried job asks for more time: the runtime grows with the attempt (`attempt_runtime`).
Without a calibration the rules ask nothing and the profile's requests stand; a profile's
`set-resources` overrides both (docs/architecture.md, "the plan").
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from closerlook import calibration as calibrations
from closerlook.config import ConfigError

MIN_RUNTIME_MIN = 5
MIN_MEM_MB = 1000


def calibration_path(name: str | None) -> Path:
    """A calibration file: a path, the name of one shipped in workflow/calibrations, or
    (None) the shipped default, the 2-core CPU's."""
    if not name:
        return calibrations.DEFAULT_CALIBRATION
    shipped = calibrations.SHIPPED / f"{name}.json"
    return shipped if "/" not in name and shipped.exists() else Path(name)


def configured_calibration(config: Mapping[str, Any]) -> calibrations.Calibration | None:
    """The calibration a config names (`resources.calibration`), or None."""
    name = config.get("resources", {}).get("calibration")
    if not name:
        return None
    try:
        return calibrations.load(calibration_path(name))
    except calibrations.CalibrationError as exc:
        raise ConfigError(f"'resources.calibration': {exc}") from None


def requests(seconds: float, host_bytes: int, safety: float) -> dict[str, int]:
    """runtime (minutes) and mem_mb for a job predicted to take `seconds` and `host_bytes`."""
    return {
        "runtime": max(MIN_RUNTIME_MIN, math.ceil(safety * seconds / 60)),
        "mem_mb": max(MIN_MEM_MB, math.ceil(safety * host_bytes / 1e6)),
    }


def attempt_runtime(minutes: int, attempt: int) -> int:
    """The runtime (minutes) a job asks for on its `attempt`-th try (1, 2, ...): the first
    try's times the attempt, so a retry after a time-out gets more time, not the same."""
    return minutes * max(1, attempt)


def rule_requests(config: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """rule -> {runtime, mem_mb}; empty without a configured calibration, and (with a
    warning) where the calibration lacks a model the config uses."""
    from closerlook import cost

    cal = configured_calibration(config)
    if cal is None:
        return {}
    safety = config.get("resources", {}).get("safety", 2.0)
    try:
        study = cost.study_cost(config, cal)
    except calibrations.CalibrationError as exc:
        print(f"closerlook: resources from the profile, not the plan: {exc}", file=sys.stderr)
        return {}
    summaries = {rule: r.summary() for rule, r in study.rules.items()}
    return {
        rule: requests(s["seconds_per_job"], s["peak_host_bytes"], safety)
        for rule, s in summaries.items()
    }
