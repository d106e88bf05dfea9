"""RunData: reading a results folder and combining repeats, on folders built from chosen
numbers (tests.helpers.constructed) whose combined values are worked out by hand here.

Pooled drop rates (missed over expected, never a mean of ratios), percentiles pooled from
the raw events in µs (never averaged) or the median of repeats without them, CPU means,
the between-repeat t-interval, the paired-block estimate and its fallback for old folders,
baselines, statuses, series naming with @host and the sort order; a folder read from its
cells.csv as from its Parquet, and read without writing into it; the series and backends
as the folder's rows and meta.json (a merged folder's inputs) describe them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from bench.core.errors import BadInput
from bench.results.estimates import block_estimate, combine_slowdown
from bench.results.rundata import (RunData, kind_order, rate_order, rate_value,
                                   _saturation_summary, _status)
from bench.results.schema import DTYPES
from tests.helpers.constructed import MACHINE, cell_rows, latency_events, write_folder

NAN = float("nan")
# t quantile of 1 degree of freedom at 97.5 %: the 95 % interval of the mean of two values
# a, b is (a + b) / 2 ± T1 * |a - b| / 2 (sd = |a - b| / sqrt 2, divided by sqrt 2 again)
T1 = 12.706204736


def _t2(a: float, b: float) -> tuple[float, float]:
    mid, half = (a + b) / 2, T1 * abs(a - b) / 2
    return mid - half, mid + half


# -- the main folder: psutil over three repeats (the third failed), two kinds -------------
# proc_exec: 1000 expected / 990 matched, then 3000 / 2990. Pooled: 20 missed of 4000 =
# 0.005; the mean of the two ratios (0.01 and 0.00333) would be 0.00667.
# proc_exit: 500 / 500 twice. The failed repeat (1000 expected, 0 matched) counts nowhere.
REPEATS = [
    dict(exec_exp=1000, exec_mat=990, p50=20.0, p99=29.8, cpu=2.0, cpu_ev=5.0, kern=100.0,
         rss=10.0, sat="drops", gap=3.0, cpu_s=0.2, achieved=1000.0, idle=0.5, lag=5.0,
         slow=(10.0, 5.0, 15.0), dup=1, unm=2, lost=4),
    dict(exec_exp=3000, exec_mat=2990, p50=70.0, p99=99.4, cpu=4.0, cpu_ev=7.0, kern=300.0,
         rss=20.0, sat="slows", gap=4.0, cpu_s=0.3, achieved=990.0, idle=1.5, lag=9.0,
         slow=(20.0, 15.0, 25.0), dup=3, unm=5, lost=None),
]


def _psutil_rows() -> list[dict]:
    rows = []
    for rep, r in enumerate(REPEATS):
        lo = r["slow"]
        rows += cell_rows(
            "psutil", {
                "proc_exec": dict(expected=r["exec_exp"], matched=r["exec_mat"],
                                  latency_p50_us=r["p50"], latency_p99_us=r["p99"],
                                  latency_max_us=r["p99"], duplicates=r["dup"],
                                  unmatched=r["unm"], self_reported_lost=r["lost"]),
                "proc_exit": dict(expected=500, matched=500, latency_p50_us=1000.0,
                                  latency_p99_us=1000.0, duplicates=10, unmatched=20),
            }, repeat=rep, sensor_cpu_pct=r["cpu"], cpu_us_per_event=r["cpu_ev"],
            kernel_ns_per_event=r["kern"], sensor_rss_mb=r["rss"], saturation=r["sat"],
            counter_gap=r["gap"], sensor_cpu_s=r["cpu_s"], rate_achieved=r["achieved"],
            sensor_idle_cpu_pct=r["idle"], schedule_lag_growth_ms=r["lag"],
            slowdown_pct=lo[0], slowdown_ci_low_pct=lo[1], slowdown_ci_high_pct=lo[2])
    # the failed repeat: its numbers (all absurd) must not reach any combined value
    rows += cell_rows("psutil", {k: dict(status="failed", reason="sensor died", matched=0,
                                         latency_p50_us=5000.0, latency_p99_us=5000.0,
                                         duplicates=99, unmatched=99, self_reported_lost=99)
                                 for k in ("proc_exec", "proc_exit")},
                      repeat=2, sensor_cpu_pct=100.0, cpu_us_per_event=100.0,
                      kernel_ns_per_event=1e6, sensor_rss_mb=1e3, saturation="behind",
                      counter_gap=100.0, rate_achieved=10.0, schedule_lag_growth_ms=1000.0,
                      slowdown_pct=900.0)
    return rows


def _baseline_rows() -> list[dict]:
    # two baseline cells at 1000/s: 1000 and 980 achieved (median 990) with lag growth 2 and
    # 4 ms (median 3). The first has two rows (two kinds), the second one: a cell counts
    # once, so neither a mean nor a median over rows would give these numbers.
    return (cell_rows("baseline", ("proc_exec", "proc_exit"), rate_achieved=1000.0,
                      schedule_lag_growth_ms=2.0)
            + cell_rows("baseline", repeat=1, rate_achieved=980.0, schedule_lag_growth_ms=4.0))


def _null_sensor_rows() -> list[dict]:
    # a control that reports no kind: every row unsupported, yet its sensor ran and its CPU
    # is a cost (1.5 % and 2.5 %: mean 2.0), as is its paired-block machine CPU
    return [row for rep, cpu in enumerate((1.5, 2.5)) for row in cell_rows(
        "null_sensor", {"proc_exec": dict(status="unsupported", reason="sees nothing")},
        repeat=rep, sensor_cpu_s=0.1, sensor_cpu_pct=cpu, rate_achieved=1000.0 - 10 * rep,
        sensor_idle_cpu_pct=cpu, blocks_used=2, overhead_ns_per_op=100.0,
        machine_cpu_us_per_op=0.5)]


# Raw latencies (µs) of psutil: proc_exec 10..30 in repeat 0 and 40..100 in repeat 1 (ten
# values 10, 20, ..., 100 pooled), proc_exit a single 1000 µs.
EXEC_EVENTS = {0: [10, 20, 30], 1: [40, 50, 60, 70, 80, 90, 100]}


def _events() -> list[pd.DataFrame]:
    return [latency_events("psutil", "proc_exec", v, repeat=rep)
            for rep, v in EXEC_EVENTS.items()] + [latency_events("psutil", "proc_exit", [1000])]


@pytest.fixture(scope="module")
def folder_rows():
    return _psutil_rows() + _baseline_rows() + _null_sensor_rows()


@pytest.fixture(scope="module")
def run(tmp_path_factory, folder_rows) -> RunData:
    """The main folder, with events.parquet."""
    return RunData.load(write_folder(tmp_path_factory.mktemp("ev"), folder_rows, _events()))


@pytest.fixture(scope="module")
def run_no_events(tmp_path_factory, folder_rows) -> RunData:
    """The same rows without events.parquet."""
    return RunData.load(write_folder(tmp_path_factory.mktemp("noev"), folder_rows))


def _kind(run: RunData, kind: str, series: str = "psutil") -> pd.Series:
    k = run.kinds
    (i,) = k.index[(k["series"] == series) & (k["kind"] == kind)]
    return k.loc[i]


def _cell(run: RunData, series: str = "psutil") -> pd.Series:
    c = run.cells
    (i,) = c.index[c["series"] == series]
    return c.loc[i]


# -- the small functions ------------------------------------------------------------------
def test_rate_value_is_nan_for_closed_loop():
    assert rate_value("1500") == 1500.0 and rate_value("0.5") == 0.5
    assert math.isnan(rate_value("max")) and math.isnan(rate_value(None))


def test_rates_ascend_numerically_with_closed_loop_last():
    # as strings "1000" < "200"; one entry per rate however it is spelled
    assert rate_order(["max", "1000", 200, "200", "50"]) == ["50", "200", "1000", "max"]
    assert rate_order([]) == []


def test_kinds_order_as_the_kind_enum_unknown_last():
    assert kind_order("file_create") == 1 and kind_order("net_send") == 10
    assert kind_order("no_such_kind") == 99


# -- loading ------------------------------------------------------------------------------
def test_load_names_series_by_spec_on_one_host(run):
    assert run.notes == [] and not run.multi_host
    assert set(run.raw["host"]) == {"h"}   # from meta.json's machine
    assert set(run.raw["series"]) == {"psutil", "baseline", "null_sensor"}
    assert list(run.measured["backend"].unique()) == ["psutil", "null_sensor"]
    assert set(run.baseline["backend"]) == {"baseline"} and len(run.baseline) == 3
    assert run.rates() == ["1000"] and run.numeric_rates() == ["1000"]
    assert run.workloads() == ["process"]
    assert str(run.raw["kind"].dtype) == "string" and str(run.raw["rate_target"].dtype) == "string"


def test_load_rejects_a_missing_folder(tmp_path):
    with pytest.raises(BadInput, match="not a results folder"):
        RunData.load(tmp_path / "nope")


def test_unreadable_meta_is_an_error_or_with_strict_meta_off_a_note(tmp_path):
    d = write_folder(tmp_path / "r", cell_rows("psutil"))
    (d / "meta.json").write_text("{not json")
    with pytest.raises(BadInput):
        RunData.load(d)
    run = RunData.load(d, strict_meta=False)
    assert run.meta == {}
    (note,) = run.notes
    assert "meta.json" in note and note.endswith("machine facts and settings are not shown")
    # no host to read: the host is empty and the series is the spec alone
    assert set(run.raw["host"]) == {""} and set(run.raw["series"]) == {"psutil"}


def test_failure_scenario_cells_are_left_out(tmp_path):
    rows = cell_rows("psutil") + cell_rows("psutil", rate="2000", scenario="crash")
    run = RunData.load(write_folder(tmp_path / "r", rows))
    assert list(run.raw["rate_target"]) == ["1000"] and run.rates() == ["1000"]
    assert list(run.raw.index) == [0]
    assert run.scenarios is None and run.timeline is None


def test_a_folder_read_from_its_csv_reads_as_from_its_parquet(tmp_path):
    # Only cells.csv (a folder copied without its Parquet), where rates are numbers: the
    # rates, kinds and hosts read as text as the Parquet's do, so the raw latencies (keyed
    # by the rate as text) are found and pooled. raw holds the folder's columns, the
    # estimates, the host, the run and the series: nothing else, whatever was filtered out.
    rows = cell_rows("psutil") + cell_rows("psutil", rate="2000", scenario="crash")
    folder = write_folder(tmp_path / "r", rows,
                          [latency_events("psutil", "proc_exec", [10.0, 20.0, 30.0])])
    (folder / "cells.parquet").unlink()
    run = RunData.load(folder)
    assert {c: str(run.raw[c].dtype) for c in ("kind", "rate_target", "host")} == dict.fromkeys(
        ("kind", "rate_target", "host"), "string")
    assert run.rates() == ["1000"] and _kind(run, "proc_exec")["latency_p50_us"] == 20.0
    assert set(run.raw.columns) - set(DTYPES) == {"series"}


def test_reading_a_folder_writes_nothing(tmp_path):
    # a folder that is not a results folder is refused as such and left as it was: reading
    # opens the store without making anything (a run opening it would make .parts)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="is not a sensorbench results folder"):
        RunData.load(tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []


def test_several_hosts_name_series_spec_at_host(tmp_path):
    rows = [r for h, got in (("a", 1000.0), ("b", 800.0))
            for r in cell_rows("baseline", host=h, rate_achieved=got) + cell_rows(
                "psutil", {"proc_exec": dict(matched=1000 if h == "a" else 900)}, host=h)]
    # host b's events carry their host; the file has the column, so host a's rows need it too
    ev = [latency_events("psutil", "proc_exec", [5.0], host="a"),
          latency_events("psutil", "proc_exec", [7.0, 9.0], host="b")]
    run = RunData.load(write_folder(tmp_path / "r", rows, ev))
    assert run.multi_host
    assert list(run.series_info()["series"]) == ["psutil@a", "psutil@b"]
    c = run.cells.set_index("series")
    assert c.loc["psutil@a", "drop_rate"] == 0 and c.loc["psutil@b", "drop_rate"] == 0.1
    # each host is compared with its own baseline
    assert c.loc["psutil@a", "baseline_rate_achieved"] == 1000.0
    assert c.loc["psutil@b", "baseline_rate_achieved"] == 800.0
    assert c.loc["psutil@b", "latency_p50_us"] == 8.0   # (7 + 9) / 2, host a's 5 left out
    assert list(run.latencies_us("psutil@a", "process", "1000")) == [5.0]


def test_events_without_a_host_column_belong_to_the_first_host(tmp_path):
    rows = [r for h in ("a", "b") for r in cell_rows("psutil", host=h)]
    run = RunData.load(write_folder(tmp_path / "r", rows,
                                    [latency_events("psutil", "proc_exec", [3.0])]))
    assert set(run.events["series"]) == {"psutil@a"}
    assert list(run.latencies_us("psutil@a", "process", "1000", "proc_exec")) == [3.0]
    assert len(run.latencies_us("psutil@b", "process", "1000", "proc_exec")) == 0


def test_series_kernel_first_then_user_then_calibration_then_the_rest(tmp_path):
    rows = (cell_rows("zz_user") + cell_rows("aa_other", mode="other")
            + cell_rows("bb_calib", mode="calibration") + cell_rows("yy_kernel", mode="kernel")
            + cell_rows("cc_user") + cell_rows("cc_user", repeat=1))
    info = RunData.load(write_folder(tmp_path / "r", rows)).series_info()
    assert list(info["series"]) == ["yy_kernel", "cc_user", "zz_user", "bb_calib", "aa_other"]
    assert list(info.columns) == ["series", "backend", "spec", "mode", "mechanism", "host"]
    assert list(info.index) == [0, 1, 2, 3, 4]


def test_rates_and_workloads_of_the_measured_cells(tmp_path):
    rows = (cell_rows("psutil", workload="file", rate="max")
            + cell_rows("psutil", workload="process", rate="200")
            + cell_rows("psutil", workload="file", rate="1000")
            + cell_rows("baseline", workload="network", rate="5"))   # baselines don't count
    run = RunData.load(write_folder(tmp_path / "r", rows))
    assert run.rates() == ["200", "1000", "max"] and run.numeric_rates() == ["200", "1000"]
    assert run.workloads() == ["file", "process"]


@pytest.mark.parametrize("rules,limit", [(None, 100.0), ({"overhead_limit_pct": 20}, 20.0),
                                         ({"overhead_limit_pct": "lots"}, 100.0)])
def test_overhead_limit_comes_from_the_run_rules(tmp_path, rules, limit):
    meta = {"machine": MACHINE, **({"rules": rules} if rules else {})}
    run = RunData.load(write_folder(tmp_path / "r", cell_rows("psutil"), meta=meta))
    assert run.overhead_limit_pct == limit and isinstance(run.overhead_limit_pct, float)


# -- pooled drops and combined statuses ---------------------------------------------------
def test_drops_are_pooled_over_the_repeats_that_ran(run):
    k = _kind(run, "proc_exec")
    assert k["status"] == "ok" and k["reason"] == "" and k["repeats"] == 3
    assert (k["expected"], k["matched"]) == (4000, 3980)   # the failed repeat left out
    assert k["drop_rate"] == pytest.approx(20 / 4000)
    assert k["drop_rate_min"] == pytest.approx(10 / 3000)
    assert k["drop_rate_max"] == pytest.approx(10 / 1000)
    assert (k["duplicates"], k["unmatched"], k["self_reported_lost"]) == (4, 7, 4)
    k = _kind(run, "proc_exit")
    assert k["drop_rate"] == 0 and k["drop_rate_max"] == 0 and k["expected"] == 1000
    assert pd.isna(k["self_reported_lost"])   # no repeat reported a loss count


def test_a_kind_that_never_ran_keeps_its_status_and_expected_count(tmp_path):
    rows = (cell_rows("psutil", {"proc_exec": dict(status="failed", reason="crashed",
                                                   matched=None, expected=700)})
            + cell_rows("psutil", {"proc_exec": dict(status="skipped", reason="busy",
                                                     matched=None, expected=300)}, repeat=1))
    (k,) = RunData.load(write_folder(tmp_path / "r", rows)).kinds.itertuples()
    assert (k.status, k.reason, k.expected, k.matched) == ("failed", "crashed", 1000, 0)
    assert math.isnan(k.drop_rate) and math.isnan(k.drop_rate_min)
    assert math.isnan(k.drop_rate_max) and math.isnan(k.latency_p50_us)
    assert math.isnan(k.latency_p50_us_block_lo) and math.isnan(k.latency_p99_us_max)


def test_a_kind_with_nothing_expected_has_no_drop_rate(tmp_path):
    rows = cell_rows("psutil", {"proc_exec": dict(expected=0, matched=0)})
    (k,) = RunData.load(write_folder(tmp_path / "r", rows)).kinds.itertuples()
    assert k.status == "ok" and math.isnan(k.drop_rate) and math.isnan(k.drop_rate_min)


@settings(max_examples=10)
@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 5000)), min_size=1, max_size=4))
def test_pooled_drop_rate_is_total_missed_over_total_expected(tmp_path_factory, repeats):
    """For any repeats: the combined drop rate is sum(expected - matched) / sum(expected),
    bounded by the per-repeat extremes."""
    repeats = [(e, min(m, e)) for e, m in repeats]
    rows = [r for i, (e, m) in enumerate(repeats)
            for r in cell_rows("psutil", {"proc_exec": dict(expected=e, matched=m)}, repeat=i)]
    run = RunData.load(write_folder(tmp_path_factory.mktemp("p"), rows))
    (k,) = run.kinds.itertuples()
    total_e = sum(e for e, _ in repeats)
    missed = sum(e - m for e, m in repeats)
    assert k.drop_rate == pytest.approx(missed / total_e, abs=1e-12)
    ratios = [(e - m) / e for e, m in repeats]
    assert k.drop_rate_min == pytest.approx(min(ratios)) and k.drop_rate_max == pytest.approx(
        max(ratios))
    assert min(ratios) - 1e-12 <= k.drop_rate <= max(ratios) + 1e-12


def test_status_ok_if_any_repeat_ran():
    g = pd.DataFrame({"status": ["failed", "ok", None], "reason": ["x", "", None]})
    assert _status(g) == ("ok", "")


def test_unsupported_wins_over_a_skipped_repeat():
    g = pd.DataFrame({"status": ["skipped", "unsupported"], "reason": ["busy", "no hook"]})
    assert _status(g) == ("unsupported", "no hook")
    g = pd.DataFrame({"status": ["unsupported"], "reason": [None]})
    assert _status(g) == ("unsupported", "")


def test_failed_or_skipped_reports_its_first_reason():
    g = pd.DataFrame({"status": pd.array(["other", "skipped", "failed"], dtype="string"),
                      "reason": pd.array(["?", "busy", "died"], dtype="string")})
    assert _status(g) == ("skipped", "busy")
    # a missing status counts as a failure (it comes before the skipped repeat); a missing
    # reason is empty
    g = pd.DataFrame({"status": pd.array([None, "skipped"], dtype="string"),
                      "reason": pd.array(["lost", "busy"], dtype="string")})
    assert _status(g)[1] == "lost"
    g = pd.DataFrame({"status": pd.array(["failed"], dtype="string"),
                      "reason": pd.array([None], dtype="string")})
    assert _status(g) == ("failed", "")
    g = pd.DataFrame({"status": pd.array(["other"], dtype="string"),
                      "reason": pd.array(["why"], dtype="string")})
    assert _status(g) == ("other", "why")


def test_saturation_flags_of_any_repeat_in_a_fixed_order():
    assert _saturation_summary(pd.Series(["slows", None, "drops+behind", ""])) == "drops+slows"
    assert _saturation_summary(pd.Series(["slows+slows"])) == "slows"
    assert _saturation_summary(pd.Series([None, ""], dtype="string")) == ""


# -- latency percentiles: pooled from the raw events, in µs -------------------------------
def test_percentiles_are_pooled_from_the_raw_events_in_microseconds(run):
    k = _kind(run, "proc_exec")
    # ten values 10, 20, ..., 100 µs: p50 halfway between 50 and 60, p90 = 10 + 0.9 * 90,
    # p99 = 10 + 0.99 * 90, p99.9 = 10 + 0.999 * 90; the median of the per-repeat p50s
    # (20 and 70) would be 45
    assert k["latency_p50_us"] == pytest.approx(55.0)
    assert k["latency_p90_us"] == pytest.approx(91.0)
    assert k["latency_p99_us"] == pytest.approx(99.1)
    assert k["latency_p999_us"] == pytest.approx(99.91)
    assert k["latency_max_us"] == pytest.approx(100.0)
    assert _kind(run, "proc_exit")["latency_p99_us"] == pytest.approx(1000.0)
    assert run.notes == []


def test_min_max_and_block_interval_come_from_the_repeats_that_ran(run):
    k = _kind(run, "proc_exec")
    assert (k["latency_p50_us_min"], k["latency_p50_us_max"]) == (20.0, 70.0)
    assert (k["latency_p99_us_min"], k["latency_p99_us_max"]) == (29.8, 99.4)
    assert (k["latency_max_us_min"], k["latency_max_us_max"]) == (29.8, 99.4)
    assert (k["latency_p50_us_block_lo"], k["latency_p50_us_block_hi"]) == pytest.approx(
        _t2(20.0, 70.0))
    assert (k["latency_p99_us_block_lo"], k["latency_p99_us_block_hi"]) == pytest.approx(
        _t2(29.8, 99.4))
    assert "latency_p90_us_block_lo" not in k.index


def test_cell_percentiles_pool_every_kind(run):
    # eleven values: 10..100 and 1000 -> p50 is the 6th (60); p99 at rank 9.9, 90 % of
    # the way from 100 to 1000
    c = _cell(run)
    assert c["latency_p50_us"] == pytest.approx(60.0)
    assert c["latency_p99_us"] == pytest.approx(910.0)
    assert list(run.latencies_us("psutil", "process", "1000", "proc_exec")) == list(
        np.arange(10.0, 101.0, 10.0))
    assert sorted(run.latencies_us("psutil", "process", "1000")) == [
        *np.arange(10.0, 101.0, 10.0), 1000.0]
    assert len(run.latencies_us("psutil", "process", "2000")) == 0
    assert len(run.latencies_us("psutil", "process", "1000", "net_send")) == 0


def test_without_events_percentiles_are_medians_of_repeats_and_a_note_says_so(tmp_path,
                                                                             folder_rows):
    # a folder of its own: the shared one's views are computed once, by whichever test
    # reads them first, and only that test would see a mistake in computing them
    run = RunData.load(write_folder(tmp_path / "noev", folder_rows))
    k = _kind(run, "proc_exec")
    assert k["latency_p50_us"] == 45.0 and k["latency_p99_us"] == pytest.approx(64.6)
    assert run.events is None and len(run.latencies_us("psutil", "process", "1000")) == 0
    assert any(n.startswith("no events.parquet") for n in run.notes)
    # the cell: the median of the kinds' p50s (45 and 1000), the worst kind's p99 (1000)
    c = _cell(run)
    assert c["latency_p50_us"] == pytest.approx(522.5) and c["latency_p99_us"] == 1000.0


def test_an_unreadable_events_file_is_a_note_not_an_error(tmp_path):
    d = write_folder(tmp_path / "r", cell_rows("psutil", {"proc_exec": dict(
        latency_p50_us=7.0)}))
    (d / "events.parquet").write_bytes(b"not parquet")
    run = RunData.load(d)
    assert run.kinds["latency_p50_us"].tolist() == [7.0]
    assert run.events is None
    assert any(n.startswith(f"cannot read {d / 'events.parquet'}") for n in run.notes)


def test_an_events_file_without_latencies_is_a_note(tmp_path):
    ev = latency_events("psutil", "proc_exec", [1.0]).drop(columns=["latency_ns", "kind"])
    run = RunData.load(write_folder(tmp_path / "r", cell_rows("psutil"), [ev]))
    assert run.events is None
    (note,) = run.notes
    assert "columns missing: kind, latency_ns" in note
    assert note.endswith("latency percentiles are the per-repeat medians of cells.parquet")


def test_an_empty_events_file_gives_no_latencies(tmp_path):
    ev = latency_events("psutil", "proc_exec", [])
    run = RunData.load(write_folder(tmp_path / "r", cell_rows("psutil", {"proc_exec": dict(
        latency_p50_us=7.0)}), [ev]))
    assert run.events is not None and len(run.latencies_us("psutil", "process", "1000")) == 0
    assert run.kinds["latency_p50_us"].tolist() == [7.0]


# -- per cell and combined cell -----------------------------------------------------------
def test_per_cell_pools_drops_over_kinds(run):
    pc = run.per_cell
    pc = pc[pc["series"] == "psutil"].set_index("repeat")
    # repeat 0: 10 missed of 1500 over both kinds; its worst kind lost 1 %
    assert pc.loc[0, "drop_rate"] == pytest.approx(10 / 1500)
    assert pc.loc[0, "drop_rate_worst"] == pytest.approx(0.01)
    assert pc.loc[1, "drop_rate"] == pytest.approx(10 / 3500)
    assert pc.loc[2, "status"] == "failed" and pc.loc[2, "reason"] == "sensor died"
    assert math.isnan(pc.loc[2, "drop_rate"]) and math.isnan(pc.loc[2, "drop_rate_worst"])
    assert pc.loc[1, "sensor_cpu_pct"] == 4.0 and pc.loc[1, "counter_gap"] == 4.0
    assert pc.loc[0, "cell"] == "psutil|process|1000|0"
    assert pc.loc[0, "sensor_idle_cpu_pct"] == 0.5
    assert pc.loc[0, "slowdown_ci_low_pct"] == 5.0


def test_combined_cell_pools_drops_and_averages_cpu_over_repeats_that_ran(run):
    c = _cell(run)
    assert (c["status"], c["repeats"], c["kinds_supported"], c["kinds_total"],
            c["kinds_seen"]) == ("ok", 3, 2, 2, 2)
    assert c["drop_rate"] == pytest.approx(20 / 5000)     # 20 missed of 4000 + 1000
    assert c["drop_rate_worst"] == pytest.approx(20 / 4000)
    # means of the two repeats that ran (the failed one's 100 % CPU left out)
    assert c["rate_achieved"] == 995.0 and c["sensor_cpu_pct"] == 3.0
    assert (c["cpu_us_per_event"], c["cpu_us_per_event_min"], c["cpu_us_per_event_max"]) == (
        6.0, 5.0, 7.0)
    assert c["kernel_ns_per_event"] == 200.0 and c["sensor_rss_mb"] == 15.0
    assert c["sensor_idle_cpu_pct"] == 1.0 and c["schedule_lag_growth_ms"] == 9.0
    assert c["saturation"] == "drops+slows" and c["counter_gap"] == 7.0
    assert (c["backend"], c["spec"], c["host"], c["mode"], c["mechanism"], c["workload"]) == (
        "psutil", "psutil", "h", "user", "test", "process")


def test_the_baselines_rate_is_their_median_one_held_back_baseline_does_not_move_it(tmp_path):
    rows = _baseline_rows() + cell_rows("baseline", repeat=2, rate_achieved=400.0,
                                        schedule_lag_growth_ms=4.0) + cell_rows("psutil")
    c = _cell(RunData.load(write_folder(tmp_path / "r", rows)))
    assert c["baseline_rate_achieved"] == 980.0     # of 1000, 980, 400 (the mean: 793)


def test_combined_cell_reads_its_baselines_one_value_per_cell(tmp_path):
    # a folder of its own: the shared one's combined rows are computed once, in whichever
    # test reads them first, and a mistake there would be seen only by that test
    c = _cell(RunData.load(write_folder(tmp_path / "r", _baseline_rows() + cell_rows("psutil"))))
    assert c["baseline_rate_achieved"] == 990.0     # the median of 1000 and 980
    assert c["baseline_lag_growth_ms"] == 3.0       # median of 2 and 4


def test_old_folder_slowdown_combines_the_repeats(run):
    # slowdowns 10 and 20 (CIs 5..15, 15..25): the mean, and the wider of the mean CI
    # (10..20) and the t-interval of the two points
    c = _cell(run)
    lo, hi = _t2(10.0, 20.0)
    assert c["slowdown_pct"] == 15.0
    assert (c["slowdown_ci_low_pct"], c["slowdown_ci_high_pct"]) == pytest.approx((lo, hi))
    assert math.isnan(c["overhead_ns_per_op"]) and math.isnan(c["rate_ratio_ci_high"])


def test_a_control_without_kinds_still_has_its_cost(run):
    c = _cell(run, "null_sensor")
    assert c["status"] == "unsupported" and c["reason"] == "sees nothing"
    assert c["kinds_supported"] == 0 and c["kinds_total"] == 1
    assert c["sensor_cpu_pct"] == 2.0 and c["rate_achieved"] == 995.0
    assert c["sensor_idle_cpu_pct"] == 2.0
    assert c["machine_cpu_us_per_op"] == 0.5 and c["overhead_ns_per_op"] == 100.0
    assert math.isnan(c["drop_rate"]) and math.isnan(c["drop_rate_worst"])
    assert math.isnan(c["latency_p50_us"])


def test_a_folder_from_before_lag_growth_has_no_baseline_lag(tmp_path):
    # cells.parquet written before the schedule lag was measured: no such column
    folder = write_folder(tmp_path / "r", _baseline_rows() + cell_rows("psutil"))
    cells = pd.read_parquet(folder / "cells.parquet").drop(columns="schedule_lag_growth_ms")
    cells.to_parquet(folder / "cells.parquet", index=False)
    (c,) = RunData.load(folder).cells.to_dict("records")
    assert c["baseline_rate_achieved"] == 990.0 and math.isnan(c["baseline_lag_growth_ms"])


def test_without_baselines_the_baseline_values_are_nan(tmp_path):
    run = RunData.load(write_folder(tmp_path / "r", cell_rows("psutil")))
    (c,) = run.cells.itertuples()
    assert math.isnan(c.baseline_rate_achieved) and math.isnan(c.baseline_lag_growth_ms)
    assert math.isnan(c.counter_gap) and math.isnan(c.schedule_lag_growth_ms)
    assert math.isnan(c.latency_p50_us)


BLOCKS = dict(slowdown_pct=30.0, slowdown_ci_low_pct=20.0, slowdown_ci_high_pct=40.0,
              overhead_ns_per_op=500.0, overhead_ci_low_ns=300.0, overhead_ci_high_ns=700.0,
              blocks_used=4, blocks_dropped=1, machine_cpu_us_per_op=12.0,
              machine_cpu_ci_low_us=10.5, machine_cpu_ci_high_us=13.5, rate_ratio=0.97,
              rate_ratio_ci_high=0.99, lag_growth_added_ms=1.0, lag_growth_added_ci_low_ms=-2.0)


def test_paired_block_estimate_is_carried_to_the_combined_cell(tmp_path):
    rows = (cell_rows("ebpf", mode="kernel", **BLOCKS)
            + cell_rows("ebpf", mode="kernel", repeat=1, **BLOCKS))
    (c,) = RunData.load(write_folder(tmp_path / "r", rows)).cells.to_dict("records")
    assert {k: c[k] for k in BLOCKS} == BLOCKS


def test_machine_cpu_is_carried_to_the_combined_rows(tmp_path):
    """RunData.cells carries the paired-block machine CPU estimate per series x workload x
    rate like the overhead; a folder without the columns gives NaN."""
    def folder(name, machine_cpu):
        rows = []
        for rate, k in (("100", 10), ("1000", 1)):
            fields = {**BLOCKS, **{c: BLOCKS[c] * k for c in (
                "machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us")}}
            rows += cell_rows("ebpf", rate=rate, **fields)
        d = write_folder(tmp_path / name, rows)
        if not machine_cpu:   # a folder from before the columns existed
            cells = pd.read_parquet(d / "cells.parquet")
            cells.drop(columns=[c for c in cells if c.startswith("machine_cpu")]).to_parquet(
                d / "cells.parquet", index=False)
        return RunData.load(d).cells.set_index("rate_target")

    c = folder("new", True)
    assert c.loc["1000", "machine_cpu_us_per_op"] == 12.0
    assert c.loc["100", "machine_cpu_ci_high_us"] == 135.0
    old = folder("old", False)
    for col in ("machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us"):
        assert old[col].isna().all(), col
    assert (old["overhead_ns_per_op"] == 500.0).all()


def test_marginal_cost_is_the_mean_with_the_range_of_its_repeats_intervals(tmp_path):
    """Two repeats, 40 ± 6 and 50 ± 8 µs/event: the mean 45, and 34..58, where both
    intervals lie (not a mean of their bounds, 38..54). A folder from before the interval
    keeps the mean and the range of the points; per cell, each repeat keeps its own."""
    def folder(name, bounds):
        rows = []
        for rep, (p, h) in enumerate(((40.0, 6.0), (50.0, 8.0))):
            extra = dict(sensor_marginal_ci_low_us=p - h, sensor_marginal_ci_high_us=p + h) \
                if bounds else {}
            rows += cell_rows("ebpf", ("proc_exec", "proc_exit"), repeat=rep, mode="kernel",
                              sensor_cpu_s=0.1, sensor_marginal_us_per_event=p, **extra)
        return RunData.load(write_folder(tmp_path / name, rows))

    run = folder("new", True)
    c = run.cells.iloc[0]
    assert (c["sensor_marginal_us_per_event"], c["sensor_marginal_ci_low_us"],
            c["sensor_marginal_ci_high_us"]) == (45.0, 34.0, 58.0)
    pc = run.per_cell.sort_values("repeat")
    assert pc["sensor_marginal_ci_low_us"].tolist() == [34.0, 42.0]
    old = folder("old", False).cells.iloc[0]
    assert (old["sensor_marginal_us_per_event"], old["sensor_marginal_ci_low_us"],
            old["sensor_marginal_ci_high_us"]) == (45.0, 40.0, 50.0)


# -- block_estimate and combine_slowdown on their own --------------------------------------
def test_block_estimate_reads_the_first_cell_with_blocks():
    cells = pd.DataFrame([{**{k: NAN for k in BLOCKS}, "slowdown_pct": 99.0},
                          BLOCKS, {**BLOCKS, "overhead_ns_per_op": 1.0}])
    assert block_estimate(cells) == BLOCKS


def test_block_estimate_without_machine_cpu_columns_gives_nan():
    cells = pd.DataFrame([{k: v for k, v in BLOCKS.items() if not k.startswith(
        ("machine_cpu", "rate_ratio", "lag_growth"))}])
    out = block_estimate(cells)
    assert out["overhead_ns_per_op"] == 500.0 and out["blocks_used"] == 4
    for k in ("machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us",
              "rate_ratio", "rate_ratio_ci_high", "lag_growth_added_ms",
              "lag_growth_added_ci_low_ms"):
        assert math.isnan(out[k]), k


def test_block_estimate_of_an_old_folder_falls_back_to_the_repeats():
    old = {"slowdown_pct": [10.0, 20.0], "slowdown_ci_low_pct": [5.0, 15.0],
           "slowdown_ci_high_pct": [15.0, 25.0]}
    for cells in (pd.DataFrame(old),   # no block columns at all
                  pd.DataFrame({**old, "overhead_ns_per_op": [NAN, NAN],
                                "blocks_used": [NAN, NAN]})):
        out = block_estimate(cells)
        assert out["slowdown_pct"] == 15.0
        assert (out["slowdown_ci_low_pct"], out["slowdown_ci_high_pct"]) == pytest.approx(
            _t2(10.0, 20.0))
        rest = {k: v for k, v in out.items() if not k.startswith("slowdown")}
        assert set(rest) == set(BLOCKS) - {"slowdown_pct", "slowdown_ci_low_pct",
                                           "slowdown_ci_high_pct"}
        assert all(math.isnan(v) for v in rest.values()), rest


def _slowdown(points, lows, highs) -> tuple:
    out = combine_slowdown(pd.Series(points, dtype=float), pd.Series(lows, dtype=float),
                           pd.Series(highs, dtype=float))
    return out["slowdown_pct"], out["slowdown_ci_low_pct"], out["slowdown_ci_high_pct"]


def test_combine_slowdown_of_no_points_is_nan():
    assert all(math.isnan(v) for v in _slowdown([NAN], [1.0], [2.0]))


def test_combine_slowdown_of_one_point_keeps_its_ci():
    assert _slowdown([10.0, NAN], [4.0, NAN], [18.0, NAN]) == (10.0, 4.0, 18.0)


def test_combine_slowdown_takes_the_wider_interval():
    # t-interval of 10 and 10.2: 10.1 ± 1.27; the mean CI 0..30 is wider on both sides
    assert _slowdown([10.0, 10.2], [0.0, 0.0], [30.0, 30.0]) == pytest.approx((10.1, 0.0, 30.0))
    # ...and narrower on both sides here: the t-interval is taken
    assert _slowdown([10.0, 10.2], [10.0, 10.0], [10.2, 10.2]) == pytest.approx(
        (10.1, *_t2(10.0, 10.2)))
    # repeats without their own CI: the t-interval alone
    assert _slowdown([10.0, 20.0], [NAN, NAN], [NAN, NAN]) == pytest.approx(
        (15.0, *_t2(10.0, 20.0)))


def test_combine_slowdown_cannot_go_below_minus_100_percent():
    lo_t, hi_t = _t2(-90.0, -10.0)
    assert lo_t < -100
    assert _slowdown([-90.0, -10.0], [-95.0, -15.0], [-85.0, -5.0]) == pytest.approx(
        (-50.0, -100.0, hi_t))
    assert _slowdown([-50.0], [-120.0], [10.0]) == (-50.0, -100.0, 10.0)
    out = _slowdown([-50.0], [NAN], [NAN])
    assert out[0] == -50.0 and math.isnan(out[1]) and math.isnan(out[2])


# -- order of the combined rows ------------------------------------------------------------
def test_combined_rows_sort_by_workload_mode_series_rate_and_kind(tmp_path):
    kinds = ("weird_kind", "proc_exec", "proc_fork")   # by Kind: fork 5, exec 6, unknown last
    rows = [r for spec, mode, wl, rate in (
        ("b_user", "user", "process", "max"), ("b_user", "user", "process", "1000"),
        ("b_user", "user", "process", "200"), ("a_user", "user", "process", "200"),
        ("z_kernel", "kernel", "process", "200"), ("b_user", "user", "file", "200"))
        for r in cell_rows(spec, kinds, mode=mode, workload=wl, rate=rate)]
    run = RunData.load(write_folder(tmp_path / "r", rows))
    order = [("file", "b_user", "200"), ("process", "z_kernel", "200"),
             ("process", "a_user", "200"), ("process", "b_user", "200"),
             ("process", "b_user", "1000"), ("process", "b_user", "max")]
    c = run.cells
    assert list(zip(c["workload_spec"], c["series"], c["rate_target"])) == order
    assert list(c.index) == list(range(6))
    k = run.kinds
    assert list(zip(k["workload_spec"], k["series"], k["rate_target"])) == [
        o for o in order for _ in kinds]
    assert list(k["kind"][:3]) == ["proc_fork", "proc_exec", "weird_kind"]
    # no column of the sort's own is left, nor the rows' places before it
    assert not {"_m", "_r", "_k", "index"} & (set(k.columns) | set(c.columns))


def test_a_folder_without_measured_cells_has_empty_views(tmp_path):
    """Only baseline cells (a run stopped after its first block's baseline): empty combined
    views, as callers expect (max_sustainable returns nothing for empty cells), not a
    KeyError."""
    run = RunData.load(write_folder(tmp_path / "r", cell_rows("baseline")))
    assert run.kinds.empty and run.cells.empty and run.per_cell.empty
    assert run.rates() == [] and run.workloads() == [] and run.notes == []


# -- the series and backends, as the folder describes them -----------------------------------
def _info(**row) -> dict:
    return {"series": "psutil", "backend": "psutil", "spec": "psutil", "mode": "user",
            "mechanism": "procfs", "host": "h", **row}


def test_series_info_is_one_row_per_series_as_its_first_row_says():
    # two runs of one machine, by versions that named psutil's mechanism differently
    raw = pd.DataFrame([_info(), _info(mechanism="procfs polling"),
                        _info(series="baseline", backend="baseline", spec="baseline")])
    assert RunData(Path("r"), raw, {}).series_info().to_dict("records") == [_info()]


def test_backend_records_of_a_merged_folder_come_from_every_input():
    """Each input's records, the first input's where two name one backend; a record
    without a name (hand-written) is the backend its spec names."""
    def rec(name, mechanism):
        return {"name": name, "mode": "user", "mechanism": mechanism}

    meta = {"merged_from": [
        {"host": "a", "meta": {"backends": {"psutil:interval=0.5": rec("psutil", "procfs"),
                                            "fatrace": rec("fatrace", "fanotify")}}},
        {"host": "b"},   # no meta kept
        {"host": "c", "meta": {"backends": {"psutil": rec("psutil", "procfs polling"),
                                            "auditd:rules=exec": {"mode": "kernel"}}}},
    ]}
    assert RunData(Path("m"), pd.DataFrame(), meta).backend_records() == {
        "psutil": rec("psutil", "procfs"), "fatrace": rec("fatrace", "fanotify"),
        "auditd": {"mode": "kernel"}}
