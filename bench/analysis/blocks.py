"""Overhead from paired blocks: the one rule for every slowdown and overhead number.

A *block* is a no-sensor baseline cell and a sensor cell run next to each other (in random
order), with the same workload, rate and arrivals. On a shared machine the variance that
matters is between cells (a neighbour's load, frequency, cache state), so the estimate is
built from the per-block paired differences, never from operations pooled across cells:

- ``overhead_ns`` per operation: the mean of the blocks' differences of mean time per
  operation (sensor - baseline), with a t-interval over blocks;
- ``slowdown_pct``: the geometric mean of the blocks' ratios, with a t-interval on the log
  ratios, shown as a percentage.

The same pairing gives the CPU costs per operation (``paired_difference``): the whole
machine's CPU (the total cost of sensing) and the workload cgroup's own CPU, sensor cell
minus its block's baseline cell, with a t-interval over blocks.

A block whose sensor or baseline cell failed (or has too few operations) is dropped and
counted. Fewer than two usable blocks give a point without an interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.analysis.stats import t_interval

MIN_OPS = 100  # a cell with fewer operations measures nothing


@dataclass(frozen=True)
class PairedEstimate:
    overhead_ns: float
    overhead_lo_ns: float
    overhead_hi_ns: float
    slowdown_pct: float
    slowdown_lo_pct: float
    slowdown_hi_pct: float
    blocks_used: int
    blocks_dropped: int

    @property
    def half_width_ns(self) -> float:
        return (self.overhead_hi_ns - self.overhead_lo_ns) / 2

    def as_row(self) -> dict:
        return {"overhead_ns_per_op": self.overhead_ns,
                "overhead_ci_low_ns": self.overhead_lo_ns,
                "overhead_ci_high_ns": self.overhead_hi_ns,
                "slowdown_pct": self.slowdown_pct,
                "slowdown_ci_low_pct": self.slowdown_lo_pct,
                "slowdown_ci_high_pct": self.slowdown_hi_pct,
                "blocks_used": self.blocks_used, "blocks_dropped": self.blocks_dropped}


NO_ESTIMATE = PairedEstimate(*(math.nan,) * 6, 0, 0)


def cell_mean(op_times: np.ndarray | None) -> float:
    """A cell's mean time per operation (ns), NaN when it has too few operations."""
    if op_times is None or len(op_times) < MIN_OPS:
        return math.nan
    return float(np.mean(op_times))


def paired(sensor_means, baseline_means, level: float = 0.95) -> PairedEstimate:
    """The estimate from per-block mean times per operation (ns), one pair per block; NaN
    on either side marks a block that cannot be used."""
    s = np.asarray(sensor_means, dtype=float)
    b = np.asarray(baseline_means, dtype=float)
    ok = np.isfinite(s) & np.isfinite(b) & (s > 0) & (b > 0)
    used, dropped = int(ok.sum()), int((~ok).sum())
    if used == 0:
        return PairedEstimate(*(math.nan,) * 6, 0, dropped)
    diff = s[ok] - b[ok]
    logr = np.log(s[ok] / b[ok])
    d, dlo, dhi = t_interval(diff, level)
    lr, llo, lhi = t_interval(logr, level)

    def pct(x: float) -> float:
        return (math.exp(x) - 1) * 100 if not math.isnan(x) else math.nan

    return PairedEstimate(d, dlo, dhi, pct(lr), pct(llo), pct(lhi), used, dropped)


def paired_difference(sensor_values, baseline_values,
                      level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the blocks' differences sensor - baseline of any per-operation
    quantity (NaN on either side drops that block), by the t-interval over blocks."""
    s = np.asarray(sensor_values, dtype=float)
    b = np.asarray(baseline_values, dtype=float)
    ok = np.isfinite(s) & np.isfinite(b)
    return t_interval(s[ok] - b[ok], level)


def paired_ratio(sensor_values, baseline_values,
                 level: float = 0.95) -> tuple[float, float, float]:
    """(geometric mean, low, high) of the blocks' ratios sensor / baseline of a positive
    quantity (an achieved rate), by the t-interval on the log ratios."""
    s = np.asarray(sensor_values, dtype=float)
    b = np.asarray(baseline_values, dtype=float)
    ok = np.isfinite(s) & np.isfinite(b) & (s > 0) & (b > 0)
    m, lo, hi = t_interval(np.log(s[ok] / b[ok]), level)
    return tuple(math.exp(x) if not math.isnan(x) else math.nan for x in (m, lo, hi))
