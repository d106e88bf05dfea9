"""``bench.results.compare`` on numbers and on constructed results folders whose answer is
known: the verdict rule (direction, minimum effect, significance), the noise intervals each
side is judged with, the pairing of specs, gated against shown-only metrics, ``--fail-on``,
the exit codes (2 wins over 1) and the failure scenarios' outcome ranks.

Folders are written by ``tests.helpers.constructed`` through the real store and read with
``RunData.load``; ``compare(...)`` is called directly, never the CLI. The end-to-end checks
on real runs stay in ``tests/integration/test_compare_runs.py``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.core.errors import BadInput
from bench.results import compare as cmp_mod
from bench.results.compare import (METRICS, Comparison, Row, Side, cell_side, compare,
                                   compare_scenarios, cpu_resolution, kind_side, pair_specs,
                                   parse_fail_on, quantile_ci, to_json, verdict, wilson)
from bench.results.rundata import RunData
from bench.results.store import scenarios_frame
from tests.helpers.constructed import MACHINE, cell_rows, latency_events, write_folder

NAN = math.nan
NO = Side(NAN, NAN, NAN)
GATED = {"latency_p50", "drop_rate", "cpu_us_per_event", "slowdown", "overhead"}
SHOWN = {"latency_p99", "sensor_cpu_pct", "machine_cpu"}


# the CPU resolution is two clock ticks, pinned to 10 ms each
pytestmark = pytest.mark.usefixtures("ten_ms_ticks")


def sides(row: Row) -> tuple:
    return (row.base.value, row.base.lo, row.base.hi), (row.new.value, row.new.lo, row.new.hi)


# -- the verdict rules, on numbers -----------------------------------------------------------
P50, P99 = METRICS["latency_p50"], METRICS["latency_p99"]


@pytest.mark.parametrize("base,new,expect", [
    (Side(1000, 900, 1100), Side(2000, 1800, 2200), "regression"),       # 2x, separated
    (Side(1000, 500, 1900), Side(2000, 1200, 2600), "not significant"),  # 2x, overlapping
    (Side(1000, 900, 1100), Side(1050, 1000, 1100), "same"),             # below the factor
    (Side(10, 9, 11), Side(40, 39, 41), "same"),                         # 4x but 30 µs < floor
    (Side(1000, math.nan, math.nan), Side(2000, math.nan, math.nan), "uncertain"),  # no noise
    (Side(2000, 1800, 2200), Side(1000, 900, 1100), "improvement"),
])
def test_verdict_rules(base, new, expect):
    assert verdict(P99, base, new, 1.10) == expect


def test_slowdown_is_judged_in_points():
    m = METRICS["slowdown"]
    assert verdict(m, Side(0.5, -1, 2), Side(3, 2.5, 3.5), 1.1) == "same"          # 2.5 points
    assert verdict(m, Side(0.5, -1, 2), Side(12, 10, 14), 1.1) == "regression"     # 11.5 points


def test_an_absolute_metric_ignores_the_factor():
    # slowdown 100 -> 106 %: ratio 1.06 is under any factor, but 6 points >= the 5-point
    # floor, and slowdown is judged on the absolute change only
    m = METRICS["slowdown"]
    assert verdict(m, Side(100, 99, 101), Side(106, 105, 107), 1.1) == "regression"
    assert verdict(m, Side(106, 105, 107), Side(100, 99, 101), 1.1) == "improvement"


@pytest.mark.parametrize("base,new,expect", [
    # p50 floor 20 µs, factor 1.2: 100 -> 120 is exactly both (20 µs, x1.2): it counts
    (Side(100, 95, 105), Side(120, 115, 125), "regression"),
    (Side(100, 95, 105), Side(119.9, 115, 125), "same"),                 # 19.9 µs < floor
    (Side(120, 115, 125), Side(100, 95, 105), "improvement"),            # the same, downwards
    (Side(1000, 990, 1010), Side(1200, 1190, 1210), "regression"),       # x1.2 exactly
    (Side(1000, 990, 1010), Side(1199, 1190, 1210), "same"),             # x1.199
    (Side(1200, 1190, 1210), Side(1000, 990, 1010), "improvement"),      # 1200/1000 = 1.2
    (Side(1199, 1190, 1210), Side(1000, 990, 1010), "same"),
])
def test_the_minimum_effect_counts_from_its_floor_and_factor(base, new, expect):
    assert verdict(P50, base, new, 1.2) == expect


def test_from_zero_any_change_past_the_floor_is_big():
    # no ratio from 0: the floor alone decides (and no division by zero)
    assert verdict(P50, Side(0, 0, 1), Side(30, 25, 35), 1.1) == "regression"
    assert verdict(P50, Side(30, 25, 35), Side(0, 0, 1), 1.1) == "improvement"


@pytest.mark.parametrize("base,new", [
    (Side(1.0, 0.9, 1.05), Side(1.15, 1.1, 1.2)),     # +0.15 points, x1.15
    (Side(0.6, 0.5, 0.65), Side(0.71, 0.7, 0.8)),     # +0.11 points, x1.18
])
def test_below_one_the_ratio_still_counts(base, new):
    # Past the 0.1-point floor, intervals apart, but under the factor 1.2: a base under 1
    # is judged by its ratio like any other; only a base of 0 has none.
    assert verdict(METRICS["drop_rate"], base, new, 1.2) == "same"
    assert verdict(METRICS["drop_rate"], new, base, 1.2) == "same"


def test_touching_intervals_are_not_separated():
    assert verdict(P50, Side(100, 90, 110), Side(200, 110, 290), 1.1) == "not significant"
    assert verdict(P50, Side(200, 110, 290), Side(100, 90, 110), 1.1) == "not significant"
    assert verdict(P50, Side(100, 90, 110), Side(200, 110.5, 290), 1.1) == "regression"
    assert verdict(P50, Side(200, 110, 290), Side(100, 90, 109.5), 1.1) == "improvement"


def test_noise_on_one_side_is_enough_to_judge():
    assert verdict(P50, Side(100, 90, 110), Side(200, 200, 200), 1.1) == "regression"
    assert verdict(P50, Side(100, 100, 100), Side(200, 150, 250), 1.1) == "regression"
    # an interval of zero width is no noise
    assert verdict(P50, Side(100, 100, 100), Side(200, 200, 200), 1.1) == "uncertain"


def test_a_side_without_a_value():
    assert verdict(P50, Side(100, 90, 110), NO, 1.1) == "uncertain"
    assert verdict(P50, NO, Side(100, 90, 110), 1.1) == "uncertain"
    assert verdict(P50, NO, NO, 1.1) == "same"


def test_side_known_and_noise():
    assert Side(1, NAN, NAN).known and not Side(NAN, 0, 2).known
    assert Side(1, 0, 2).has_noise
    assert not Side(1, NAN, 2).has_noise and not Side(1, 0, NAN).has_noise
    assert not Side(1, 1, 1).has_noise and not Side(1, 2, 0).has_noise


def row(metric: str, b: float, n: float, verdict_: str = "same", gated: bool = True) -> Row:
    return Row("s", "s", "w", "1000", "", metric, Side(b, NAN, NAN), Side(n, NAN, NAN),
               verdict_, gated)


def test_change_text():
    assert row("latency_p50", 100, 150).change == "+50 µs (+50 %)"
    assert row("drop_rate", 2, 1).change == "-1 % (-50 %)"
    assert row("slowdown", 1, 3.5).change == "+2.5 %"            # points: no ratio
    assert row("latency_p50", 0, 30).change == "+30 µs"          # no ratio from zero
    assert row("blind_ms", 10, 25).change == "+15 "              # a scenario column: no unit
    assert row("latency_p50", NAN, 30).change == ""
    assert row("latency_p50", 30, NAN).change == ""


def test_regressions_and_exit_code():
    reg, failed = row("slowdown", 0, 9, "regression"), row("status", NAN, NAN, "failed")
    shown = row("latency_p99", 1, 9, "regression", gated=False)
    better = row("slowdown", 9, 0, "improvement")
    assert Comparison([shown, better], []).exit_code() == 0
    assert Comparison([shown, reg, failed], []).regressions == [reg, failed]
    assert Comparison([failed], []).exit_code() == 1
    assert Comparison([reg], [], problems=["x"]).exit_code() == 2      # 2 wins over 1
    assert Comparison([], [], problems=["x"]).exit_code() == 2


# -- --fail-on --------------------------------------------------------------------------------
def test_parse_fail_on():
    assert parse_fail_on(["latency_p99=20%", "drop_rate=0.5"]) == {
        "latency_p99": ("rel", 20.0), "drop_rate": ("abs", 0.5)}
    with pytest.raises(BadInput):
        parse_fail_on(["p42=1"])


def test_parse_fail_on_spellings():
    assert parse_fail_on([" latency-p99 = 20 % ", "slowdown_pct=5", "drop_rate=0"]) == {
        "latency_p99": ("rel", 20.0), "slowdown": ("abs", 5.0), "drop_rate": ("abs", 0.0)}
    assert parse_fail_on([]) == {}


@pytest.mark.parametrize("arg,says", [
    ("nope=1", "give METRIC=N or METRIC=N% with METRIC one of latency_p50, latency_p99"),
    ("latency_p99", "give METRIC=N"),
    ("drop_rate=abc", "'abc' is not a number"),
    ("slowdown=5%", "slowdown takes an absolute value"),
    ("overhead=5%", "overhead takes an absolute value"),
    ("drop_rate=-1", "must be >= 0"),
    ("latency_p50=-1%", "must be >= 0"),
])
def test_bad_fail_on(arg, says):
    with pytest.raises(BadInput) as e:
        parse_fail_on([arg])
    assert f"bad --fail-on {arg!r}" in str(e.value) and says in str(e.value)


@pytest.mark.parametrize("arg,message", [
    ("drop_rate=-1", "bad --fail-on 'drop_rate=-1': must be >= 0"),
    # 0 % is not negative: what is wrong is a relative value for an absolute metric
    ("slowdown=0%", "bad --fail-on 'slowdown=0%': slowdown takes an absolute value"),
    # the metric is what comes before the first '='; the rest is the value
    ("drop_rate=1=2", "bad --fail-on 'drop_rate=1=2': '1=2' is not a number"),
    # only a trailing '%' is taken off the number
    ("drop_rate=5X", "bad --fail-on 'drop_rate=5X': '5X' is not a number"),
])
def test_bad_fail_on_says_exactly_why(arg, message):
    with pytest.raises(BadInput) as e:
        parse_fail_on([arg])
    assert str(e.value) == message


# -- noise intervals --------------------------------------------------------------------------
def test_noise_intervals():
    lo, hi = wilson(0, 1000)
    assert lo == 0 and 0 < hi < 0.01
    x = pd.Series(range(1, 1001), dtype=float).to_numpy()
    lo, hi = quantile_ci(x, 0.5)
    assert lo < 500.5 < hi and hi - lo < 100


@pytest.mark.parametrize("k,n,lo,hi", [
    # z = 1.96: d = 1 + z²/n, centre (p + z²/2n)/d, half z·sqrt(p(1-p)/n + z²/4n²)/d
    (50, 100, 0.40383, 0.59617),    # 50/100: 0.5 ± 0.09617
    (10, 100, 0.05523, 0.17437),    # 0.114797 ± 0.059570
    (0, 100, 0.0, 0.03699),         # z²/(n + z²) = 3.8416/103.8416
    (100, 100, 0.96301, 1.0),
    (0, 1, 0.0, 0.79345),           # 3.8416/4.8416
])
def test_wilson_known_values(k, n, lo, hi):
    got = wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-5)
    assert 0.0 <= got[0] and got[1] <= 1.0


def test_wilson_of_nothing():
    assert all(math.isnan(v) for v in wilson(0, 0))
    assert all(math.isnan(v) for v in wilson(0, -1))


def test_wilson_bounds_are_clamped_against_rounding():
    # all 5 of 5 dropped: centre + half-width is 1 + 2e-16 in floating point; none of 5:
    # centre - half-width is a hair below 0. A drop rate's bound is never past 100 % or 0.
    assert wilson(5, 5)[1] == 1.0
    assert wilson(0, 5)[0] == 0.0


@settings(max_examples=100)
@given(st.integers(1, 10**6), st.floats(0, 1))
def test_wilson_holds_the_proportion(n, share):
    k = round(n * share)
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n + 1e-12 and k / n - 1e-12 <= hi <= 1.0


@pytest.mark.parametrize("q,n,lo,hi", [
    # half = 1.96·sqrt(n·q·(1-q)); ranks floor(nq - half), ceil(nq + half) of 1..n
    (0.5, 1000, 470.0, 532.0),     # half 30.99: ranks 469, 531
    (0.99, 1000, 984.0, 998.0),    # half 6.167: ranks 983, 997
    (0.99, 10, 10.0, 10.0),        # ranks 9, ceil(10.52) -> clamped to 9
    (0.01, 10, 1.0, 2.0),          # ranks floor(-0.52) -> 0, 1
    (0.5, 2, 1.0, 2.0),            # ranks floor(-0.39) -> 0, ceil(2.39) -> 1
])
def test_quantile_ci_known_ranks(q, n, lo, hi):
    x = np.random.default_rng(3).permutation(np.arange(1, n + 1)).astype(float)  # unsorted
    assert quantile_ci(x, q) == (lo, hi)


def test_quantile_ci_of_one_value():
    assert all(math.isnan(v) for v in quantile_ci(np.array([5.0]), 0.5))
    assert all(math.isnan(v) for v in quantile_ci(np.empty(0), 0.5))


@settings(max_examples=100)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=300))
def test_quantile_ci_holds_the_median(values):
    x = np.array(values)
    lo, hi = quantile_ci(x, 0.5)
    assert lo <= np.percentile(x, 50) <= hi
    assert lo in x and hi in x


def test_hull_skips_unknown_bounds():
    assert cmp_mod._hull((2, 5), (NAN, NAN), (1, 4)) == (1, 5)
    assert cmp_mod._hull((NAN, 6), (3, NAN)) == (3, 6)
    assert all(math.isnan(v) for v in cmp_mod._hull((NAN, NAN)))


def test_cpu_resolution_is_two_ticks_over_the_cell():
    g = pd.DataFrame({"cpu_us_per_event": [10.0, 10.0, 10.0, 4.0],
                      "sensor_cpu_s": [0.2, 0.0, 0.2, 0.02],
                      "sensor_cpu_pct": [5.0, 5.0, 5.0, 5.0],
                      "duration_s": [1.0, 1.0, 4.0, 2.0],
                      "sensor_cpu_source": ["proc", "proc", "cgroup v2", None]})
    # per event: 10 µs x 0.02 s / 0.2 s = 1 µs; no CPU read (0 s): unknown, taken as 0;
    # cgroup runtime counts microseconds (10 µs x 1e-6 s / 0.2 s); 4 µs x 0.02 / 0.02 = 4 µs
    assert cpu_resolution(g, "cpu_us_per_event").tolist() == pytest.approx([1.0, 0.0, 5e-5, 4.0])
    # % of a core: 0.02 s over 1, 1, 2 s; 1 µs over 4 s
    assert cpu_resolution(g, "sensor_cpu_pct").tolist() == pytest.approx([2.0, 2.0, 2.5e-5, 1.0])
    # an older folder without the source column: every reading is in ticks
    assert cpu_resolution(g.drop(columns="sensor_cpu_source"), "sensor_cpu_pct").tolist() \
        == pytest.approx([2.0, 2.0, 0.5, 1.0])


def test_job_object_cpu_is_in_windows_clock_intervals_not_proc_ticks():
    # a Job Object charges CPU at the 15.625 ms clock interrupt: two of them over 1 s is
    # 3.125 % of a core (a /proc tick would say 2 %, a cgroup 0)
    g = pd.DataFrame({"sensor_cpu_s": [0.5, 0.5, 0.5], "sensor_cpu_pct": [50.0] * 3,
                      "cpu_us_per_event": [5.0] * 3, "duration_s": [1.0] * 3,
                      "sensor_cpu_source": ["job object", "process tree", "cgroup (tool)"]})
    assert cpu_resolution(g, "sensor_cpu_pct").tolist() == pytest.approx([3.125, 2.0, 1e-4])
    # per event: 5 µs x 0.03125 s / 0.5 s
    assert cpu_resolution(g, "cpu_us_per_event").tolist() == pytest.approx([0.3125, 0.2, 1e-5])


# -- constructed folders ----------------------------------------------------------------------
# One cell's numbers, each with a noise interval worked out by hand (ticks of 10 ms):
# CPU per event 10 µs, 2 s of CPU: ±10 µs x 0.02/2 = ±0.1 -> [9.9, 10.1];
# sensor CPU 5 % of a 1 s cell: ±2 points -> [3, 7]; slowdown 1 [-1, 3] %;
# overhead 2000 [1500, 2500] ns -> 2 [1.5, 2.5] µs; machine CPU 3 [2, 4] µs.
COST = dict(cpu_us_per_event=10.0, sensor_cpu_s=2.0, sensor_cpu_pct=5.0, duration_s=1.0,
            blocks_used=4, slowdown_pct=1.0, slowdown_ci_low_pct=-1.0,
            slowdown_ci_high_pct=3.0, overhead_ns_per_op=2000.0, overhead_ci_low_ns=1500.0,
            overhead_ci_high_ns=2500.0, machine_cpu_us_per_op=3.0,
            machine_cpu_ci_low_us=2.0, machine_cpu_ci_high_us=4.0)
# latencies 1..1000 µs: p50 500.5, its CI [470, 532]; p99 990.01, its CI [984, 998]
LAT = np.arange(1, 1001)
# the tail alone moved: values over 950 +1000 µs; p50 unchanged, p99 1990.01 [1984, 1998]
TAIL = np.where(LAT > 950, LAT + 1000, LAT)


def cell(spec="synthetic", workload="process", kinds=("proc_exec",), lat=LAT, repeat=0,
         rate="1000", **fields):
    """(rows, events) of one cell: COST with ``fields`` over it, every kind with ``lat``."""
    kinds = {k: {} for k in kinds} if isinstance(kinds, tuple) else kinds
    rows = cell_rows(spec, kinds, workload=workload, repeat=repeat, rate=rate,
                     **{**COST, **fields})
    events = [] if lat is None else [
        latency_events(spec, k, lat, workload=workload, repeat=repeat, rate=rate)
        for k in kinds]
    return rows, events


def repeats(spec, per_repeat: list[dict]) -> list:
    """One cell of ``spec`` per repeat, without events, each with its own fields."""
    return [cell(spec, lat=None, repeat=i, **f) for i, f in enumerate(per_repeat)]


def host_cell(spec, host):
    """A cell of a merged folder: rows and events carry the host."""
    rows, events = cell(spec)
    for r in rows:
        r.update(host=host, cell=f"{host}|{r['cell']}")
    for e in events:
        e["host"] = host
    return rows, events


def scenario(case, outcome, spec="synthetic", **cols):
    return {"scenario": "crash", "case": case, "spec": spec, "backend": spec.split(":")[0],
            "outcome": outcome, "rate_target": "1000", "status": "ok", **cols}


def folder(path, cells=(), meta=None, scenarios=()) -> RunData:
    write_folder(path, [r for c in cells for r in c[0]], [e for c in cells for e in c[1]] or None,
                 meta)
    if scenarios:   # the scenarios table as the store types it
        scenarios_frame(list(scenarios)).to_parquet(path / "scenarios.parquet", index=False)
    return RunData.load(path)


# NEW cells worse than ``cell()`` beyond the noise: in every metric...
SLOWER = dict(slowdown_pct=10.0, slowdown_ci_low_pct=8.0, slowdown_ci_high_pct=12.0)
SHOWN_WORSE = dict(sensor_cpu_pct=20.0,                                # [18, 22]
                   machine_cpu_us_per_op=10.0, machine_cpu_ci_low_us=9.0,
                   machine_cpu_ci_high_us=11.0)
WORSE_ALL = dict(
    lat=LAT + 200,                       # p50 700.5 [670, 732], p99 1190.01 [1184, 1198]
    kinds={"proc_exec": {"matched": 950}},                             # 5 % [3.81, 6.53]
    cpu_us_per_event=13.0,                                             # x1.3 [12.87, 13.13]
    overhead_ns_per_op=5000.0, overhead_ci_low_ns=4500.0, overhead_ci_high_ns=5500.0,
    **SLOWER, **SHOWN_WORSE)
# ...and in the metrics that are shown, not gated, only (the p99 through the tail alone)
WORSE_SHOWN = dict(lat=TAIL, **SHOWN_WORSE)
# the side tests' cells, one series each (no events: latencies come from the repeats)
SIDES = [
    *repeats("drops", [{"kinds": {"proc_exec": {"matched": 990}}},
                       {"kinds": {"proc_exec": {"matched": 970}}}]),
    *repeats("drop1", [{"kinds": {"proc_exec": {"matched": 990}}}]),
    *repeats("lat5", [{"kinds": {"proc_exec": {"latency_p50_us": a, "latency_p99_us": 2 * a}}}
                      for a in (480, 490, 500, 510, 520)]),
    *repeats("lat2", [{"kinds": {"proc_exec": {"latency_p50_us": a, "latency_p99_us": a + 500}}}
                      for a in (490, 510)]),
    *repeats("notok", [{"kinds": {"proc_exec": {"status": "unsupported", "matched": None}}}]),
    *repeats("cpu1", [{"cpu_us_per_event": 1.0, "sensor_cpu_s": 0.01}]),
    *repeats("cgroup", [{"sensor_cpu_source": "cgroup"}]),
    *repeats("exact", [{"cpu_us_per_event": v, "sensor_cpu_source": "cgroup"}
                       for v in (10.0, 11.0, 12.0)]),
    *repeats("coarse", [{"cpu_us_per_event": v, "sensor_cpu_s": 0.05} for v in (10.0, 11.0, 12.0)]),
    *repeats("mixed", [{}, {"cpu_us_per_event": 99.0, "kinds": {"proc_exec": {"status": "failed"}}},
                       {"cpu_us_per_event": None}]),
    *repeats("nocpu", [{"cpu_us_per_event": None}]),
]
QUIET = dict(machine_cpu_ci_low_us=None, machine_cpu_ci_high_us=None, sensor_cpu_pct=20.0)
ELSEWHERE = {"machine": {**MACHINE, "cpu_model": "Other CPU"}, "interrupted": True,
             "warnings": ["turbo on", "governor powersave"]}
# (case, BASE outcome, NEW outcome, verdict): each step up the rank is a regression
OUTCOMES = [
    ("c1", "no-loss", "degraded", "regression"),
    ("c2", "degraded", "sensor-crashed", "regression"),
    ("c3", "sensor-crashed", "host-impact", "regression"),
    ("c4", "host-impact", "failed", "regression"),
    ("c5", "refused", "no-loss", "same"),          # refusing is as good as losing nothing
    ("c6", "refused", "degraded", "regression"),
    ("c7", "degraded", "no-loss", "improvement"),
    ("c8", "weird", "failed", "same"),             # an outcome without a rank: no judgement
    ("c9", "failed", "weird", "same"),
]
# blind window and stall, BASE -> NEW, at factor 1.5: "big" is beyond x1.5 + 1 either way
NUMBERS = {"s1": (10.0, 16.0, "same"), "s2": (10.0, 16.5, "uncertain"),
           "s3": (16.0, 10.0, "same"), "s4": (16.5, 10.0, "uncertain")}


def _numbers(side: int) -> list[dict]:
    # events lost 0 -> 1 is within the "+1"; 0 -> 2 (s2) is not
    return [scenario(k, "no-loss", blind_ms=v[side], workload_stall_ms=v[side],
                     events_lost=0 if side == 0 else 2 if k == "s2" else 1)
            for k, v in NUMBERS.items()]


# every folder the tests read, by name; each is written once per module, when first used
FOLDERS = {
    "base": lambda: dict(cells=[cell()]),
    "worse": lambda: dict(cells=[cell(**WORSE_ALL)]),
    "worse_shown": lambda: dict(cells=[cell(**WORSE_SHOWN)]),
    **{f"cpu{v}": (lambda v=v: dict(cells=[cell(cpu_us_per_event=v)]))
       for v in (11.5, 12.5, 12.49)},
    "sides": lambda: dict(cells=SIDES),
    "delay": lambda: dict(cells=[cell("synthetic:delay_us=5", cpu_us_per_event=None,
                                      **SLOWER)]),
    "sort_b": lambda: dict(cells=[cell(**QUIET), cell(workload="zz", **QUIET)]),
    "sort_n": lambda: dict(cells=[
        cell(machine_cpu_us_per_op=10.0, machine_cpu_ci_low_us=None,
             machine_cpu_ci_high_us=None, overhead_ns_per_op=5000.0,
             overhead_ci_low_ns=2400.0, overhead_ci_high_ns=7600.0, sensor_cpu_pct=5.0,
             **SLOWER),
        cell(workload="zz", kinds={"proc_exec": {"status": "failed", "reason": "boom"}})]),
    "pair_x": lambda: dict(cells=[cell(s) for s in (
        "synthetic", "synthetic:delay_us=5", "psutil:interval_ms=100", "psutil:interval_ms=200")]),
    "pair_y": lambda: dict(cells=[cell(s) for s in (
        "synthetic", "synthetic:delay_us=9", "psutil:interval_ms=500", "procmon:interval_ms=100")]),
    "hosts_b": lambda: dict(cells=[host_cell("synthetic:x=1", h) for h in ("h1", "h2")]),
    "hosts_n": lambda: dict(cells=[host_cell("synthetic:x=2", h) for h in ("h1", "h2")]),
    "three": lambda: dict(cells=[cell(), cell(workload="file"), cell(rate="2000")]),
    "kinds": lambda: dict(cells=[cell(kinds={"proc_exec": {}, "file_open": {}, "net_connect": {
        "status": "unsupported", "matched": None}})]),
    "broken": lambda: dict(cells=[
        cell(kinds={"proc_exec": {"status": "failed", "reason": "sensor exited"}}),
        cell(workload="file", kinds={"proc_exec": {"status": "skipped", "reason": "not root"}}),
        cell(rate="2000", kinds={"proc_exec": {"status": "unsupported", "matched": None,
                                               "reason": "no such tool"}})]),
    "file_only": lambda: dict(cells=[cell(workload="file")]),
    "elsewhere": lambda: dict(cells=[cell()], meta=ELSEWHERE),
    "elsewhere2": lambda: dict(cells=[cell()], meta={"machine": {
        **MACHINE, "cpu_model": "Other CPU", "kernel": "6.1-other"}}),
    # one host per folder, named differently (a reinstalled machine): hosts do not pair
    "renamed": lambda: dict(cells=[cell("synthetic:delay_us=5")],
                            meta={"machine": {**MACHINE, "hostname": "h2"}}),
    # two kinds of one cell, each with its own latencies: proc_exec 1..1000 µs (p50 500.5
    # [470, 532]), proc_exit 5001..6000 µs (p50 5500.5 [5470, 5532])
    "two_kinds": lambda: dict(cells=[(cell(kinds=("proc_exec", "proc_exit"), lat=None)[0], [
        latency_events("synthetic", "proc_exec", LAT),
        latency_events("synthetic", "proc_exit", LAT + 5000)])]),
    "exit_only": lambda: dict(cells=[cell(kinds=("proc_exit",), lat=LAT + 5000)]),
    "sc_b": lambda: dict(scenarios=[
        *[scenario(c, o) for c, o, _, _ in OUTCOMES], scenario("c10", "unsupported"),
        scenario("c11", "no-loss"), *_numbers(0)]),
    "sc_n": lambda: dict(scenarios=[
        *[scenario(c, o) for c, _, o, _ in OUTCOMES], scenario("c10", "no-loss"),
        scenario("c12", "no-loss"), scenario("c13", "unsupported"), *_numbers(1)]),
    # A case whose sensor never ran is written (bench.scenario.run) with outcome 'failed',
    # its duration and fault time, and no blind window, loss or stall.
    "fail_b": lambda: dict(scenarios=[scenario("f1", "no-loss", blind_ms=10.0, events_lost=0,
                                               workload_stall_ms=1.0)]),
    "fail_n": lambda: dict(scenarios=[scenario("f1", "failed", status="failed",
                                               duration_s=10.0, at_s=2.0)]),
    "cells_and_scenarios": lambda: dict(cells=[cell()], scenarios=[scenario("f1", "no-loss")]),
    # a case whose blind window NEW did not measure, its loss and stall it did
    "part_b": lambda: dict(scenarios=[scenario("p1", "no-loss", blind_ms=10.0, events_lost=0,
                                               workload_stall_ms=1.0)]),
    "part_n": lambda: dict(scenarios=[scenario("p1", "no-loss", events_lost=5,
                                               workload_stall_ms=1.0)]),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A folder of FOLDERS by name, as RunData (written once: folders are only read)."""
    root, made = tmp_path_factory.mktemp("compare"), {}

    def get(name: str) -> RunData:
        if name not in made:
            made[name] = folder(root / name, **FOLDERS[name]())
        return made[name]
    return get


def by_metric(c: Comparison) -> dict[str, Row]:
    return {r.metric: r for r in c.rows}


def kind_of(run_: RunData, series: str) -> pd.Series:
    k = run_.kinds
    return k[k["series"] == series].iloc[0]


def side_of(run_: RunData, series: str, metric: str) -> tuple:
    s = (kind_side(run_, kind_of(run_, series), metric) if METRICS[metric].level == "kind"
         else cell_side(run_, (series, "process", "1000"), metric))
    return s.value, s.lo, s.hi


# -- one side of each metric -----------------------------------------------------------------
def test_the_sides_of_one_cell(run):
    got = {m: sides(r)[0] for m, r in by_metric(compare(run("base"), run("base"))).items()}
    assert got["cpu_us_per_event"] == pytest.approx((10.0, 9.9, 10.1))
    assert got["sensor_cpu_pct"] == pytest.approx((5.0, 3.0, 7.0))
    assert got["slowdown"] == (1.0, -1.0, 3.0)
    assert got["overhead"] == (2.0, 1.5, 2.5)          # ns -> µs
    assert got["machine_cpu"] == (3.0, 2.0, 4.0)
    assert got["latency_p50"] == pytest.approx((500.5, 470.0, 532.0))
    assert got["latency_p99"] == pytest.approx((990.01, 984.0, 998.0))
    # no drop: 0 %, Wilson of 0/1000 is [0, 0.383] %
    assert got["drop_rate"] == pytest.approx((0.0, 0.0, 0.38268), abs=1e-5)


@pytest.mark.parametrize("series,metric,expect", [
    # repeats 1 % and 3 %: pooled 40/2000 = 2 %; Wilson of 40/2000 [1.47, 2.71] % is
    # inside the repeats' [1, 3]
    ("drops", "drop_rate", (2.0, 1.0, 3.0)),
    # one repeat 1 %: the Wilson interval of 10/1000 is the noise
    ("drop1", "drop_rate", (1.0, 0.54407, 1.83097)),
    # five repeats 480..520 µs: t-interval 500 ± 2.7764 x 15.81/sqrt(5) = [480.4, 519.6] is
    # inside the repeats' [480, 520]; no events: the value is the median of the repeats
    ("lat5", "latency_p50", (500.0, 480.0, 520.0)),
    ("lat5", "latency_p99", (1000.0, 960.0, 1040.0)),
    # two repeats 490, 510: t-interval 500 ± 12.70620 x 14.142/sqrt(2) = ±127.062, wider
    ("lat2", "latency_p50", (500.0, 372.93795, 627.06205)),
    ("lat2", "latency_p99", (1000.0, 872.93795, 1127.06205)),
    # one repeat, 1 µs, 0.01 s of CPU: ±1 x 0.02/0.01 = ±2, floored at 0
    ("cpu1", "cpu_us_per_event", (1.0, 0.0, 3.0)),
    # cgroup runtime: no resolution; one repeat: no noise at all
    ("cgroup", "cpu_us_per_event", (10.0, 10.0, 10.0)),
    # 10, 11, 12 µs read exactly: t-interval 11 ± 4.3027/sqrt(3)
    ("exact", "cpu_us_per_event", (11.0, 8.5159, 13.4841)),
    # in ticks over 0.05 s: ±0.4 of each value, [10 - 4, 12 + 4.8] is wider than the t-interval
    ("coarse", "cpu_us_per_event", (11.0, 6.0, 16.8)),
    # a failed repeat and one without a reading do not count
    ("mixed", "cpu_us_per_event", (10.0, 9.9, 10.1)),
])
def test_a_side_and_its_noise(run, series, metric, expect):
    assert side_of(run("sides"), series, metric) == pytest.approx(expect, abs=1e-4)


@pytest.mark.parametrize("series,metric", [
    ("notok", "drop_rate"), ("notok", "latency_p50"), ("notok", "latency_p99"),
    ("nocpu", "cpu_us_per_event"), ("elsewhere", "slowdown"), ("elsewhere", "overhead")])
def test_no_side_without_a_reading(run, series, metric):
    # a kind not measured, a cell without CPU readings, a cell that is not there
    assert all(math.isnan(v) for v in side_of(run("sides"), series, metric))


def test_each_kind_is_judged_on_its_own_events(run):
    # the distribution-free interval of a kind's percentile is over that kind's events
    # only, not over every kind of the cell
    two = run("two_kinds")
    k = two.kinds.set_index("kind")
    for kind, p50, p99 in (("proc_exec", (500.5, 470.0, 532.0), (990.01, 984.0, 998.0)),
                           ("proc_exit", (5500.5, 5470.0, 5532.0), (5990.01, 5984.0, 5998.0))):
        row = k.loc[kind].copy()
        row["kind"] = kind
        s50, s99 = kind_side(two, row, "latency_p50"), kind_side(two, row, "latency_p99")
        assert (s50.value, s50.lo, s50.hi) == pytest.approx(p50)
        assert (s99.value, s99.lo, s99.hi) == pytest.approx(p99)


def test_identical_runs_compare_clean(run):
    c = compare(run("base"), run("base"))
    assert c.exit_code() == 0 and c.problems == [] and c.missing == [] and c.pairs == []
    assert {r.metric: r.gated for r in c.rows} == {**dict.fromkeys(GATED, True),
                                                    **dict.fromkeys(SHOWN, False)}
    assert {r.verdict for r in c.rows} == {"same"}
    assert {(r.kind, r.metric in ("latency_p50", "latency_p99", "drop_rate")) for r in c.rows} \
        == {("", False), ("proc_exec", True)}


# -- verdicts and gating on folders -----------------------------------------------------------
def test_worse_in_every_metric_fails_on_the_gated_ones(run):
    base, worse = run("base"), run("worse")
    c = compare(base, worse)
    assert {r.metric: r.verdict for r in c.rows} == dict.fromkeys(METRICS, "regression")
    assert sorted(r.metric for r in c.regressions) == sorted(GATED)
    assert c.exit_code() == 1
    # the right way round: BASE worse than NEW is an improvement and passes
    back = compare(worse, base)
    assert {r.metric: r.verdict for r in back.rows} == dict.fromkeys(METRICS, "improvement")
    assert back.regressions == [] and back.exit_code() == 0


def test_worse_in_shown_metrics_only_passes(run):
    c = compare(run("base"), run("worse_shown"))
    assert {r.metric: r.verdict for r in c.rows} == {**dict.fromkeys(GATED, "same"),
                                                      **dict.fromkeys(SHOWN, "regression")}
    assert c.regressions == [] and c.exit_code() == 0


def test_a_drifting_metric_needs_its_own_minimum_effect(run):
    base = run("base")
    # CPU per event x1.15 [11.385, 11.615] against [9.9, 10.1]: apart, but under the 1.2
    # that CPU per event needs, whatever the run-wide factor
    assert by_metric(compare(base, run("cpu11.5"), factor=1.1))["cpu_us_per_event"].verdict \
        == "same"
    # CPU per event x1.3 with a run-wide factor of 1.35: the larger factor holds; the
    # p50's x1.4 (700.5/500.5) still counts at 1.35, not at 1.5
    c = by_metric(compare(base, run("worse"), factor=1.35))
    assert (c["cpu_us_per_event"].verdict, c["latency_p50"].verdict) == ("same", "regression")
    assert by_metric(compare(base, run("worse"), factor=1.5))["latency_p50"].verdict == "same"


def test_min_effect_below_one_is_refused(run):
    with pytest.raises(BadInput, match="the factor 0.99 must be >= 1"):
        compare(run("base"), run("base"), factor=0.99)
    assert compare(run("base"), run("base"), factor=1.0).exit_code() == 0


def test_fail_on_gates_exactly_the_named_metrics(run):
    base, worse = run("base"), run("worse")
    c = compare(base, worse, fail_on={"sensor_cpu_pct": ("abs", 1.0)})
    assert {r.metric for r in c.rows if r.gated} == {"sensor_cpu_pct"}
    assert [r.metric for r in c.regressions] == ["sensor_cpu_pct"] and c.exit_code() == 1
    c = compare(base, worse, fail_on={"drop_rate": ("abs", 10.0)})
    assert {r.metric for r in c.rows if r.gated} == {"drop_rate"} and c.exit_code() == 0
    # ...and only in that comparison: the defaults are untouched
    assert METRICS["drop_rate"].gate and not METRICS["sensor_cpu_pct"].gate
    assert METRICS["drop_rate"].floor == pytest.approx(0.1)


@pytest.mark.parametrize("name,fail_on,expect", [
    # the tail +1000 µs (+101 %), shown by default, gated by naming it
    ("worse_shown", {"latency_p99": ("rel", 25.0)}, "regression"),
    ("worse_shown", {"latency_p99": ("rel", 150.0)}, "same"),
    ("worse_shown", {"latency_p99": ("abs", 1001.0)}, "same"),
    ("worse_shown", {"latency_p99": ("abs", 999.0)}, "regression"),
    # a relative --fail-on replaces the factor, CPU per event's 1.2 included
    ("cpu11.5", {"cpu_us_per_event": ("rel", 10.0)}, "regression"),
    ("cpu12.5", {"cpu_us_per_event": ("rel", 25.0)}, "regression"),    # x1.25 exactly
    ("cpu12.49", {"cpu_us_per_event": ("rel", 25.0)}, "same"),         # x1.249
    # an absolute one replaces the floor (1 µs): +3 µs against 2.5 and 3.5
    ("worse", {"cpu_us_per_event": ("abs", 2.5)}, "regression"),
    ("worse", {"cpu_us_per_event": ("abs", 3.5)}, "same"),
    # 5 % dropped: +5 points against floors of 1 and 10 points
    ("worse", {"drop_rate": ("abs", 1.0)}, "regression"),
    ("worse", {"drop_rate": ("abs", 10.0)}, "same"),
])
def test_fail_on_sets_the_minimum_effect(run, name, fail_on, expect):
    c = compare(run("base"), run(name), fail_on=fail_on)
    (metric,) = fail_on
    assert by_metric(c)[metric].verdict == expect
    assert c.exit_code() == (1 if expect == "regression" else 0)


def test_rows_sort_worst_verdict_first(run):
    # each verdict on a metric that sorts before the worse verdicts' metrics, so any two
    # verdicts ranked alike would come out in another order
    c = compare(run("sort_b"), run("sort_n"))
    assert [(r.verdict, r.metric) for r in c.rows] == [
        ("failed", "status"), ("regression", "slowdown"), ("improvement", "sensor_cpu_pct"),
        ("not significant", "overhead"), ("uncertain", "machine_cpu"),
        ("same", "cpu_us_per_event"), ("same", "drop_rate"), ("same", "latency_p50"),
        ("same", "latency_p99")]


# -- pairing, missing cells, machines ---------------------------------------------------------
def test_a_changed_setting_pairs_by_backend_name(run):
    c = compare(run("base"), run("delay"))
    assert c.pairs == [("synthetic", "synthetic:delay_us=5")]
    assert c.missing == [] and c.problems == []
    assert {(r.base_spec, r.new_spec) for r in c.rows} == {("synthetic", "synthetic:delay_us=5")}


def test_exact_text_pairs_first_then_one_leftover_per_backend(run):
    x, y = run("pair_x"), run("pair_y")
    # psutil has two leftovers in x: neither pairs; different backends never pair
    assert pair_specs(x, y) == ({"synthetic": "synthetic",
                                 "synthetic:delay_us=5": "synthetic:delay_us=9"},
                                [("synthetic:delay_us=5", "synthetic:delay_us=9")])
    assert pair_specs(y, x) == ({"synthetic": "synthetic",
                                 "synthetic:delay_us=9": "synthetic:delay_us=5"},
                                [("synthetic:delay_us=9", "synthetic:delay_us=5")])
    c = compare(x, y)
    assert sorted(c.missing) == [
        "procmon:interval_ms=100 process @1000: not in BASE",
        "psutil:interval_ms=100 process @1000: not in NEW",
        "psutil:interval_ms=200 process @1000: not in NEW",
        "psutil:interval_ms=500 process @1000: not in BASE"]
    assert c.exit_code() == 2
    # the paired cells are compared all the same
    assert {(r.base_spec, r.new_spec) for r in c.rows} == {
        ("synthetic", "synthetic"), ("synthetic:delay_us=5", "synthetic:delay_us=9")}


def test_merged_folders_pair_per_host(run):
    assert pair_specs(run("hosts_b"), run("hosts_n")) == (
        {"synthetic:x=1@h1": "synthetic:x=2@h1", "synthetic:x=1@h2": "synthetic:x=2@h2"},
        [("synthetic:x=1@h1", "synthetic:x=2@h1"), ("synthetic:x=1@h2", "synthetic:x=2@h2")])


def test_the_host_name_does_not_pair_single_host_folders(run):
    # BASE on host h, NEW on host h2 (same CPU and kernel): the changed setting still
    # pairs by backend name; the host only tells the series of a merged folder apart
    assert pair_specs(run("base"), run("renamed")) == (
        {"synthetic": "synthetic:delay_us=5"}, [("synthetic", "synthetic:delay_us=5")])
    c = compare(run("base"), run("renamed"))
    assert c.missing == [] and c.problems == []


def test_cells_in_one_run_only_cannot_compare(run):
    base, three = run("base"), run("three")
    c = compare(three, base)
    assert c.missing == ["synthetic file @1000: not in NEW",
                         "synthetic process @2000: not in NEW"]
    assert c.problems == [("2 cells or kinds are in only one run (or skipped in NEW): pass "
                          "--allow-missing to compare the rest")]
    assert c.exit_code() == 2
    c = compare(base, three)
    assert sorted(c.missing) == ["synthetic file @1000: not in BASE",
                                 "synthetic process @2000: not in BASE"]
    assert c.exit_code() == 2
    assert {(r.workload, r.rate) for r in c.rows} == {("process", "1000")}


def test_a_kind_only_in_base_cannot_compare(run):
    # file_open is not in NEW; net_connect, which BASE could not measure, is not asked for
    kinds, base = run("kinds"), run("base")
    c = compare(kinds, base)
    assert c.missing == ["synthetic process @1000 file_open: not in NEW"]
    assert c.problems[0].startswith("1 cells or kinds are in only one run")
    # allowed: the rest is compared and passes
    c = compare(kinds, base, allow_missing=True)
    assert {r.kind for r in c.rows} == {"", "proc_exec"}
    assert c.problems == [] and c.exit_code() == 0


def test_a_kind_missing_in_new_leaves_the_cells_other_kinds_compared(run):
    # proc_exec (first in kind order) is not in NEW; proc_exit, after it, still is judged
    c = compare(run("two_kinds"), run("exit_only"), allow_missing=True)
    assert c.missing == ["synthetic process @1000 proc_exec: not in NEW"]
    assert {(r.kind, r.metric) for r in c.rows if r.kind} == {
        ("proc_exit", m) for m in ("latency_p50", "latency_p99", "drop_rate")}
    assert c.problems == [] and c.exit_code() == 0


def test_ok_then_not_ok_is_a_failure_and_skipped_is_missing(run):
    c = compare(run("three"), run("broken"))
    assert [(r.metric, r.verdict, r.gated, r.kind, r.rate) for r in c.rows] == [
        ("status", "failed", True, "", "1000"), ("status", "failed", True, "", "2000")]
    assert not any(r.base.known or r.new.known for r in c.rows)
    assert c.warnings == [
        "synthetic process @1000 was ok in BASE, failed in NEW: sensor exited",
        "synthetic process @2000 was ok in BASE, unsupported in NEW: no such tool"]
    assert c.missing == ["synthetic file @1000: skipped in NEW (not root)"]
    assert c.exit_code() == 2                                   # 2 wins over 1
    assert compare(run("three"), run("broken"), allow_missing=True).exit_code() == 1


def test_a_cell_that_failed_in_new_is_a_row_of_its_pair_without_numbers(run):
    c = compare(run("three"), run("broken"), allow_missing=True)
    assert [(r.base_spec, r.new_spec, r.workload, r.rate, r.metric) for r in c.rows] == [
        ("synthetic", "synthetic", "process", "1000", "status"),
        ("synthetic", "synthetic", "process", "2000", "status")]
    # every number of the row is unknown (NaN), and written as null
    assert all(math.isnan(v) for r in c.rows for side in sides(r) for v in side)
    nothing = {"value": None, "lo": None, "hi": None}
    assert [(r["base"], r["new"]) for r in to_json(c)["rows"]] == [(nothing, nothing)] * 2


def test_cells_that_failed_in_base_are_not_judged(run):
    c = compare(run("broken"), run("three"), allow_missing=True)
    assert c.rows == [] and c.problems == [] and c.exit_code() == 0
    assert c.missing == []


def test_nothing_in_common_is_exit_2(run):
    c = compare(run("base"), run("file_only"), allow_missing=True)
    assert c.problems == [("BASE and NEW have no cell in common (same backends, workloads "
                          "and rates?)")]
    assert c.exit_code() == 2


@pytest.mark.parametrize("key,other", [("cpu_model", "Other CPU"), ("cpu_logical", 8),
                                       ("kernel", "6.1-other")])
def test_machine_differences(key, other):
    a, b = {"machine": dict(MACHINE)}, {"machine": {**MACHINE, key: other}}
    assert cmp_mod._machine_differences(a, b) == [f"{key}: {MACHINE[key]!r} vs {other!r}"]
    assert cmp_mod._machine_differences(a, {"machine": {**MACHINE, "hostname": "x"}}) == []
    assert cmp_mod._machine_differences({"machine": None}, {}) == []
    assert cmp_mod._machine_differences(a, {}) == [
        "cpu_model: 'Test CPU' vs None", "cpu_logical: 2 vs None", "kernel: '6.0-test' vs None"]


def test_different_machines_cannot_compare(run):
    base, other = run("base"), run("elsewhere")
    said = "different machines (cpu_model: 'Test CPU' vs 'Other CPU')"
    c = compare(base, other)
    assert c.problems == [said + ": pass --cross-machine to compare anyway"]
    assert c.exit_code() == 2
    c = compare(base, other, cross_machine=True)
    assert c.problems == [] and c.exit_code() == 0
    assert c.warnings == ["NEW machine: turbo on", "NEW machine: governor powersave",
                          "NEW run was interrupted: some cells are missing", said]


def test_every_machine_difference_is_named(run):
    c = compare(run("base"), run("elsewhere2"))
    assert c.problems == ["different machines (cpu_model: 'Test CPU' vs 'Other CPU'; "
                          "kernel: '6.0-test' vs '6.1-other'): pass --cross-machine to "
                          "compare anyway"]


def test_machine_warnings_say_whose(run):
    base, other = run("base"), run("elsewhere")
    assert compare(other, base, cross_machine=True).warnings == [
        "BASE machine: turbo on", "BASE machine: governor powersave",
        "BASE run was interrupted: some cells are missing",
        "different machines (cpu_model: 'Other CPU' vs 'Test CPU')"]
    assert compare(other, other).warnings == [
        "BASE and NEW machine: turbo on", "BASE and NEW machine: governor powersave",
        "BASE run was interrupted: some cells are missing",
        "NEW run was interrupted: some cells are missing"]


def test_to_json(run):
    data = to_json(compare(run("base"), run("delay")))
    json.dumps(data, allow_nan=False)    # NaN became null
    assert data["exit_code"] == 1 and data["problems"] == [] and data["missing"] == []
    assert data["warnings"] == []
    assert data["paired_by_backend"] == [["synthetic", "synthetic:delay_us=5"]]
    rows = {r["metric"]: r for r in data["rows"]}
    assert rows["slowdown"] == {
        "base_spec": "synthetic", "new_spec": "synthetic:delay_us=5", "workload": "process",
        "rate": "1000", "kind": "", "metric": "slowdown",
        "base": {"value": 1.0, "lo": -1.0, "hi": 3.0},
        "new": {"value": 10.0, "lo": 8.0, "hi": 12.0},
        "change": "+9 %", "verdict": "regression", "gated": True}
    assert rows["cpu_us_per_event"]["new"] == {"value": None, "lo": None, "hi": None}
    assert rows["cpu_us_per_event"]["verdict"] == "uncertain"
    assert rows["latency_p99"]["kind"] == "proc_exec" and not rows["latency_p99"]["gated"]


# -- failure scenarios ------------------------------------------------------------------------
def test_scenario_outcomes_by_rank(run):
    c = compare(run("sc_b"), run("sc_n"))
    got = {r.workload: (r.metric, r.verdict, r.gated) for r in c.rows
           if r.metric.startswith("outcome")}
    assert got == {**{case: (f"outcome {ob} -> {on}", v, True) for case, ob, on, v in OUTCOMES},
                   **{k: ("outcome no-loss -> no-loss", "same", True) for k in NUMBERS}}
    r = next(r for r in c.rows if r.workload == "c1")
    assert (r.base_spec, r.new_spec, r.rate, r.kind) == ("synthetic", "synthetic", "1000", "")
    assert not (r.base.known or r.new.known)
    # a case BASE could not run (c10) is not compared; one NEW could not run (c13) is not
    # missing
    assert sorted(c.missing) == ["scenario c11 synthetic: not in NEW",
                                 "scenario c12 synthetic: not in BASE"]
    assert c.exit_code() == 2
    assert compare(run("sc_b"), run("sc_n"), allow_missing=True).exit_code() == 1


def test_scenario_numbers_are_shown_not_gated(run):
    c = compare(run("sc_b"), run("sc_n"), factor=1.5)
    rows = {(r.workload, r.metric): r for r in c.rows}
    for k, (vb, vn, want) in NUMBERS.items():
        for col in ("blind_ms", "workload_stall_ms"):
            r = rows[(k, col)]
            assert (r.verdict, r.gated, r.base.value, r.new.value) == (want, False, vb, vn)
            assert not (r.base.has_noise or r.new.has_noise)
    assert rows[("s1", "events_lost")].verdict == "same"
    assert rows[("s2", "events_lost")].verdict == "uncertain"
    assert not any(r.metric in ("blind_ms", "events_lost") for r in c.rows
                   if r.workload.startswith("c"))   # no numbers, no row


def test_a_scenario_that_failed_without_numbers_compares(run):
    # Its missing events_lost (an Int64 column: pd.NA in a row of mixed types, not NaN)
    # made float() raise TypeError and the whole comparison crash.
    c = compare(run("fail_b"), run("fail_n"))
    assert [(r.metric, r.verdict) for r in c.rows] == [("outcome no-loss -> failed",
                                                       "regression")]
    assert c.problems == [] and c.exit_code() == 1


def test_no_scenario_in_common_is_exit_2(run):
    assert compare(run("fail_b"), run("sc_n"), allow_missing=True).problems == [
        "BASE and NEW have no cell in common (same backends, workloads and rates?)"]


def test_cost_cells_against_scenarios_only(run):
    for b, n in (("base", "sc_n"), ("sc_n", "base")):
        c = compare(run(b), run(n))
        assert c.problems[0] == "one folder has cost cells, the other failure scenarios only"
        assert c.exit_code() == 2


def test_scenarios_on_one_side_only_are_not_compared(run):
    for b, n in (("base", "cells_and_scenarios"), ("cells_and_scenarios", "base")):
        c = compare(run(b), run(n))
        assert c.exit_code() == 0 and c.missing == []
        assert not any(r.metric.startswith("outcome") for r in c.rows)


def test_compare_scenarios_counts_the_pairs(run):
    # c1..c9 and s1..s4 are in both; c10 BASE could not run, c11 is not in NEW
    assert compare_scenarios(run("sc_b"), run("sc_n"), Comparison([], []), 1.1) == 13
    assert compare_scenarios(run("part_b"), run("part_n"), Comparison([], []), 1.1) == 1


def test_a_scenario_number_one_side_lacks_skips_that_number_only(run):
    c = compare(run("part_b"), run("part_n"))
    # no blind window in NEW: no blind_ms row, and the loss and stall after it are shown
    assert [(r.metric, r.verdict, r.gated, r.base_spec, r.new_spec, r.workload, r.rate,
             r.kind) for r in c.rows] == [
        ("events_lost", "uncertain", False, "synthetic", "synthetic", "p1", "1000", ""),
        ("outcome no-loss -> no-loss", "same", True, "synthetic", "synthetic", "p1", "1000",
         ""),
        ("workload_stall_ms", "same", False, "synthetic", "synthetic", "p1", "1000", "")]
    # one cell each: a value and no interval, written as null
    data = to_json(c)
    json.dumps(data, allow_nan=False)
    rows = {r["metric"]: r for r in data["rows"]}
    assert (rows["events_lost"]["base"], rows["events_lost"]["new"]) == (
        {"value": 0.0, "lo": None, "hi": None}, {"value": 5.0, "lo": None, "hi": None})
    nothing = {"value": None, "lo": None, "hi": None}
    assert rows["outcome no-loss -> no-loss"]["base"] == nothing
    assert rows["outcome no-loss -> no-loss"]["new"] == nothing
