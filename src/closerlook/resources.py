"""What each rule's jobs ask a scheduler for, from the plan (closerlook.cost): the longest
job's predicted time and the largest job's host memory, times a safety factor
(`resources.safety`, default 2), on the machine `resources.calibration` describes.
Without a calibration the rules ask nothing and the profile's requests stand; a profile's
`set-resources` still overrides both (docs/architecture.md, "the plan").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from closerlook import calibration as calibrations
from closerlook.config import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "workflow/calibrations"
DEFAULT_CALIBRATION = SHIPPED / "cpu-2core.json"
MIN_RUNTIME_MIN = 5
MIN_MEM_MB = 1000


def configured_calibration(config: Mapping[str, Any]) -> calibrations.Calibration | None:
    """The calibration a config names (`resources.calibration`), or None."""
    path = config.get("resources", {}).get("calibration")
    if not path:
        return None
    try:
        return calibrations.load(path)
    except calibrations.CalibrationError as exc:
        raise ConfigError(f"'resources.calibration': {exc}") from None


def rule_requests(config: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """rule -> {runtime (minutes), mem_mb}; empty without a configured calibration."""
    from closerlook import cost

    cal = configured_calibration(config)
    if cal is None:
        return {}
    safety = config.get("resources", {}).get("safety", 2.0)
    try:
        study = cost.study_cost(config, cal)
    except calibrations.CalibrationError as exc:
        raise ConfigError(f"'resources.calibration': {exc}") from None
    out = {}
    for rule, r in study.rules.items():
        s = r.summary()
        out[rule] = {
            "runtime": max(MIN_RUNTIME_MIN, math.ceil(safety * s["seconds_per_job"] / 60)),
            "mem_mb": max(MIN_MEM_MB, math.ceil(safety * s["peak_host_bytes"] / 1e6)),
        }
    return out
