"""The paired block estimator on constructed data whose truth is known."""

import math

import numpy as np
import pytest

from bench.analysis.blocks import cell_mean, paired


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
