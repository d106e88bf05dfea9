"""Interval rules, written once: the Student t quantile every confidence interval uses,
the t-interval of a mean and of a slope.

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
    v = [x for x in map(float, values) if not math.isnan(x)]
    if not v:
        return math.nan, math.nan, math.nan
    mean = sum(v) / len(v)
    if len(v) < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
    half = t_quantile(len(v) - 1, level) * sd / math.sqrt(len(v))
    return mean, mean - half, mean + half


def repeats_range(points, lows, highs) -> tuple[float, float, float]:
    """(mean, low, high) of repeats that each carry a point and its own interval: the mean
    of the points, and the range every repeat's interval lies in (the lowest low to the
    highest high). A range, not an interval of the mean: a sensor whose every cell tells
    its cost from zero is resolved however much that cost differs from cell to cell (three
    repeats of 50, 9 and 7 µs put a t-interval of their mean below zero). A repeat without
    an interval of its own counts by its point; without any, the points' range (NaN for
    one point). Only repeats with a finite point count."""
    rows = [(float(p), float(lo), float(hi)) for p, lo, hi in zip(points, lows, highs)
            if p is not None and not math.isnan(p)]
    if not rows:
        return math.nan, math.nan, math.nan
    mean = sum(p for p, _, _ in rows) / len(rows)
    if len(rows) == 1 and math.isnan(rows[0][1]):
        return mean, math.nan, math.nan
    return (mean, min(lo if not math.isnan(lo) else p for p, lo, _ in rows),
            max(hi if not math.isnan(hi) else p for p, _, hi in rows))


def slope_interval(x, y, level: float = 0.95) -> tuple[float, float, float, float]:
    """(slope, low, high, intercept) of the least-squares line of ``y`` on ``x``, the
    slope's t-interval with n - 2 degrees of freedom (scipy's linregress and its standard
    error). NaN bounds for fewer than three points or x all alike; NaN throughout for
    fewer than two."""
    pts = [(float(a), float(b)) for a, b in zip(x, y)
           if not (math.isnan(float(a)) or math.isnan(float(b)))]
    if len(pts) < 2 or len({a for a, _ in pts}) < 2:
        return math.nan, math.nan, math.nan, math.nan
    from scipy.stats import linregress

    fit = linregress([a for a, _ in pts], [b for _, b in pts])
    if len(pts) < 3:
        return float(fit.slope), math.nan, math.nan, float(fit.intercept)
    half = t_quantile(len(pts) - 2, level) * float(fit.stderr)
    return float(fit.slope), fit.slope - half, fit.slope + half, float(fit.intercept)
