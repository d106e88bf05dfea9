"""Metrics: percentiles, time per operation, the saturation rule, schedule lag."""

import numpy as np
import pytest

from bench.analysis import latency_hist
from bench.analysis.correlate import Correlation
from bench.analysis.metrics import (DROP_THRESHOLD, LAG_GROWTH_MS, LATENCY_COLUMNS,
                                    OVERHEAD_LIMIT_PCT, RATE_SHORTFALL, hist_percentiles_us,
                                    limits, matched_latencies, op_times, per_kind,
                                    percentile_us, percentiles_us, saturation,
                                    schedule_lag_growth_ms)
from bench.core.kinds import Kind
from bench.core.partialkey import FULL


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


# -- percentile units --------------------------------------------------------------------

def test_percentiles_of_values_given_in_microseconds():
    # 1..100 given in µs (ns_per_value 1000): p50 of 1..100 is 50.5 µs, max 100 µs; the
    # same latencies given in ns (x1000) give the same numbers
    us = np.arange(1, 101)
    p = percentiles_us(us, ns_per_value=1000)
    assert p["latency_p50_us"] == pytest.approx(50.5)
    assert p["latency_max_us"] == pytest.approx(100)
    assert percentiles_us(us * 1000) == pytest.approx(p)
    # one percentile, same units: p50 of 1, 2, 3 µs is 2 µs; of 1, 2, 3 ns 0.002 µs
    assert percentile_us(np.array([1, 2, 3]), 50, ns_per_value=1000) == pytest.approx(2)
    assert percentile_us(np.array([1, 2, 3]), 50) == pytest.approx(0.002)
    assert np.isnan(percentile_us(np.empty(0), 50))


def test_no_latencies_give_every_column_nan():
    p = percentiles_us(np.empty(0))
    assert set(p) == set(LATENCY_COLUMNS)
    assert all(np.isnan(v) for v in p.values())


# -- matched latencies and the per-kind rows ---------------------------------------------

def _corr(truth_idx, event_idx, duplicate, unmatched, timed=None):
    return Correlation(np.array(truth_idx, np.int64), np.array(event_idx, np.int64),
                       np.array(duplicate, bool), np.array(unmatched, bool), timed)


def test_matched_latencies_columns():
    # op 7 intended at 100, issued at 400 (held up 300 ns), seen at 1000:
    # latency 600, intended latency 900; delivery from the kernel's stamp
    truth = {"kind": np.array([Kind.proc_exec] * 3, np.int64), "op": np.array([7, 8, 9]),
             "t_intended": np.array([100, 2000, 3000]), "t_issue": np.array([400, 2000, 3000])}
    events = {"kind": np.array([Kind.proc_exec] * 3, np.int16),
              "t_seen": np.array([1000, 2500, 3700]),
              # -1: unknown; 0: a stamp at the clock's zero is still a stamp
              "t_kernel": np.array([900, -1, 0])}
    lat = matched_latencies(truth, events, _corr([0, 1, 2], [0, 1, 2], [0] * 3, [0] * 3))
    assert lat["op"].tolist() == [7, 8, 9]
    assert lat["latency_ns"].tolist() == [600, 500, 700]
    assert lat["latency_intended_ns"].tolist() == [900, 500, 700]
    assert lat["delivery_ns"].tolist() == [100, -1, 3700]
    assert lat["timed"].tolist() == [True] * 3
    # events.parquet stores the kind as the events do (bench.core.events.EVENT_COLUMNS)
    assert lat["kind"].dtype == np.int16 and lat["kind"].tolist() == [Kind.proc_exec] * 3


def _cell():
    """A cell with three kinds: proc_exec supported (4 ops, 3 reported, one reported
    twice, two marked strays), file_create unsupported (2 ops, one marked stray of its
    kind), net_send supported but never reported (1 op)."""
    pe, fc, ns = Kind.proc_exec, Kind.file_create, Kind.net_send
    truth = {"kind": np.array([pe, pe, pe, pe, fc, fc, ns], np.int64),
             "op": np.arange(7),
             "t_issue": np.array([0, 10_000, 20_000, 30_000, 0, 0, 0]),
             # every operation issued 500 ns after its schedule
             "t_intended": np.array([-500, 9_500, 19_500, 29_500, -500, -500, -500])}
    # latencies 1, 2, 3 µs; delivery unknown, 0 and 400 ns
    events = {"kind": np.array([pe, pe, pe, pe, pe, pe, fc], np.int16),
              "t_seen": np.array([1_000, 12_000, 23_000, 23_500, 40_000, 41_000, 5]),
              "t_kernel": np.array([-1, 12_000, 22_600, -1, -1, -1, -1])}
    corr = _corr([0, 1, 2], [0, 1, 2], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1])
    return truth, events, corr


def test_per_kind_row_of_a_supported_kind():
    truth, events, corr = _cell()
    rows = per_kind(truth, events, corr, frozenset({Kind.proc_exec, Kind.net_send}))
    assert [r["kind"] for r in rows] == ["file_create", "proc_exec", "net_send"]  # Kind order
    r = rows[1]
    assert (r["status"], r["reason"], r["match_key"]) == ("ok", "", FULL)
    assert (r["expected"], r["matched"], r["duplicates"]) == (4, 3, 1)
    assert r["drop_rate"] == 0.25
    assert r["unmatched"] == 2        # its own marked strays, not file_create's
    assert r["latency_p50_us"] == pytest.approx(2.0)
    # intended latencies 1.5, 2.5, 3.5 µs: p50 2.5; p99 at rank 0.99 * 2 = 1.98:
    # 2.5 + 0.98 * 1 = 3.48 µs
    assert r["latency_intended_p50_us"] == pytest.approx(2.5)
    assert r["latency_intended_p99_us"] == pytest.approx(3.48)
    # deliveries 0 and 400 ns (the unknown one left out): p50 0.2 µs, p99 0.396 µs
    assert r["delivery_p50_us"] == pytest.approx(0.2)
    assert r["delivery_p99_us"] == pytest.approx(0.396)


def test_per_kind_row_of_an_unsupported_kind_is_not_a_drop():
    truth, events, corr = _cell()
    r = per_kind(truth, events, corr, frozenset({Kind.proc_exec, Kind.net_send}))[0]
    assert r["kind"] == "file_create" and r["expected"] == 2
    assert r["status"] == "unsupported" and r["reason"] == "backend does not report this kind"
    assert (r["matched"], r["duplicates"], r["unmatched"], r["match_key"]) == (0, 0, 0, "")
    assert np.isnan(r["drop_rate"])
    assert all(np.isnan(r[c]) for c in LATENCY_COLUMNS)


def test_per_kind_row_of_a_kind_never_reported():
    truth, events, corr = _cell()
    r = per_kind(truth, events, corr, frozenset({Kind.proc_exec, Kind.net_send}))[2]
    assert r["kind"] == "net_send" and r["status"] == "ok"
    assert (r["expected"], r["matched"], r["drop_rate"]) == (1, 0, 1.0)
    for c in ("latency_p50_us", "latency_intended_p99_us", "delivery_p50_us",
              "delivery_p99_us"):
        assert np.isnan(r[c])


def test_per_kind_rows_carry_the_histogram_of_their_latencies():
    truth, events, corr = _cell()
    unsupported, pe, never = per_kind(truth, events, corr,
                                      frozenset({Kind.proc_exec, Kind.net_send}))
    h = latency_hist.decode(pe["latency_hist"])
    # the three latencies, 1, 2 and 3 µs, each in its bucket (3000 ns: [3000, 3001])
    assert latency_hist.values(h).tolist() == [1000, 2000, 3000.5]
    assert pe["latency_out_of_range"] == 0
    assert latency_hist.decode(never["latency_hist"]).get_total_count() == 0
    assert never["latency_out_of_range"] == 0
    assert "latency_hist" not in unsupported


def test_a_latency_out_of_the_histograms_range_is_counted_in_its_row():
    truth, events, corr = _cell()
    events = {**events, "t_seen": events["t_seen"] + np.array([0, 0, 4 * 10**12, 0, 0, 0, 0])}
    r = per_kind(truth, events, corr, frozenset({Kind.proc_exec}))[1]
    assert r["latency_out_of_range"] == 1
    assert latency_hist.decode(r["latency_hist"]).get_total_count() == 3


def test_histogram_percentiles_are_the_raw_ones_to_its_precision():
    v = np.random.default_rng(7).lognormal(10, 2, 20_000).astype(np.int64)
    got, want = hist_percentiles_us(latency_hist.build(v)[0]), percentiles_us(v)
    assert list(got) == list(LATENCY_COLUMNS) == list(want)
    for c in LATENCY_COLUMNS:
        assert got[c] == pytest.approx(want[c], rel=1 / 2048)
    # in µs: the max of 1000 and 2000 ns
    assert hist_percentiles_us(latency_hist.build(np.array([1000, 2000]))[0])[
        "latency_max_us"] == 2.0
    assert all(np.isnan(v) for v in hist_percentiles_us(latency_hist.new()).values())


def test_op_times_of_a_single_operation():
    t = _truth([4], [100], [160])
    assert op_times(t, closed_loop=False).tolist() == [60]   # its service time
    assert op_times(t, closed_loop=True).tolist() == []      # no interval between two


# -- the saturation rule at its thresholds -----------------------------------------------

def _limits(**kw):
    """``limits`` of a cell that kept up in every respect, with ``kw`` changed."""
    args = dict(drop_rate=0.0, achieved=1000.0, target=1000.0, base_achieved=None,
                lag_growth_ms=0.0, base_lag_growth_ms=None, slowdown_lo_pct=0.0)
    args.update(kw)
    return limits(**args)


def test_drops_only_above_the_threshold():
    assert DROP_THRESHOLD == 0.001
    assert _limits(drop_rate=0.001) == []          # exactly 0.1 % is not above it
    assert _limits(drop_rate=0.0011) == ["drops"]
    assert _limits(drop_rate=float("nan")) == []   # missing counts as fine


def test_behind_only_below_the_rate_shortfall():
    assert RATE_SHORTFALL == 0.95
    assert _limits(achieved=950.0) == []           # exactly 95 % of 1000/s
    assert _limits(achieved=949.9) == ["behind"]
    # against a baseline that also fell short: behind only below 95 % of the baseline's
    assert _limits(achieved=570.0, base_achieved=600.0) == []   # 570 = 0.95 * 600
    assert _limits(achieved=569.9, base_achieved=600.0) == ["behind"]


def test_queues_only_above_the_lag_growth():
    assert LAG_GROWTH_MS == 20.0
    assert _limits(lag_growth_ms=20.0) == []
    assert _limits(lag_growth_ms=20.1) == ["queues"]
    # beyond the baseline's own growth by more than 20 ms
    assert _limits(lag_growth_ms=25.0, base_lag_growth_ms=5.0) == []
    assert _limits(lag_growth_ms=25.1, base_lag_growth_ms=5.0) == ["queues"]


def test_slows_only_above_the_overhead_limit():
    assert OVERHEAD_LIMIT_PCT == 100.0
    assert _limits(slowdown_lo_pct=100.0) == []
    assert _limits(slowdown_lo_pct=100.1) == ["slows"]
    assert _limits(slowdown_lo_pct=50.0, overhead_limit_pct=50.0) == []
    assert _limits(slowdown_lo_pct=50.1, overhead_limit_pct=50.0) == ["slows"]


def test_every_limit_in_order():
    assert _limits(drop_rate=0.5, achieved=10.0, lag_growth_ms=900.0,
                   slowdown_lo_pct=300.0) == ["drops", "behind", "queues", "slows"]


def test_blocks_decide_behind_over_the_single_baseline():
    # 600/s of 1000/s against a baseline cell that made 1000/s: one baseline says behind,
    # the blocks' rate ratio (upper end 0.99) say the baselines fell short too
    assert _limits(achieved=600.0, base_achieved=1000.0, rate_ratio_hi=0.99) == []
    # ...and the other way round: a slow baseline cell, but the blocks say behind
    assert _limits(achieved=600.0, base_achieved=600.0, rate_ratio_hi=0.9) == ["behind"]
    # the ratio's upper end at exactly 95 % is not below it
    assert _limits(achieved=600.0, rate_ratio_hi=0.95) == []
    assert _limits(achieved=600.0, rate_ratio_hi=0.9499) == ["behind"]
    # an interval that could not be made (NaN) leaves the single baseline to judge
    assert _limits(achieved=600.0, rate_ratio_hi=float("nan")) == ["behind"]
    assert _limits(achieved=600.0, base_achieved=600.0, rate_ratio_hi=float("nan")) == []
    # the blocks only decide whether a shortfall of the target is the sensor's
    assert _limits(achieved=1000.0, rate_ratio_hi=0.5) == []


def test_blocks_decide_queues_over_the_single_baseline():
    assert _limits(lag_growth_ms=900.0, base_lag_growth_ms=0.0, lag_added_lo_ms=5.0) == []
    assert _limits(lag_growth_ms=900.0, base_lag_growth_ms=890.0,
                   lag_added_lo_ms=25.0) == ["queues"]
    # the added lag's lower end at exactly 20 ms is not above it
    assert _limits(lag_growth_ms=900.0, lag_added_lo_ms=20.0) == []
    assert _limits(lag_growth_ms=900.0, lag_added_lo_ms=20.1) == ["queues"]
    assert _limits(lag_growth_ms=900.0, lag_added_lo_ms=float("nan")) == ["queues"]
    assert _limits(lag_growth_ms=10.0, lag_added_lo_ms=500.0) == []


def test_saturation_reads_the_block_columns_of_its_row():
    row = {"status": "ok", "drop_rate": 0.0, "rate_target": "1000", "rate_achieved": 600.0,
           "schedule_lag_growth_ms": 900.0, "slowdown_ci_low_pct": 0.0}
    short_base = {"rate_achieved": 600.0, "schedule_lag_growth_ms": 890.0}
    assert saturation(row, short_base) == ""
    assert saturation({**row, "rate_ratio_ci_high": 0.8}, short_base) == "behind"
    assert saturation({**row, "lag_growth_added_ci_low_ms": 30.0}, short_base) == "queues"
    fine_base = {"rate_achieved": 1000.0, "schedule_lag_growth_ms": 0.0}
    assert saturation(row, fine_base) == "behind+queues"
    assert saturation({**row, "rate_ratio_ci_high": 1.0,
                       "lag_growth_added_ci_low_ms": 0.0}, fine_base) == ""


# -- schedule lag ------------------------------------------------------------------------

def test_schedule_lag_growth_needs_ten_operations():
    def held(n):
        # each operation 1 ms further behind its schedule than the one before
        intended = np.arange(n) * 10_000_000
        return {"op": np.arange(n), "t_intended": intended,
                "t_issue": intended + np.arange(n) * 1_000_000}

    assert np.isnan(schedule_lag_growth_ms(held(9), False))
    # 10 operations: fifths of 2; lags 0, 1 ms first, 8, 9 ms last: medians 0.5 and 8.5
    assert schedule_lag_growth_ms(held(10), False) == 8.0


def test_schedule_lag_growth_is_in_milliseconds():
    # lag 0 for the first half and exactly 1 ms for the second: 1.0 ms, not 0.999999
    n = 10
    intended = np.arange(n) * 10_000_000
    t = {"op": np.arange(n), "t_intended": intended,
         "t_issue": intended + np.where(np.arange(n) < 5, 0, 1_000_000)}
    assert schedule_lag_growth_ms(t, False) == 1.0


def test_op_times_of_no_operations_are_integer_nanoseconds_like_any_others():
    # the cell's times are saved as they come (optimes-*.npy): an empty ledger gives an
    # empty array of the same int64 ns as a full one, not floats
    t = _truth(np.array([], np.int64), np.array([], np.int64), np.array([], np.int64))
    for closed in (False, True):
        times = op_times(t, closed_loop=closed)
        assert len(times) == 0 and times.dtype == np.int64
    assert op_times(_truth([0, 1], [0, 100], [10, 130]), closed_loop=True).dtype == np.int64
