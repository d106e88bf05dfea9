"""Metrics: percentiles, time per operation, slowdown and its bootstrap CI."""

import numpy as np
import pytest

from bench.metrics import op_times, percentiles_us, slowdown


def test_percentiles_in_microseconds():
    v = np.arange(1, 100_001) * 1000  # 1 us .. 100 ms
    p = percentiles_us(v)
    assert p["latency_p50_us"] == pytest.approx(50_000.5, rel=1e-6)
    assert p["latency_p999_us"] == pytest.approx(99_900, rel=1e-3)
    assert p["latency_max_us"] == 100_000
    assert np.isnan(percentiles_us(np.empty(0))["latency_p99_us"])


def _truth(op, t_issue, t_done):
    return {"op": np.array(op), "t_issue": np.array(t_issue), "t_done": np.array(t_done)}


def test_op_times_open_and_closed_loop():
    # op 1 has two rows (e.g. connect and accept): counted once.
    t = _truth([0, 1, 1, 2], [0, 100, 100, 300], [10, 130, 130, 305])
    assert op_times(t, closed_loop=False).tolist() == [10, 30, 5]
    assert op_times(t, closed_loop=True).tolist() == [100, 200]
    assert len(op_times(_truth([], [], []), closed_loop=False)) == 0


def test_slowdown_recovers_known_factor_with_ci():
    rng = np.random.default_rng(7)
    base = rng.exponential(100, 200_000)
    slow = rng.exponential(100, 200_000) * 1.10
    pct, lo, hi = slowdown(slow, base)
    assert 8 < pct < 12
    assert lo < 10 < hi and hi - lo < 3


def test_slowdown_ci_covers_zero_without_effect():
    rng = np.random.default_rng(8)
    a, b = rng.normal(100, 10, 500), rng.normal(100, 10, 500)
    pct, lo, hi = slowdown(a, b)
    assert lo < 0 < hi


def test_slowdown_needs_samples():
    assert all(np.isnan(x) for x in slowdown(np.array([1.0]), np.array([1.0, 2.0])))


def test_saturation_says_which_limit_was_hit():
    from bench.metrics import saturation

    ok = {"status": "ok", "drop_rate": 0.0, "slowdown_ci_low_pct": 1.0, "rate_achieved": 1000.0}
    assert saturation(ok, 1000.0) == ""
    assert saturation({**ok, "drop_rate": 0.05}, 1000.0) == "drops"
    assert saturation({**ok, "slowdown_ci_low_pct": 30.0}, 1000.0) == "slows"
    assert saturation({**ok, "rate_achieved": 600.0}, 1000.0) == "slows"  # could not keep pace
    assert saturation({**ok, "drop_rate": 0.5, "rate_achieved": 600.0}, 1000.0) == "drops+slows"
    assert saturation({**ok, "status": "unsupported"}, 1000.0) == ""
    assert saturation({**ok, "slowdown_ci_low_pct": float("nan")}, None) == ""
