"""The replicate interval against hand-computed cases, table values and its coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from closerlook.stats import Interval, mean_interval, mean_intervals, seeds_needed, t_quantile


def test_t_quantiles_match_the_printed_table():
    # Student's t table, two-sided 95%: 12.706 (1 dof), 4.303 (2), 2.776 (4), 1.960 (inf)
    assert t_quantile(0.95, 1) == pytest.approx(12.706, abs=5e-4)
    assert t_quantile(0.95, 2) == pytest.approx(4.303, abs=5e-4)
    assert t_quantile(0.95, 4) == pytest.approx(2.776, abs=5e-4)
    assert t_quantile(0.95, 10**7) == pytest.approx(1.960, abs=5e-4)


def test_three_seeds_by_hand():
    # x = 1, 2, 3: mean 2, s = 1, half width = 4.302653 / sqrt(3) = 2.484138
    i = mean_interval([1.0, 2.0, 3.0])
    assert (i.mean, i.n) == (2.0, 3)
    assert i.low == pytest.approx(2 - 2.484138, abs=1e-6)
    assert i.high == pytest.approx(2 + 2.484138, abs=1e-6)
    assert i.format() == "2.000 [-0.484, 4.484]"


def test_two_seeds_by_hand():
    # x = 2, 4: mean 3, s = sqrt(2), half width = 12.706205 * sqrt(2) / sqrt(2)
    i = mean_interval([2.0, 4.0])
    assert i.half_width == pytest.approx(12.706205, abs=1e-6)


def test_one_seed_has_a_mean_and_no_interval():
    i = mean_interval([0.12])
    assert i.mean == 0.12 and i.n == 1 and math.isnan(i.low) and math.isnan(i.high)
    assert i.format(signed=True) == "+0.120"


def test_non_finite_seeds_are_left_out_and_counted():
    i = mean_interval([1.0, math.nan, 3.0, math.inf])
    assert i.n == 2 and i.mean == 2.0
    assert mean_interval([math.nan]).n == 0 and math.isnan(mean_interval([]).mean)


def test_identical_values_give_a_zero_width_interval():
    i = mean_interval([0.5, 0.5, 0.5])
    assert (i.low, i.mean, i.high) == (0.5, 0.5, 0.5)


def test_the_interval_moves_and_scales_with_the_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5)
    a, b = mean_interval(x), mean_interval(3 * x + 7)
    assert b.mean == pytest.approx(3 * a.mean + 7)
    assert b.low == pytest.approx(3 * a.low + 7) and b.high == pytest.approx(3 * a.high + 7)


def test_coverage_is_95_percent_for_normal_samples_of_three():
    rng = np.random.default_rng(1)
    draws = rng.normal(loc=0.3, scale=2.0, size=(4000, 3))
    hits = [(i.low <= 0.3 <= i.high) for i in map(mean_interval, draws)]
    assert np.mean(hits) == pytest.approx(0.95, abs=0.015)


def test_column_wise_intervals_agree_with_the_scalar_one():
    s = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, np.nan]])
    mean, low, high = mean_intervals(s)
    assert mean.tolist() == [2.0, 0.0]
    assert low[0] == pytest.approx(mean_interval([1, 2, 3]).low)
    assert high[1] == 0.0


def test_format_is_signed_on_request():
    assert Interval(0.12, 0.08, 0.16, 3).format(signed=True) == "+0.120 [0.080, 0.160]"


def t_test_power(d: float, n: int) -> float:
    """Power of the two-sided 5% one-sample t-test in one direction: P(T' > t_0.975,n-1)."""
    return stats.nct.sf(stats.t.ppf(0.975, n - 1), n - 1, d * math.sqrt(n))


def test_seeds_needed_matches_the_textbook_sample_sizes():
    # one-sample t-test, alpha = 0.05 two-sided, power 0.8 (Cohen 1988; G*Power):
    # d = 1 needs n = 10 (power 0.803; 0.748 at n = 9), d = 0.5 needs n = 34 (0.808; 0.795)
    assert t_test_power(1.0, 10) == pytest.approx(0.803, abs=1e-3)
    assert t_test_power(1.0, 9) == pytest.approx(0.748, abs=1e-3)
    assert t_test_power(0.5, 34) == pytest.approx(0.808, abs=1e-3)
    assert t_test_power(0.5, 33) == pytest.approx(0.795, abs=1e-3)
    assert seeds_needed(1.0, 1.0, 0.0, "above") == 10
    assert seeds_needed(0.5, 1.0, 0.0, "above") == 34
    # only the standardized distance counts: mean 0.13, sd 0.02 against 0.11 is d = 1
    assert seeds_needed(0.13, 0.02, 0.11, "above") == 10


def test_seeds_needed_below_is_the_mirror_image():
    assert seeds_needed(-1.0, 1.0, 0.0, "below") == 10
    assert seeds_needed(0.0, 2.0, 1.0, "below") == 34


def test_seeds_needed_edge_cases():
    assert seeds_needed(0.3, 0.0, 0.0, "above") == 2  # no spread: two seeds settle it
    assert seeds_needed(-0.3, 0.0, 0.0, "above") is None  # on the wrong side
    assert seeds_needed(0.5, 1.0, 0.5, "above") is None  # on the bound: never
    assert seeds_needed(-1.0, 1.0, 0.0, "above") is None  # the other way: never
    assert seeds_needed(1.0, 1.0, 0.0, "above", max_n=9) is None  # 10 are needed
    with pytest.raises(ValueError):
        seeds_needed(1.0, 1.0, 0.0, "up")


def test_seeds_needed_follows_confidence_and_power():
    # d = 1, power 0.9 at alpha 0.05 two-sided: n = 13 (power 0.9 reached first at 13)
    assert t_test_power(1.0, 12) < 0.9 <= t_test_power(1.0, 13)
    assert seeds_needed(1.0, 1.0, 0.0, "above", power=0.9) == 13
    # a 99% interval asks for more seeds than a 95% one
    assert seeds_needed(1.0, 1.0, 0.0, "above", confidence=0.99) > 10


def test_a_spread_of_rounding_size_needs_two_seeds_not_none():
    # identical effects up to float rounding: the noncentral t's tail is not computable
    # there, and the test cannot miss on the right side of the bound
    assert seeds_needed(0.4579, 1.1e-16, 0.0, "above") == 2
    assert seeds_needed(-0.4579, 1.1e-16, 0.0, "above") is None
