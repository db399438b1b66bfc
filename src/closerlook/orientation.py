"""Which way round the similarity measures take their inputs: rows are examples
(datapoints), columns are neurons (features), i.e. (N, features), as closerlook's
activation files and Kornblith et al. (2019)'s CKA code hold them.

google/svcca's `cca_core.get_cca_similarity` takes the transpose, neurons × datapoints.
Passed here, such inputs give a different and wrong number without an error (svcca of
a (500, 64) pair and of its transposes differ), so the public measures check the shapes:

- inputs with different numbers of rows are refused, and the message says which side
  looks transposed when the shapes say so;
- a CCA measure (cca, svcca, pwcca) warns with :class:`OrientationWarning` when both
  inputs have more columns than rows: fewer examples than neurons is google/svcca's
  layout (and leaves CCA nothing to estimate). CKA and Procrustes take wide inputs by
  design (flattened conv maps), so a transposed pair cannot be told there by its shape.
"""

from __future__ import annotations

import warnings

LAYOUT = "rows are examples (datapoints) and columns neurons (features)"
GOOGLE = "google/svcca's neurons × datapoints layout"


class OrientationWarning(UserWarning):
    """An input looks transposed (neurons × datapoints)."""


def row_mismatch(x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> str:
    """The message for inputs whose row counts differ, naming a side that looks transposed."""
    message = f"x has {x_shape[0]} rows but y has {y_shape[0]}; {LAYOUT}"
    if len(x_shape) != 2 or len(y_shape) != 2:
        return message
    if x_shape[1] == y_shape[1]:
        return f"{message}: both look transposed ({GOOGLE}); pass x.T and y.T"
    # a side whose columns match the other's rows, the wider one where both do
    sides = [("x", x_shape, y_shape), ("y", y_shape, x_shape)]
    fits = [(mine[1] > mine[0], side) for side, mine, other in sides if mine[1] == other[0]]
    if not fits:
        return message
    side = max(fits)[1]
    return f"{message}: {side} looks transposed ({GOOGLE}); pass {side}.T"


def check_rows(x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> None:
    """Refuse (ValueError, one line) inputs with different numbers of rows."""
    if x_shape[0] != y_shape[0]:
        raise ValueError(row_mismatch(x_shape, y_shape))


def check_cca(x_shape: tuple[int, ...], y_shape: tuple[int, ...], stacklevel: int = 4) -> None:
    """The inputs of a CCA measure: same rows, and a warning when both are wider than tall."""
    check_rows(x_shape, y_shape)
    if x_shape[1] > x_shape[0] and y_shape[1] > y_shape[0]:
        warnings.warn(
            f"the inputs look transposed: {x_shape[0]} rows and {x_shape[1]}, {y_shape[1]} "
            f"columns, fewer examples than neurons, as in {GOOGLE}; {LAYOUT}, so pass x.T "
            "and y.T (if these really are examples, CCA has too few of them to estimate)",
            OrientationWarning,
            stacklevel=stacklevel,
        )
