"""Metrics: percentiles, time per operation, the saturation rule, schedule lag."""

import numpy as np
import pytest

from bench.analysis.metrics import op_times, percentiles_us


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


def test_saturation_means_failing_to_keep_up():
    from bench.analysis.metrics import saturation

    ok = {"status": "ok", "drop_rate": 0.0, "slowdown_ci_low_pct": 1.0, "rate_achieved": 1000.0,
          "rate_target": "1000", "schedule_lag_growth_ms": 0.1}
    base = {"rate_achieved": 1000.0, "schedule_lag_growth_ms": 0.0}
    assert saturation(ok, base) == ""
    assert saturation({**ok, "drop_rate": 0.05}, base) == "drops"
    # a per-operation cost is a cost: +30 % of a 15 µs syscall keeps up with 1000/s
    assert saturation({**ok, "slowdown_ci_low_pct": 30.0}, base) == ""
    assert saturation({**ok, "slowdown_ci_low_pct": 80.0}, base) == ""
    assert saturation({**ok, "slowdown_ci_low_pct": 120.0}, base) == "slows"
    assert saturation({**ok, "slowdown_ci_low_pct": 30.0}, base, overhead_limit_pct=20) == "slows"
    assert saturation({**ok, "rate_achieved": 600.0}, base) == "behind"
    # the baseline fell short too: the machine cannot drive the rate, not the sensor's doing
    assert saturation({**ok, "rate_achieved": 600.0}, {**base, "rate_achieved": 610.0}) == ""
    assert saturation({**ok, "schedule_lag_growth_ms": 900.0}, base) == "queues"
    assert saturation({**ok, "schedule_lag_growth_ms": 900.0},
                      {**base, "schedule_lag_growth_ms": 890.0}) == ""
    assert saturation({**ok, "drop_rate": 0.5, "rate_achieved": 600.0}, base) == "drops+behind"
    assert saturation({**ok, "rate_target": "max", "rate_achieved": 10.0}, base) == ""
    assert saturation({**ok, "status": "unsupported"}, base) == ""
    assert saturation({**ok, "slowdown_ci_low_pct": float("nan")}, None) == ""


def test_schedule_lag_growth():
    from bench.analysis.metrics import schedule_lag_growth_ms

    n = 1000
    intended = np.arange(n) * 1_000_000                  # 1 ms apart
    steady = {"op": np.arange(n), "t_intended": intended, "t_issue": intended + 50_000}
    assert schedule_lag_growth_ms(steady, False) == 0
    held = {"op": np.arange(n), "t_intended": intended,
            "t_issue": intended + np.arange(n) * 500_000}   # falls 0.5 ms further behind each op
    assert schedule_lag_growth_ms(held, False) == pytest.approx(400, rel=0.01)
    assert np.isnan(schedule_lag_growth_ms(held, True))
