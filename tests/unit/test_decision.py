"""The decision rule on hand-computed intervals: the standard reading of a 95% interval."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from closerlook.decision import (
    CONTRADICTS,
    INCONCLUSIVE,
    NONINFERIOR,
    NOT_TESTABLE,
    POSITIVE,
    SUPPORTS,
    VERDICTS,
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


EPS = 1e-9

# one seed decides only farther than m from the bound b: above b + m, below b - m
ONE_SEED_CASES = [
    # positive claim, m = 0.02: bound 0, supports above +0.02, contradicts below -0.02
    (GAIN, 0.02 + EPS, SUPPORTS),
    (GAIN, 0.02, INCONCLUSIVE),
    (GAIN, 0.004, INCONCLUSIVE),  # points the claimed way, but within the margin
    (GAIN, 0.0, INCONCLUSIVE),
    (GAIN, -0.02, INCONCLUSIVE),
    (GAIN, -0.02 - EPS, CONTRADICTS),
    # non-inferiority, m = 0.02: bound -0.02, supports above 0, contradicts below -0.04
    (ON_PAR, EPS, SUPPORTS),
    (ON_PAR, 0.0, INCONCLUSIVE),
    (ON_PAR, -0.02, INCONCLUSIVE),
    (ON_PAR, -0.04, INCONCLUSIVE),
    (ON_PAR, -0.04 - EPS, CONTRADICTS),
    # m = 0: the sign decides, exactly 0 is undecided
    (Rule(POSITIVE, 0.0), EPS, SUPPORTS),
    (Rule(POSITIVE, 0.0), 0.0, INCONCLUSIVE),
    (Rule(POSITIVE, 0.0), -EPS, CONTRADICTS),
    (Rule(NONINFERIOR, 0.0), EPS, SUPPORTS),
    (Rule(NONINFERIOR, 0.0), 0.0, INCONCLUSIVE),
    (Rule(NONINFERIOR, 0.0), -EPS, CONTRADICTS),
]


@pytest.mark.parametrize(("rule", "x", "expected"), ONE_SEED_CASES)
def test_one_seed_decides_only_farther_than_the_margin_from_the_bound(rule, x, expected):
    assert rule.point(x) == expected
    d = decide({0: x}, rule, "yes", "no")
    assert d.verdict == expected and d.one_seed and math.isnan(d.effect.low)


def test_one_seed_reasons_name_the_threshold():
    d = decide({0: 0.004}, GAIN, "gain", "loss")
    assert d.reason == (
        "1 seed: +0.004 lies within 0.02 of the bound 0 "
        "(supports above +0.02, contradicts below -0.02)"
    )
    assert decide({0: 0.03}, GAIN, "gain", "loss").reason.startswith(
        "gain: +0.030 (1 seed: value above +0.02"
    )
    assert (
        decide({0: -0.03}, GAIN, "gain", "loss").reason
        == "loss: -0.030 (1 seed: value below -0.02)"
    )
    assert "value above 0" in decide({0: 0.01}, ON_PAR, "on par", "worse").reason
    assert decide({0: -0.05}, ON_PAR, "on par", "worse").reason.endswith(
        "(1 seed: value below -0.04)"
    )
    assert "within 0.02 of the bound -0.02" in decide({0: -0.03}, ON_PAR, "on par", "worse").reason
    assert "lies on the bound 0" in decide({0: 0.0}, Rule(POSITIVE, 0.0), "yes", "no").reason
    assert "+0.02" in GAIN.condition(one_seed=True) and "bound 0" in GAIN.condition(one_seed=True)


def test_seeds_support_on_their_own_by_the_one_seed_rule():
    # on par: -0.01 lies within the margin of -0.02, 0.01 passes 0: one of three
    d = decide({0: -0.01, 1: 0.01, 2: -0.005}, ON_PAR, "on par", "worse")
    assert d.seeds_supporting == 1


def test_the_verdicts_in_order():
    assert VERDICTS == ("supports", "contradicts", "inconclusive", "not_testable")
    assert NOT_TESTABLE == "not_testable"


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


def power_at(d: float, n: int) -> float:
    """One-sample t-test power at standardized effect d: P(T' > t_0.975,n-1), nct."""
    return stats.nct.sf(stats.t.ppf(0.975, n - 1), n - 1, d * math.sqrt(n))


def test_a_three_seed_decision_states_the_seeds_its_spread_needs():
    # non-inferiority, bound -0.02: mean -0.01, sd 0.01, d = 1 -> 10 seeds (textbook)
    d = decide({0: -0.02, 1: -0.01, 2: 0.0}, ON_PAR, "on par", "worse")
    assert (d.would, d.seeds_needed) == (SUPPORTS, 10)
    # mean -0.03 lies below -0.02, sd 0.01: d = 1 the other way
    d = decide({0: -0.04, 1: -0.03, 2: -0.02}, ON_PAR, "on par", "worse")
    assert (d.would, d.seeds_needed) == (CONTRADICTS, 10)
    # positive, mean 0.01 below +0.02: the interval must fall below +0.02; d = 1
    d = decide({0: 0.0, 1: 0.01, 2: 0.02}, GAIN, "gain", "loss")
    assert (d.would, d.seeds_needed) == (CONTRADICTS, 10)
    # positive, mean 0.03 past +0.02: the interval must clear 0; sd 0.06, d = 0.5 -> 34
    d = decide({0: -0.03, 1: 0.03, 2: 0.09}, GAIN, "gain", "loss")
    assert (d.would, d.seeds_needed) == (SUPPORTS, 34)
    assert d.power_text() == (
        "the observed spread (sd 0.06) needs 34 seeds to decide 'supports' with 80% power "
        "(one-sample t-test at the 95% interval's level, noncentral t)"
    )


def test_the_readme_example_needs_six_seeds():
    # mean 0.06, sd 0.04 against 0: d = 1.5; power 0.71 at n = 5, 0.83 at n = 6
    assert power_at(1.5, 5) < 0.8 < power_at(1.5, 6)
    d = decide({0: 0.10, 1: 0.02, 2: 0.06}, GAIN, "gain", "loss")
    assert (d.verdict, d.would, d.seeds_needed) == (INCONCLUSIVE, SUPPORTS, 6)


def test_a_spread_too_wide_needs_more_than_the_search_allows():
    # mean 0.021, sd 1: d = 0.021 needs about (2.8 / 0.021)^2 ~ 18000 seeds
    d = decide({0: -0.979, 1: 0.021, 2: 1.021}, GAIN, "gain", "loss")
    assert d.would == SUPPORTS and d.seeds_needed is None
    assert "needs more than 1000 seeds to decide 'supports'" in d.power_text()


def test_one_seed_or_no_value_states_no_power():
    for effects in ({0: 0.03}, {0: math.nan}, {0: math.inf}, {}):
        d = decide(effects, GAIN, "gain", "loss")
        assert (d.seeds_needed, d.would, d.power_text()) == (None, "", "")
