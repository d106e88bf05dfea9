"""The interval rules of ``bench.analysis.stats`` on constructed data."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bench.analysis.stats import t_interval, t_quantile


def test_t_quantile_is_exact_for_every_df():
    assert t_quantile(1) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile(11) == pytest.approx(2.2010, abs=1e-4)   # a table rounding to 15: 2.131
    assert t_quantile(1000) == pytest.approx(1.9623, abs=1e-4)
    assert math.isnan(t_quantile(0))


def test_t_interval_covers_the_mean_at_its_level():
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(2000):
        _, lo, hi = t_interval(rng.normal(10.0, 3.0, 5))
        hits += lo <= 10.0 <= hi
    assert 0.935 < hits / 2000 < 0.965   # 95 % coverage with 5 samples


def test_t_interval_of_too_few_values():
    m, lo, hi = t_interval([3.0])
    assert m == 3.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in t_interval([]))


def test_two_values_give_an_interval():
    # mean 2, sd sqrt 2, sd / sqrt n = 1: 2 ± t(1 df)
    m, lo, hi = t_interval([1.0, 3.0])
    assert m == 2.0
    assert (lo, hi) == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-4)
    # the t quantile of 1 df at 75 % is 1 (tan(pi / 4)): the 50 % interval is [1, 3]
    assert t_interval([1.0, 3.0], 0.5) == pytest.approx((2.0, 1.0, 3.0))


def test_nan_values_are_left_out():
    assert t_interval([1.0, math.nan, 3.0], 0.5) == pytest.approx((2.0, 1.0, 3.0))


@settings(max_examples=60)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=20),
       st.floats(0.5, 0.9), st.floats(0.91, 0.999))
def test_a_higher_level_contains_the_lower(values, low, high):
    m_n, lo_n, hi_n = t_interval(values, low)
    m_w, lo_w, hi_w = t_interval(values, high)
    assert m_n == m_w
    assert lo_w <= lo_n <= m_n <= hi_n <= hi_w



def test_repeats_range_is_where_every_repeats_interval_lies():
    from bench.analysis.stats import repeats_range

    # 50 ± 3, 9 ± 1, 7 ± 0.5: mean 22, range 6.5..53, above zero (a t-interval of the
    # mean, 22 ± 4.303 · 24.27 / √3 = ± 60.3, would not be)
    assert repeats_range([50, 9, 7], [47, 8, 6.5], [53, 10, 7.5]) == (22.0, 6.5, 53.0)
    # one repeat that cannot tell its cost from zero puts the range across zero
    m, lo, hi = repeats_range([40, 25], [38, -41], [42, 91])
    assert (m, lo, hi) == (32.5, -41.0, 91.0)


def test_repeats_range_of_one_repeat_or_without_intervals():
    from bench.analysis.stats import repeats_range

    assert repeats_range([4.0], [1.0], [7.0]) == (4.0, 1.0, 7.0)
    m, lo, hi = repeats_range([4.0], [math.nan], [math.nan])   # a folder from before
    assert m == 4.0 and math.isnan(lo) and math.isnan(hi)
    # repeats without intervals of their own: the range of their points
    assert repeats_range([1.0, 3.0], [math.nan] * 2, [math.nan] * 2) == (2.0, 1.0, 3.0)
    assert repeats_range([1.0, 3.0], [0.5, math.nan], [1.5, math.nan]) == (2.0, 0.5, 3.0)
    # a repeat without a point does not count
    assert repeats_range([math.nan, 4.0], [0.0, 1.0], [9.0, 7.0]) == (4.0, 1.0, 7.0)
    assert all(math.isnan(x) for x in repeats_range([], [], []))
