"""The total cost of sensing (bench.results.cost) on folders whose machine CPU is chosen:
the slope across rates recovers a per-event cost and a fixed cost, only rates the sensor
kept up with count, and the interval decides whether the cost is resolved. Also the slope
rule itself (bench.analysis.stats.slope_interval)."""

from __future__ import annotations

import math

import pytest

from bench.analysis.stats import slope_interval
from bench.results.cost import RESOLVED_WITHIN, Cost, block_points, costs
from bench.results.rundata import RunData
from tests.helpers.constructed import cell_rows, write_folder

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
