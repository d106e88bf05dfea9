"""The interval rules of ``bench.analysis.stats`` on constructed data."""

import math

import numpy as np
import pytest

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
