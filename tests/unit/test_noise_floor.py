"""Similarity above its noise floor: (v − b) / (1 − b) with b the shuffled baseline.

For independent data, the raw similarity of a wide layer is far above a narrow one's (the
floor grows with width against the number of datapoints), so a raw depth contrast between
a narrow "shallow" and a wide "deeper" layer is built in before any data; the corrected
contrast is 0 up to sampling noise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from closerlook.noise_floor import corrected, has_floor
from closerlook.similarity import cca, linear_cka


def test_hand_computed_corrections():
    # (0.6 - 0.2) / 0.8 = 0.5; chance itself is 0; identity stays 1; below chance is negative
    np.testing.assert_allclose(
        corrected([0.6, 0.2, 1.0, 0.1], [0.2, 0.2, 0.2, 0.2]), [0.5, 0.0, 1.0, -0.125]
    )
    out = corrected([0.5, 0.5], [np.nan, 1.0])  # no floor, or a floor at identity: undefined
    assert np.isnan(out).all()
    assert has_floor([0.1, 0.2]) and not has_floor([0.1, np.nan]) and not has_floor([])


def _shuffled_contrast(measure, narrow: int, wide: int, n: int, seed: int = 0):
    """(raw, corrected) contrast narrow minus wide layer of two independent networks."""
    rng = np.random.default_rng(seed)
    out = []
    for width in (narrow, wide):
        x, y = rng.standard_normal((n, width)), rng.standard_normal((n, width))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = measure(x, y)
            b = measure(x, y[rng.permutation(n)])
        out.append((v, float(corrected([v], [b])[0])))
    (raw_n, cor_n), (raw_w, cor_w) = out
    return raw_n - raw_w, cor_n - cor_w


def test_linear_cka_of_a_64_and_a_4096_wide_layer_of_independent_data():
    raw, fixed = _shuffled_contrast(linear_cka, 64, 4096, n=1000)
    assert raw < -0.5  # biased CKA of 4,096 independent features on 1,000 rows: about 0.8
    assert fixed == pytest.approx(0.0, abs=0.05)


def test_mean_cca_of_a_narrow_and_a_wide_layer_of_independent_data():
    def mean_cca(x, y):
        return float(np.mean(cca(x, y)))

    raw, fixed = _shuffled_contrast(mean_cca, 64, 512, n=1000)
    assert raw < -0.2  # Wachter's law: the mean grows with width / datapoints
    assert fixed == pytest.approx(0.0, abs=0.05)
