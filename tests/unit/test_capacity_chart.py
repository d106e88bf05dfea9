"""The capacity overview's points: each backend at its max sustainable rate and its
resolved total cost, and the ones it cannot place named with the reason."""

from __future__ import annotations

import math

import pytest

from bench.report.capacity import BELOW_LOWEST, capacity_points
from bench.report.style import Styles
from bench.results.cost import SLOPE
from bench.results.rundata import RunData
from tests.helpers.constructed import cell_rows, write_folder

PER_EVENT_US, BASE_US = 40.0, 100.0


def _block(spec: str, rate: int, repeat: int, busy_us: float, drop: float = 0.0) -> list[dict]:
    """A sensor cell of ``spec`` (one proc_exec event per operation) and its own
    baseline, with the machine's busy CPU per operation chosen for each."""
    base = f"baseline~{spec}|process|{rate}|{repeat}"
    kw = dict(rate=str(rate), repeat=repeat)
    return [dict(r, cell=base) for r in cell_rows(
        "baseline", {"proc_exec": dict(expected=rate)}, **kw,
        machine_busy_us_per_op=BASE_US)] + cell_rows(
        spec, {"proc_exec": dict(expected=rate, matched=round(rate * (1 - drop)))}, **kw,
        block=f"{spec}|process|{rate}|{repeat}", baseline_cell=base,
        machine_busy_us_per_op=busy_us, cpu_us_per_event=12.0)


@pytest.fixture
def run(tmp_path) -> RunData:
    rows = []
    for rate in (1000, 4000, 16000):
        for rep, noise in enumerate((+0.5, -0.5)):
            busy = BASE_US + PER_EVENT_US + noise
            # 'kept' fails at 16000/s, 'never' keeps up throughout, 'lowest' fails at once
            rows += _block("kept", rate, rep, busy, drop=0.2 if rate == 16000 else 0.0)
            rows += _block("never", rate, rep, busy)
            rows += _block("lowest", rate, rep, busy, drop=0.5)
    return RunData.load(write_folder(tmp_path / "r", rows))


def test_each_backend_at_its_kept_rate_with_its_bracket_and_resolved_cost(run):
    pts, left = capacity_points(run)
    by = pts.set_index("series")
    assert set(by.index) == {"kept", "never"}
    assert (by.loc["kept", "rate"], by.loc["kept", "failed"]) == (4000, 16000)
    assert not by.loc["kept", "at_least"]
    assert by.loc["never", "rate"] == 16000 and by.loc["never", "at_least"]
    assert math.isnan(by.loc["never", "failed"])
    for s in ("kept", "never"):
        assert by.loc[s, "method"] == SLOPE and by.loc[s, "resolved"]
        assert by.loc[s, "cost_us"] == pytest.approx(PER_EVENT_US, rel=0.05)
        assert by.loc[s, "cost_lo_us"] < PER_EVENT_US < by.loc[s, "cost_hi_us"]
    assert left == {BELOW_LOWEST: ["lowest (process)"]}


def test_the_chart_is_drawn_and_its_caption_names_what_is_left_out(run, tmp_path):
    from bench.report.capacity import capacity

    paths, caption = capacity(run, Styles(run.series_info()), tmp_path / "charts")
    assert paths and all(p.exists() and p.stat().st_size > 0 for p in paths)
    assert "lowest (process)" in caption and BELOW_LOWEST in caption
