"""The paired block estimator on constructed data whose truth is known."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bench.analysis.blocks import (PairedEstimate, cell_mean, paired, paired_difference,
                                   paired_ratio)


def _blocks(rng, n, effect_ns, base=15_000.0, between=3_000.0, within=200.0, tail=None):
    """n blocks: each a machine state (shared by both cells), plus each cell's own noise."""
    state = base + rng.normal(0, between, n)            # what moves between blocks
    noise = (lambda: rng.standard_t(2, n) * within) if tail else \
        (lambda: rng.normal(0, within, n))
    return state + effect_ns + noise(), state + noise()


def test_known_paired_effect_is_recovered():
    rng = np.random.default_rng(1)
    s, b = _blocks(rng, 10, 2_000.0)
    e = paired(s, b)
    assert e.blocks_used == 10 and e.blocks_dropped == 0
    assert e.overhead_lo_ns <= 2_000 <= e.overhead_hi_ns
    assert abs(e.overhead_ns - 2_000) < 300
    # the shared machine state (sd 3 µs) is cancelled by pairing, not added to the interval
    assert e.half_width_ns < 500


@pytest.mark.parametrize("effect", [0.0, 2_000.0, 10_000.0])
def test_interval_covers_the_truth_at_its_level(effect):
    rng = np.random.default_rng(int(effect) + 3)
    hits = sum(_covers(paired(*_blocks(rng, 8, effect)), effect) for _ in range(1000))
    assert 0.93 <= hits / 1000 <= 0.97


def _covers(e, effect):
    return e.overhead_lo_ns <= effect <= e.overhead_hi_ns


def test_heavy_tailed_noise_widens_the_interval_instead_of_breaking_it():
    rng = np.random.default_rng(5)
    hits, widths = 0, []
    for _ in range(1000):
        e = paired(*_blocks(rng, 8, 2_000.0, tail=True))
        hits += _covers(e, 2_000.0)
        widths.append(e.half_width_ns)
    assert hits / 1000 >= 0.93   # t(2) noise: the t-interval stays conservative
    assert np.median(widths) > 150


def test_a_drifting_machine_cancels_within_blocks():
    # The machine gets 50 % slower over the run; the sensor adds 1 µs: pairing keeps it.
    n = 12
    drift = np.linspace(10_000, 15_000, n)
    e = paired(drift + 1_000 + 50, drift + 50)
    assert e.overhead_ns == pytest.approx(1_000)
    # ...while comparing pooled means of unpaired cells would be dominated by the drift
    assert e.slowdown_lo_pct > 0


def test_dropped_block_is_left_out_and_counted():
    rng = np.random.default_rng(2)
    s, b = _blocks(rng, 6, 2_000.0)
    s[2] = math.nan            # its sensor cell failed
    b[4] = math.nan            # its baseline cell failed
    e = paired(s, b)
    assert e.blocks_used == 4 and e.blocks_dropped == 2
    assert math.isfinite(e.overhead_ns) and math.isfinite(e.overhead_lo_ns)


def test_one_block_gives_a_point_without_an_interval():
    e = paired([12_000.0], [10_000.0])
    assert e.overhead_ns == 2_000 and e.slowdown_pct == pytest.approx(20)
    assert math.isnan(e.overhead_lo_ns) and math.isnan(e.slowdown_lo_pct)


def test_slowdown_is_the_geometric_mean_of_ratios():
    e = paired([20_000.0, 5_000.0], [10_000.0, 10_000.0])   # x2 and x0.5
    assert e.slowdown_pct == pytest.approx(0.0, abs=1e-9)


def test_cell_with_too_few_operations_measures_nothing():
    assert math.isnan(cell_mean(np.ones(99)))
    assert cell_mean(np.full(100, 7)) == 7
    assert math.isnan(cell_mean(None))


def test_as_row_names_every_field():
    e = PairedEstimate(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7, 8)
    assert e.as_row() == {
        "overhead_ns_per_op": 1.0, "overhead_ci_low_ns": 2.0, "overhead_ci_high_ns": 3.0,
        "slowdown_pct": 4.0, "slowdown_ci_low_pct": 5.0, "slowdown_ci_high_pct": 6.0,
        "blocks_used": 7, "blocks_dropped": 8}


def test_no_usable_block_gives_nan_and_counts_the_dropped():
    e = paired([math.nan, 12_000.0], [10_000.0, math.nan])
    assert (e.blocks_used, e.blocks_dropped) == (0, 2)
    row = e.as_row()
    assert all(math.isnan(row[k]) for k in row if not k.startswith("blocks_"))


def test_non_positive_and_missing_means_are_dropped_blocks():
    # a mean of 0 or below has no ratio: the block cannot be used; None is missing
    e = paired([0.0, 12_000.0, -5.0, 12_000.0, None, 13_000.0],
               [10_000.0, 0.0, 10_000.0, -5.0, 10_000.0, 10_000.0])
    assert (e.blocks_used, e.blocks_dropped) == (1, 5)
    assert e.overhead_ns == 3_000.0
    # a small positive mean is a mean like any other
    e = paired([0.5, 0.75], [0.25, 0.25])   # differences 0.25, 0.5; ratios 2, 3
    assert e.blocks_used == 2 and e.overhead_ns == pytest.approx(0.375)


def test_two_blocks_at_the_50_percent_level():
    # The t quantile with 1 degree of freedom at 75 % is 1 (Cauchy: tan(pi/4)), and
    # sd / sqrt(2) of two values is half their distance: the 50 % interval of two blocks
    # is exactly [smaller, larger]. Differences 10 and 30 µs; ratios 2 and 4.
    s, b = [20_000.0, 40_000.0], [10_000.0, 10_000.0]
    e = paired(s, b, level=0.5)
    assert e.overhead_ns == pytest.approx(20_000)
    assert (e.overhead_lo_ns, e.overhead_hi_ns) == pytest.approx((10_000, 30_000))
    # geometric mean of the ratios sqrt(8) = 2.828: +182.8 %; interval [x2, x4]
    assert e.slowdown_pct == pytest.approx((math.sqrt(8) - 1) * 100)
    assert (e.slowdown_lo_pct, e.slowdown_hi_pct) == pytest.approx((100, 300))
    # at 95 % (the default) the quantile is 12.706: 20 ± 127.06 µs
    e95 = paired(s, b)
    assert (e95.overhead_lo_ns, e95.overhead_hi_ns) == pytest.approx((-107_062, 147_062),
                                                                      abs=1)
    assert e95.slowdown_hi_pct == pytest.approx(
        (math.exp(1.5 * math.log(2) + 12.7062 * math.log(2) / 2) - 1) * 100, rel=1e-4)


def test_paired_difference_is_sensor_minus_baseline():
    # differences 4 and 5 (the third block's sensor value is missing)
    m, lo, hi = paired_difference([5.0, 7.0, math.nan], [1.0, 2.0, 3.0], level=0.5)
    assert (m, lo, hi) == pytest.approx((4.5, 4.0, 5.0))
    # at 95 %: 4.5 ± 12.7062 * 0.5
    assert paired_difference([5.0, 7.0], [1.0, 2.0]) == pytest.approx(
        (4.5, 4.5 - 6.3531, 4.5 + 6.3531), abs=1e-3)
    assert paired_difference([5.0, None], [1.0, 2.0])[0] == 4.0   # None is missing
    m, lo, hi = paired_difference([3.0], [1.0])
    assert m == 2.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in paired_difference([], []))


def test_paired_ratio_is_sensor_over_baseline():
    # ratios 0.5 and 0.25 (the rest unusable): geometric mean sqrt(1/8), 50 % interval
    # [0.25, 0.5]
    m, lo, hi = paired_ratio([500.0, 250.0, 0.0, 100.0, math.nan, None],
                             [1000.0, 1000.0, 1000.0, -1.0, 1000.0, 1000.0], level=0.5)
    assert (m, lo, hi) == pytest.approx((math.sqrt(1 / 8), 0.25, 0.5))
    # at 95 %: exp(mean ± 12.7062 * sd / sqrt 2) of the log ratios, sd / sqrt 2 = ln 2 / 2
    _, lo95, hi95 = paired_ratio([500.0, 250.0], [1000.0, 1000.0])
    centre, half = math.log(math.sqrt(1 / 8)), 12.7062 * math.log(2) / 2
    assert (lo95, hi95) == pytest.approx((math.exp(centre - half), math.exp(centre + half)),
                                         rel=1e-4)
    # small positive rates are rates like any other
    assert paired_ratio([0.5], [0.25])[0] == pytest.approx(2.0)
    m, lo, hi = paired_ratio([900.0], [1000.0])
    assert m == pytest.approx(0.9) and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in paired_ratio([0.0], [1000.0]))


# -- properties --------------------------------------------------------------------------

# (sensor, baseline) means of a block: a baseline of 1 µs to 1 ms, the sensor's from half
# to three times as long (beyond that the percentages' 1 + x lose the precision compared)
_block = st.tuples(st.floats(0.5, 3.0), st.floats(1_000.0, 1e6)).map(
    lambda fb: (fb[0] * fb[1], fb[1]))
_blocks_st = st.lists(_block, min_size=2, max_size=8)


@settings(max_examples=60)
@given(_blocks_st)
def test_swapping_sensor_and_baseline_flips_the_overhead(blocks):
    s, b = map(list, zip(*blocks))
    fwd, rev = paired(s, b), paired(b, s)
    assert rev.overhead_ns == pytest.approx(-fwd.overhead_ns, abs=1e-6)
    assert rev.overhead_lo_ns == pytest.approx(-fwd.overhead_hi_ns, abs=1e-6)
    # the slowdown's log ratio flips sign: the ratios (1 + slowdown) are each other's
    # inverses, the interval's ends trading places
    assert math.log1p(rev.slowdown_pct / 100) == pytest.approx(
        -math.log1p(fwd.slowdown_pct / 100), abs=1e-9)
    for f, r in ((fwd.slowdown_lo_pct, rev.slowdown_hi_pct),
                 (fwd.slowdown_hi_pct, rev.slowdown_lo_pct)):
        assert (1 + r / 100) * (1 + f / 100) == pytest.approx(1, rel=1e-9)
    m, lo, hi = paired_difference(s, b)
    assert paired_difference(b, s) == pytest.approx((-m, -hi, -lo), abs=1e-6)
    m, lo, hi = paired_ratio(s, b)
    assert paired_ratio(b, s) == pytest.approx((1 / m, 1 / hi, 1 / lo), rel=1e-9)


@settings(max_examples=60)
@given(_blocks_st, st.floats(0.5, 0.9), st.floats(0.91, 0.999))
def test_a_higher_level_gives_a_wider_interval(blocks, low, high):
    s, b = map(list, zip(*blocks))
    _, lo_n, hi_n = paired_difference(s, b, low)
    _, lo_w, hi_w = paired_difference(s, b, high)
    assert lo_w <= lo_n <= hi_n <= hi_w
    narrow, wide = paired(s, b, low), paired(s, b, high)
    assert wide.overhead_lo_ns <= narrow.overhead_lo_ns <= narrow.overhead_hi_ns \
        <= wide.overhead_hi_ns
    assert wide.slowdown_lo_pct <= narrow.slowdown_lo_pct <= narrow.slowdown_hi_pct \
        <= wide.slowdown_hi_pct


# -- unusable blocks, on either side -------------------------------------------------------

def test_a_missing_baseline_drops_its_block_as_a_missing_sensor_does():
    # None is missing on the baseline's side too (a block whose baseline cell is absent)
    e = paired([12_000.0, 13_000.0, 11_000.0], [10_000.0, None, 10_000.0])
    assert (e.blocks_used, e.blocks_dropped) == (2, 1)
    assert e.overhead_ns == 1_500.0
    assert paired_difference([5.0, 7.0], [1.0, None])[0] == 4.0
    m, _, _ = paired_ratio([500.0, 300.0], [1000.0, None])
    assert m == pytest.approx(0.5)


def test_a_block_infinite_on_one_side_is_dropped_from_a_difference():
    # only blocks finite on both sides count: an infinite cost (a division by zero
    # operations upstream) would make the mean infinite
    assert paired_difference([5.0, math.inf, 7.0], [1.0, 2.0, 2.0], level=0.5) == \
        pytest.approx((4.5, 4.0, 5.0))
    assert paired_difference([5.0, 7.0, 3.0], [1.0, 2.0, -math.inf], level=0.5) == \
        pytest.approx((4.5, 4.0, 5.0))


def test_a_baseline_that_achieved_nothing_is_no_ratio():
    # a baseline rate of 0 (or less) has no ratio: its block is dropped, not an infinite one
    m, lo, hi = paired_ratio([500.0, 250.0, 800.0], [1000.0, 1000.0, 0.0], level=0.5)
    assert (m, lo, hi) == pytest.approx((math.sqrt(1 / 8), 0.25, 0.5))
    assert all(math.isnan(x) for x in paired_ratio([900.0], [0.0]))
