"""Checkpoint points: where in a run's training a checkpoint is taken.

A point is either

- an epoch end, the int ``e >= 0``: the weights after ``e`` epochs (0 is the
  initialisation; `save_epochs`, SGDR cycle ends and the last epoch), or
- an optimizer step, the text ``"stepN"`` with ``N >= 1``: the weights right after the
  N-th SGD step counted from the start of training (1-based), usually mid-epoch (a run's
  `save_iterations`).

Configs (`similarity.analyses.<name>.epochs`), the epoch_a/epoch_b columns of the tidy
similarity tables and the provenance of activation files hold points in this form. File
names pad them: ``checkpoints/epoch020.pt`` and ``checkpoints/step000200.pt`` (likewise
``activations/*.h5``); pair tables name them ``e020`` and ``step000200``
(``run.e000--run.step000200.csv``). Nothing here imports torch.
"""

from __future__ import annotations

import numbers
import re

# An epoch (int) or a step ("step200").
Point = int | str

STEP_PREFIX = "step"
_STEP = re.compile(r"^step0*([1-9][0-9]*)$")
_EPOCH = re.compile(r"^(?:epoch|e)?([0-9]+)$")


def step_point(n: int) -> str:
    """The point after the n-th optimizer step (1-based): "step200"."""
    if int(n) < 1:
        raise ValueError(f"a step point counts steps from 1, not {n!r}")
    return f"{STEP_PREFIX}{int(n)}"


def is_step(point: object) -> bool:
    """Whether `point` names an optimizer step ("step200", also padded "step000200")."""
    return isinstance(point, str) and _STEP.match(point) is not None


def step_number(point: str) -> int:
    """N of the step point "stepN"."""
    m = _STEP.match(point) if isinstance(point, str) else None
    if m is None:
        raise ValueError(f"{point!r} is not a step point (stepN with N >= 1)")
    return int(m.group(1))


def parse(value: object) -> Point:
    """The point that a config, a table cell, a file-name tag or an HDF5 attribute holds:
    an epoch as an int or digits (20, "20", "020", "e020", "epoch020"; numpy ints too), or a
    step "stepN" (also "step000200", returned as "step200"). Anything else: ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a checkpoint point")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)  # an epoch column read as floats
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        if is_step(text):
            return step_point(step_number(text))
        m = _EPOCH.match(text)
        if m is not None:
            return int(m.group(1))
    raise ValueError(f"{value!r} is not a checkpoint point (an epoch >= 0 or stepN, N >= 1)")


def file_tag(point: Point) -> str:
    """The file stem of a point's checkpoint and activation file: epoch020, step000200."""
    point = parse(point)
    if is_step(point):
        return f"{STEP_PREFIX}{step_number(point):06d}"
    return f"epoch{point:03d}"


def pair_tag(point: Point) -> str:
    """A point in a pair table's name: e020 for an epoch, step000200 for a step."""
    point = parse(point)
    return file_tag(point) if is_step(point) else f"e{point:03d}"


def label(point: Point) -> str:
    """A point in figure labels and log lines: "epoch 20", "step 200"."""
    point = parse(point)
    return f"step {step_number(point)}" if is_step(point) else f"epoch {point}"


def pair_label(a: Point, b: Point) -> str:
    """Two points compared: "epoch 0 vs 20", "epoch 0 vs step 200", "step 100 vs 200"."""
    a, b = parse(a), parse(b)
    second = label(b) if is_step(a) != is_step(b) else label(b).split(" ", 1)[1]
    return f"{label(a)} vs {second}"
