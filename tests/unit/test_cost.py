"""The total cost of sensing (bench.results.cost) on folders whose machine CPU is chosen:
the slope across rates recovers a per-event cost and a fixed cost, only rates the sensor
kept up with count, and the interval decides whether the cost is resolved. Also the slope
rule itself (bench.analysis.stats.slope_interval)."""

from __future__ import annotations

import math

import pytest

from bench.analysis.stats import slope_interval
from bench.results.cost import (AT_RATE, RESOLVED_WITHIN, SLOPE, Cost, block_points, costs,
                                ranking_disagreements,
                                resolved_cost)
from bench.results.rundata import RunData
from tests.helpers.constructed import MACHINE, cell_rows, write_folder

PER_EVENT_US, IDLE_CORES, BASE_US = 40.0, 0.05, 100.0
RATES = (1000, 2000, 4000, 8000)


def _block(rate: int, repeat: int, busy_us: float, drop: float = 0.0) -> list[dict]:
    """A sensor cell of one kind (one event per operation, ``rate`` of them in its 1 s)
    and its own baseline, the machine's busy CPU per operation chosen for each."""
    base = f"baseline~s|process|{rate}|{repeat}"
    kw = dict(rate=str(rate), repeat=repeat)
    return [dict(r, cell=base) for r in cell_rows(
        "baseline", {"proc_exec": dict(expected=rate)}, **kw,
        machine_busy_us_per_op=BASE_US)] + cell_rows(
        "s", {"proc_exec": dict(expected=rate, matched=round(rate * (1 - drop)))}, **kw,
        block=f"s|process|{rate}|{repeat}", baseline_cell=base,
        machine_busy_us_per_op=busy_us, cpu_us_per_event=12.0)


def _busy(rate: int, noise_us: float = 0.0) -> float:
    """The sensor cell's busy µs per operation: the baseline's, the per-event cost, the
    fixed cost spread over the operations, and a chosen error."""
    return BASE_US + PER_EVENT_US + IDLE_CORES * 1e6 / rate + noise_us


@pytest.fixture
def run(tmp_path) -> RunData:
    rows = []
    for rate in RATES:
        for rep, noise in enumerate((+1.0, -1.0)):
            rows += _block(rate, rep, _busy(rate, noise * 4000 / rate))
    # above what it keeps up with it drops events: a wild cost there must not count
    for rep in (0, 1):
        rows += _block(16000, rep, _busy(16000) + 500, drop=0.2)
    return RunData.load(write_folder(tmp_path / "r", rows))


def test_points_are_the_cores_added_over_each_blocks_own_baseline(run):
    pts = block_points(run).sort_values(["rate_target", "y"])
    at = pts[pts["rate_target"] == "1000"]
    # 40 µs x 1000/s + 0.05 cores, give or take the chosen 4 µs per operation
    assert at["x"].tolist() == [1000.0, 1000.0]
    assert at["y"].tolist() == pytest.approx([0.09 - 0.004, 0.09 + 0.004])
    assert not pts.loc[pts["rate_target"] == "16000", "kept"].any()
    assert pts.loc[pts["rate_target"] != "16000", "kept"].all()


def test_the_slope_recovers_the_per_event_and_the_fixed_cost(run):
    (c,) = costs(run)
    assert c.us_per_event == pytest.approx(PER_EVENT_US, rel=0.02)
    assert c.ci_low_us < PER_EVENT_US < c.ci_high_us
    assert c.idle_cores == pytest.approx(IDLE_CORES, abs=0.01)
    assert (c.points, c.rates, c.at_rate) == (8, 4, "8000")   # 16000/s failed: left out
    assert c.resolved
    assert c.cores_per_100k[0] == pytest.approx(PER_EVENT_US / 10, rel=0.02)
    assert c.own_us_per_event == 12.0
    # at 8000/s: 40 µs + 0.05 cores / 8000 per event = 46.25 µs, the blocks' paired estimate
    assert c.at_rate_us == pytest.approx(PER_EVENT_US + IDLE_CORES * 1e6 / 8000, rel=0.01)


def test_resolved_means_within_a_quarter_either_side():
    def cost(v, lo, hi):
        return Cost("s", "w", v, lo, hi, 0.0, 4, 2, "", math.nan, math.nan, math.nan, 0.0)

    edge = RESOLVED_WITHIN * 100
    assert cost(100, 100 - edge + 0.1, 100 + edge - 0.1).resolved
    assert not cost(100, 100 - edge - 0.1, 110).resolved
    assert not cost(100, 90, 100 + edge + 0.1).resolved
    assert not cost(-5, -6, -4).resolved          # a cost below zero resolves nothing
    assert not cost(100, math.nan, math.nan).resolved


def test_slope_interval_of_a_known_line():
    x = [1, 2, 3, 4, 5]
    assert slope_interval(x, [2 * v + 1 for v in x]) == pytest.approx((2, 2, 2, 1))
    slope, lo, hi, icpt = slope_interval(x, [2.0, 2.9, 4.2, 4.8, 6.1])
    # by hand: Sxy 10.1 over Sxx 10 = 1.01, intercept 4 - 3 x 1.01 = 0.97; residuals' sum
    # of squares 0.099 over 3 df, over Sxx: standard error 0.05745; t(3) at 97.5 % 3.1824
    assert slope == pytest.approx(1.01) and icpt == pytest.approx(0.97)
    assert (hi - lo) / 2 == pytest.approx(3.1824 * 0.05745, rel=1e-3)
    # a wider level gives a wider interval around the same slope
    s99, lo99, hi99, _ = slope_interval(x, [2.0, 2.9, 4.2, 4.8, 6.1], level=0.99)
    assert s99 == slope and lo99 < lo and hi < hi99


def test_slope_interval_needs_points_that_say_something():
    assert all(math.isnan(v) for v in slope_interval([1], [1]))
    assert all(math.isnan(v) for v in slope_interval([2, 2, 2], [1, 2, 3]))   # x all alike
    s, lo, hi, _ = slope_interval([1, 2], [1, 3])                               # no residual df
    assert s == pytest.approx(2) and math.isnan(lo) and math.isnan(hi)
    assert slope_interval([1, 2, math.nan, 3], [1, 2, 5, 3])[:3] == pytest.approx((1, 1, 1))


def test_the_section_renders_in_every_medium(run):
    from rich.console import Console

    from bench.report import sections, terminal
    from bench.report.markdown import section

    sec = sections.total_cost(run)
    con = Console(record=True, width=220)
    terminal.render(sec, con)
    text = con.export_text()
    assert "Total cost of sensing" in text and "resolved" in text
    (row,) = [ln for ln in text.splitlines() if ln.strip().startswith("s ")]
    assert " yes " in row and "8000" in row
    md = "\n".join(section(sec, str))
    assert "| `s` |" in md or "| s |" in md


def test_resolved_is_strict_at_a_quarter_and_holds_for_small_costs():
    def cost(v, lo, hi):
        return Cost("s", "w", v, lo, hi, 0.0, 4, 2, "", math.nan, math.nan, math.nan, 0.0)

    # exactly a quarter away on either side is not within a quarter
    assert not cost(100, 75, 100).resolved and not cost(100, 100, 125).resolved
    assert cost(100, 76, 124).resolved
    # a cost below one µs is still a cost: the rule is relative, not a floor of 1
    assert cost(0.5, 0.45, 0.55).resolved


def test_folders_without_cells_or_paired_baselines_give_no_points(tmp_path):
    cols = ["series", "workload_spec", "rate_target", "x", "y", "kept"]
    empty = RunData.load(write_folder(tmp_path / "empty", []))
    # machine CPU measured, but no cell has a baseline of its own
    unpaired = RunData.load(write_folder(tmp_path / "unpaired", cell_rows(
        "baseline", machine_busy_us_per_op=BASE_US) + cell_rows(
        "s", machine_busy_us_per_op=BASE_US + 50)))
    for run in (empty, unpaired):
        pts = block_points(run)
        assert pts.empty and list(pts.columns) == cols
        assert costs(run) == []


def test_a_rate_slowed_past_the_runs_overhead_limit_is_not_kept(tmp_path):
    """The saturation rule with every limit, at the run's own overhead limit (20 %): the
    workload's time per operation +30 % at 2000/s is past it, so that rate does not count."""
    rows = []
    for rate in (1000, 2000):
        for rep, noise in enumerate((+1.0, -1.0)):
            for r in _block(rate, rep, _busy(rate, noise)):
                slowed = 1300.0 if rate == 2000 else 1000.0
                r["op_time_ns"] = 1000.0 if r["backend"] == "baseline" else slowed + noise
                rows.append(r)
    run = RunData.load(write_folder(tmp_path / "r", rows, meta={
        "machine": MACHINE, "rules": {"overhead_limit_pct": 20.0}}))
    pts = block_points(run)
    assert pts["kept"].tolist() == [True, True, False, False]
    (c,) = costs(run)
    assert (c.points, c.rates, c.at_rate) == (2, 1, "1000")


# -- two series, two kinds per operation, 2 s cells ---------------------------------------
TWO_RATES = (500, 1000, 2000)     # "500" is the highest as text: the rate is taken as a number
PER_EVENT = {"zz": 40.0, "aa": 20.0}


def _two_kind_block(series: str, rate: int, repeat: int, noise_us: float) -> list[dict]:
    """A sensor cell seeing two events per operation (proc_exec and proc_exit) over 2 s,
    and its own baseline."""
    base = f"baseline~{series}|process|{rate}|{repeat}"
    kw = dict(rate=str(rate), repeat=repeat, duration_s=2.0)
    kinds = {k: dict(expected=2 * rate, matched=2 * rate) for k in ("proc_exec", "proc_exit")}
    busy = BASE_US + 2 * PER_EVENT[series] + IDLE_CORES * 1e6 / rate + noise_us
    return [dict(r, cell=base) for r in cell_rows(
        "baseline", kinds, **kw, machine_busy_us_per_op=BASE_US)] + cell_rows(
        series, kinds, **kw, block=f"{series}|process|{rate}|{repeat}", baseline_cell=base,
        machine_busy_us_per_op=busy, cpu_us_per_event=7.0)


@pytest.fixture
def two(tmp_path) -> RunData:
    rows = [r for series in PER_EVENT for rate in TWO_RATES
            for rep, noise in enumerate((+1.0, -1.0))
            for r in _two_kind_block(series, rate, rep, noise * 4000 / rate)]
    return RunData.load(write_folder(tmp_path / "two", rows))


def test_points_count_every_kinds_events_over_the_cells_duration(two):
    pts = block_points(two)
    zz = pts[pts["series"] == "zz"]
    # one point per cell, not per kind; 2 x 2 x rate events over 2 s: 2 events per operation
    assert zz["x"].tolist() == [1000.0, 1000.0, 2000.0, 2000.0, 4000.0, 4000.0]
    # 2 x 40 µs per operation and 0.05 cores, ±4000/rate µs per operation: exactly
    want = [(2 * 40.0 + IDLE_CORES * 1e6 / r + n * 4000 / r) * r / 1e6
            for r in TWO_RATES for n in (+1, -1)]
    assert zz["y"].tolist() == pytest.approx(want, rel=1e-9)
    assert pts["kept"].all()


def test_each_series_gets_its_own_slope_and_its_own_estimate_at_its_top_rate(two):
    pts = block_points(two)
    found = costs(two)
    # in the run's order, one per series x workload
    assert [(c.series, c.workload_spec) for c in found] == [("zz", "process"), ("aa", "process")]
    for c in found:
        g = pts[pts["series"] == c.series]
        slope, lo, hi, icpt = slope_interval(g["x"], g["y"])
        assert (c.us_per_event, c.ci_low_us, c.ci_high_us, c.idle_cores) == pytest.approx(
            (slope * 1e6, lo * 1e6, hi * 1e6, icpt), rel=1e-12)
        assert c.us_per_event == pytest.approx(PER_EVENT[c.series], rel=0.02)
        assert (c.points, c.rates, c.at_rate, c.own_us_per_event) == (6, 3, "2000", 7.0)
        # the series' own combined cell at 2000/s, per event: two events per operation
        cell = two.cells[(two.cells["series"] == c.series) & (two.cells["rate_target"] == "2000")]
        (est, low, high), = cell[["machine_cpu_us_per_op", "machine_cpu_ci_low_us",
                                  "machine_cpu_ci_high_us"]].to_numpy()
        assert (c.at_rate_us, c.at_rate_low_us, c.at_rate_high_us) == pytest.approx(
            (est / 2, low / 2, high / 2), rel=1e-12)
        assert c.at_rate_us == pytest.approx(PER_EVENT[c.series] + IDLE_CORES * 1e6 / 4000)
        assert low < est < high


def test_the_report_links_the_sections_it_holds_and_no_other(run):
    from bench.report import html

    page = html.render(run, [], [])
    assert 'href="#total-cost"' in page and 'id="total-cost"' in page
    # no cell of this run had bursts: no section, so no link to one
    assert 'href="#bursts"' not in page and 'id="bursts"' not in page


# -- the one cost an at-a-glance view shows ---------------------------------------------------
def _both(slope, at):
    return Cost("s", "w", *slope, 0.0, 6, 3, "8000", *at, 1.0)


@pytest.mark.parametrize("slope, at, shown", [
    # the slope resolved: it wins, even over a resolved estimate at rate
    ((10.0, 9.0, 11.0), (12.0, 11.0, 13.0), (10.0, 9.0, 11.0, SLOPE, True)),
    # only the estimate at rate resolved
    ((10.0, -5.0, 25.0), (12.0, 11.0, 13.0), (12.0, 11.0, 13.0, AT_RATE, True)),
    # neither: the slope, as it has an interval
    ((10.0, -5.0, 25.0), (12.0, 1.0, 23.0), (10.0, -5.0, 25.0, SLOPE, False)),
    # neither, and the slope has no interval (one rate): the estimate at rate
    ((10.0, math.nan, math.nan), (12.0, 1.0, 23.0), (12.0, 1.0, 23.0, AT_RATE, False)),
    ((math.nan,) * 3, (12.0, 11.0, 13.0), (12.0, 11.0, 13.0, AT_RATE, True)),
    # exactly at the resolution's edge is not resolved (narrower than ±25 %)
    ((8.0, 6.0, 10.0), (12.0, 1.0, 23.0), (8.0, 6.0, 10.0, SLOPE, False)),
])
def test_the_shown_cost_is_the_resolved_method_first(slope, at, shown):
    got = resolved_cost(_both(slope, at))
    assert got[3:] == shown[3:]
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got[:3], shown[:3]))


def _sensor(series, total, own, workload="w"):
    return Cost(series, workload, *total, 0.0, 6, 3, "8000", math.nan, math.nan, math.nan, own)


def test_the_rankings_disagree_where_the_total_cost_is_told_apart_the_other_way():
    items = [
        _sensor("kernel", (2.0, 1.8, 2.2), own=5.0),     # cheap in total, dear in own CPU
        _sensor("user", (10.0, 9.0, 11.0), own=4.0),
        _sensor("overlap", (2.5, 1.5, 9.5), own=1.0),    # its interval meets both: no claim
        _sensor("agrees", (30.0, 28.0, 32.0), own=20.0),
        _sensor("other", (50.0, 45.0, 55.0), own=0.5, workload="v"),   # another workload
    ]
    d = ranking_disagreements(items)
    assert [(x.cheaper, x.dearer) for x in d] == [("kernel", "user")]
    (x,) = d
    assert x.workload_spec == "w" and x.own == (5.0, 4.0)
    assert x.total == ((2.0, 1.8, 2.2), (10.0, 9.0, 11.0))
    # intervals that touch tell nothing apart
    touching = [_sensor("a", (2.0, 1.0, 9.0), own=5.0), _sensor("b", (10.0, 9.0, 11.0), own=4.0)]
    assert ranking_disagreements(touching) == []
    # a total cost not told from zero (here below it, as noise can put it) claims nothing
    noise = [_sensor("a", (-7.0, -19.0, 5.0), own=17.0), _sensor("b", (10.0, 9.0, 11.0), own=4.0)]
    assert ranking_disagreements(noise) == []
    # the same own CPU is no disagreement
    same = [_sensor("a", (2.0, 1.8, 2.2), own=4.0), _sensor("b", (10.0, 9.0, 11.0), own=4.0)]
    assert ranking_disagreements(same) == []


def test_disagreements_come_per_workload_dearest_first():
    items = [_sensor("k", (1.0, 0.9, 1.1), own=9.0), _sensor("u1", (10.0, 9.0, 11.0), own=2.0),
             _sensor("u2", (20.0, 19.0, 21.0), own=3.0),
             _sensor("k", (1.0, 0.9, 1.1), own=9.0, workload="a"),
             _sensor("u", (5.0, 4.0, 6.0), own=1.0, workload="a")]
    assert [(x.workload_spec, x.cheaper, x.dearer) for x in ranking_disagreements(items)] == [
        ("a", "k", "u"), ("w", "k", "u2"), ("w", "k", "u1")]


def test_a_cheaper_cost_whose_interval_starts_at_zero_is_not_told_from_zero():
    items = [_sensor("a", (2.0, 0.0, 2.2), own=5.0), _sensor("b", (10.0, 9.0, 11.0), own=4.0)]
    assert ranking_disagreements(items) == []
    items[0] = _sensor("a", (2.0, 0.01, 2.2), own=5.0)
    assert [(d.cheaper, d.dearer) for d in ranking_disagreements(items)] == [("a", "b")]


def test_pairs_with_the_same_dearer_sensor_come_cheapest_first():
    items = [_sensor("k2", (3.0, 2.9, 3.1), own=9.0), _sensor("k1", (1.0, 0.9, 1.1), own=8.0),
             _sensor("u", (10.0, 9.0, 11.0), own=2.0)]
    assert [(d.cheaper, d.dearer) for d in ranking_disagreements(items)] == [
        ("k1", "u"), ("k2", "u")]


def test_disagreements_are_ordered_by_the_costs_not_their_interval_ends():
    # by value: u2 (20) before u1 (10), k1 (1.0) before k2 (3.0); by low ends the other way
    items = [_sensor("k2", (3.0, 0.2, 3.5), own=9.0), _sensor("k1", (1.0, 0.9, 1.1), own=8.0),
             _sensor("u1", (10.0, 9.0, 11.0), own=2.0), _sensor("u2", (20.0, 4.0, 30.0), own=1.0)]
    assert [(d.cheaper, d.dearer) for d in ranking_disagreements(items)] == [
        ("k1", "u2"), ("k2", "u2"), ("k1", "u1"), ("k2", "u1")]


def test_a_sensor_that_holds_the_workload_back_is_charged_per_operation(tmp_path):
    """The sensor cells run 4 % fewer operations than their baselines (behind, within the
    keep-up rule): the cores added are the per-operation difference at the sensor cell's
    own operations a second, so the slope is still the per-event cost; whole-cell cores
    would subtract the baseline's extra operations (4 % of 100 µs each) from it."""
    rows = []
    for rate in RATES:
        for rep in (0, 1):
            block = _block(rate, rep, BASE_US + PER_EVENT_US)
            for r in block:
                if r["spec"] != "baseline":
                    r.update(rate_achieved=0.96 * rate, expected=round(0.96 * rate),
                             matched=round(0.96 * rate))
            rows += block
    run = RunData.load(write_folder(tmp_path / "r", rows))
    pts = block_points(run)
    assert pts["kept"].all()
    assert pts["x"].tolist() == pytest.approx([0.96 * r for r in RATES for _ in (0, 1)], abs=1)
    assert pts["y"].tolist() == pytest.approx(
        [PER_EVENT_US * 0.96 * r / 1e6 for r in RATES for _ in (0, 1)])
    (c,) = costs(run)
    assert c.us_per_event == pytest.approx(PER_EVENT_US, rel=0.01)
    assert c.idle_cores == pytest.approx(0, abs=1e-3)
