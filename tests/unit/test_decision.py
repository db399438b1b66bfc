"""The decision rule on hand-computed intervals: the standard reading of a 95% interval."""

from __future__ import annotations

import math

import pytest

from closerlook.decision import (
    CONTRADICTS,
    INCONCLUSIVE,
    NONINFERIOR,
    POSITIVE,
    SUPPORTS,
    Rule,
    decide,
)

GAIN = Rule(POSITIVE, 0.02)
ON_PAR = Rule(NONINFERIOR, 0.02)
T_975_2 = 4.302653  # t quantile, 2 degrees of freedom


def verdict(effects, test) -> str:
    return decide(dict(enumerate(effects)), test, "yes", "no").verdict


def test_the_interval_is_the_student_t_interval_over_seeds():
    # mean 0.12, s = 0.02: half width 4.302653 * 0.02 / sqrt(3) = 0.0497
    d = decide({0: 0.10, 1: 0.12, 2: 0.14}, GAIN, "gain", "loss")
    assert d.verdict == SUPPORTS and (d.seeds_supporting, d.n_seeds) == (3, 3)
    assert d.effect.half_width == pytest.approx(T_975_2 * 0.02 / math.sqrt(3), rel=1e-6)
    assert "+0.120 [0.070, 0.170]" in d.reason


def test_the_readme_example_contains_zero_and_is_inconclusive():
    # 0.10, 0.02, 0.06: mean 0.06, s = 0.04, interval 0.06 -+ 0.0994 = [-0.039, 0.159]
    d = decide({0: 0.10, 1: 0.02, 2: 0.06}, GAIN, "gain", "loss")
    assert (d.effect.low, d.effect.high) == pytest.approx((-0.0394, 0.1594), abs=1e-4)
    assert d.verdict == INCONCLUSIVE and "contains 0" in d.reason
    assert d.seeds_supporting == 2  # 0.02 itself does not pass the margin


def test_an_interval_containing_zero_is_inconclusive_even_with_the_mean_past_the_margin():
    # the old, lenient rule supported [-0.01, +0.10]; the standard reading does not
    d = decide({0: 0.09, 1: 0.0, 2: 0.045}, GAIN, "gain", "loss")
    assert d.effect.mean > 0.02 and d.effect.low < 0 < d.effect.high
    assert d.verdict == INCONCLUSIVE


def test_an_interval_wholly_below_the_margin_contradicts_a_positive_claim():
    # mean 0.005, s = 0.001: [0.0025, 0.0075] lies above 0 but wholly below +0.02
    assert verdict([0.004, 0.005, 0.006], GAIN) == CONTRADICTS
    assert verdict([-0.10, -0.12, -0.14], GAIN) == CONTRADICTS
    # above 0 but reaching past the margin, with the mean within it: undecided
    d = decide({0: 0.001, 1: 0.019, 2: 0.03}, GAIN, "gain", "loss")
    assert d.effect.low < 0.02 < d.effect.high and d.verdict == INCONCLUSIVE


def test_an_interval_above_zero_with_the_mean_past_the_margin_supports():
    # mean 0.05, s = 0.005: [0.0376, 0.0624]
    assert verdict([0.045, 0.05, 0.055], GAIN) == SUPPORTS


def test_non_inferiority_both_ways():
    # mean -0.01, s = 0.001: [-0.0125, -0.0075] lies above -0.02: on par
    assert verdict([-0.011, -0.01, -0.009], ON_PAR) == SUPPORTS
    # mean -0.05, s = 0.001: wholly below -0.02
    assert verdict([-0.051, -0.05, -0.049], ON_PAR) == CONTRADICTS
    # mean -0.02, s = 0.01: [-0.045, 0.005] contains -0.02
    d = decide({0: -0.03, 1: -0.02, 2: -0.01}, ON_PAR, "on par", "worse")
    assert d.verdict == INCONCLUSIVE and "contains -0.02" in d.reason


def test_one_seed_decides_on_its_value_against_the_margin():
    assert verdict([0.03], GAIN) == SUPPORTS
    assert verdict([0.01], GAIN) == CONTRADICTS  # below +margin: no relevant effect
    assert verdict([0.02], GAIN) == INCONCLUSIVE  # on the margin itself
    assert verdict([-0.01], ON_PAR) == SUPPORTS
    assert verdict([-0.03], ON_PAR) == CONTRADICTS
    d = decide({0: 0.03}, GAIN, "gain", "loss")
    assert d.one_seed and math.isnan(d.effect.low)


def test_a_zero_margin_reads_the_sign():
    at_zero = Rule(POSITIVE, 0.0)
    assert verdict([0.5, 0.6, 0.7], at_zero) == SUPPORTS
    assert verdict([-0.5, -0.6, -0.7], at_zero) == CONTRADICTS
    assert verdict([-0.5, 0.6, 0.1], at_zero) == INCONCLUSIVE


def test_a_nan_decides_nothing_and_names_the_seed():
    d = decide({0: 0.1, 1: math.nan}, GAIN, "gain", "loss")
    assert d.verdict == INCONCLUSIVE and "NaN (seed 1)" in d.reason


def test_outright_supports_count_and_stay_out_of_the_interval():
    d = decide({0: math.inf, 1: 0.05, 2: 0.06}, GAIN, "gain", "loss", outright="diverged")
    assert d.seeds_supporting == 3 and d.effect.n == 2
    d = decide({0: math.inf}, GAIN, "gain", "loss", outright="diverged in epoch 1")
    assert (d.verdict, d.effect, d.reason) == (SUPPORTS, None, "diverged in epoch 1")
    # an outright support beside seeds that contradict: undecided
    d = decide({0: math.inf, 1: -0.1, 2: -0.12}, GAIN, "gain", "loss", outright="diverged")
    assert d.verdict == INCONCLUSIVE and d.reason.startswith("diverged, but the others show")
