"""Interval rules, written once: the Student t quantile every confidence interval uses.

scipy's exact quantile, for any degrees of freedom: a hand-kept table rounded degrees of
freedom up to the next row it had, which gives intervals that are too narrow.
"""

from __future__ import annotations

import math


def t_quantile(df: float, level: float = 0.95) -> float:
    """Two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom (NaN for
    df <= 0)."""
    if not df > 0:
        return math.nan
    # scipy.special's inverse of Student's t CDF: the same quantile as scipy.stats.t.ppf,
    # without the most of a second scipy.stats takes to load; imported here so that commands
    # that compute no interval (doctor, list, a bad option) do not load it at all.
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + level / 2))


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the mean of ``values`` by the t-interval (NaN bounds for fewer
    than two finite values)."""
    v = [float(x) for x in values if x == x]
    if not v:
        return math.nan, math.nan, math.nan
    mean = sum(v) / len(v)
    if len(v) < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
    half = t_quantile(len(v) - 1, level) * sd / math.sqrt(len(v))
    return mean, mean - half, mean + half
