"""Calibration of the marginal CPU per event and its interval, with the ``synthetic``
control burning known CPU (bench.backends.synthetic, bench.harness.accounting).

Three arms in one run, three repeats each: the plain replay (its own handling per event,
not known in advance and not the same from one cell to the next on a shared machine),
``work_us=400`` (400 µs of thread CPU burnt on every event: a known per-event cost on top),
and ``idle_pct=25`` (a quarter of a core burnt whether events come or not: a known fixed
cost, nothing per event). The plain arm is the zero of the method, as the ``ns=0`` arm is
for ``injected_cost``: the range of the work arm's intervals must reach the CPU the backend says
it burnt per event (plus no more handling than the plain arm's), and the idle arm's
marginal minus the plain arm's must cover zero. Without the idle subtraction the
idle arm would sit about 500 µs/event above the plain arm.
"""

from __future__ import annotations

import json
import math

import pytest

from bench.report.columns import marginal
from bench.report.present import cell_text
from bench.results.rundata import RunData
from tests.helpers import run_cells

PLAIN, WORK, IDLE = "synthetic", "synthetic:work_us=400", "synthetic:idle_pct=25"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("marginal")
    cells = run_cells(tmp, "-b", PLAIN, "-b", WORK, "-b", IDLE, "-w", "file", "-r", "1000",
                      "-d", "0.5", "-n", "3", "--no-baseline", "--idle", "0.36")
    assert (cells["status"] == "ok").all(), cells[["spec", "kind", "status", "reason"]]
    meta = json.loads((tmp / "results" / "meta.json").read_text())
    assert meta["plan"]["idle_s"] == 0.36
    return RunData.load(tmp / "results"), cells, meta["backend_stats"]


def _pooled(run_data: RunData, spec: str) -> tuple[float, float]:
    """The marginal of a spec over its repeats, and the half-width of the range its
    repeats' intervals lie in."""
    c = run_data.cells.set_index("series").loc[spec]
    lo, hi = c["sensor_marginal_ci_low_us"], c["sensor_marginal_ci_high_us"]
    assert lo <= c["sensor_marginal_us_per_event"] <= hi, c
    return c["sensor_marginal_us_per_event"], (hi - lo) / 2


def _difference(run_data: RunData, spec: str) -> tuple[float, float]:
    """The spec's marginal minus the plain arm's, and the half-width of that difference
    (the two ranges' half-widths in quadrature)."""
    (m, h), (m0, h0) = _pooled(run_data, spec), _pooled(run_data, PLAIN)
    return m - m0, math.hypot(h, h0)


def test_every_cell_has_an_idle_rate_with_its_error_and_a_marginal_interval(run):
    _, cells, _ = run
    c = cells.drop_duplicates("cell")
    assert len(c) == 9
    assert (c["sensor_idle_cpu_se_pct"] >= 0).all(), c["sensor_idle_cpu_se_pct"]
    lo, hi = c["sensor_marginal_ci_low_us"], c["sensor_marginal_ci_high_us"]
    assert (lo <= c["sensor_marginal_us_per_event"]).all()
    assert (c["sensor_marginal_us_per_event"] <= hi).all()
    # the idle arm's fixed cost is found where it was put: about 25 % of a core idle,
    # against next to nothing for the plain replay
    idle = c.set_index(["spec", "repeat"])["sensor_idle_cpu_pct"]
    assert (idle[IDLE].between(20, 30)).all(), idle
    assert (idle[PLAIN] < 5).all(), idle


def test_a_known_per_event_cost_is_covered(run):
    """The work arm costs what it burnt per matched event plus the replay's own handling,
    which is no more than the plain arm's (it is often less: a thread busy burning finds
    the next event already queued and skips the wake-up that costs the plain arm). So
    the range of its repeats' intervals must reach [burnt, burnt + the plain arm's upper
    end], and resolve the cost (hold no zero)."""
    run_data, cells, stats = run
    burnt = [s["work_cpu_s"] * 1e6 / s["received"] for k, s in stats.items()
             if k.startswith(WORK + "|")]
    assert len(burnt) == 3 and all(b >= 400 for b in burnt), burnt
    truth = sum(burnt) / len(burnt)
    (m, half), (m0, half0) = _pooled(run_data, WORK), _pooled(run_data, PLAIN)
    assert m + half >= truth and m - half <= truth + m0 + half0, (m, half, truth, m0, half0)
    assert m - half > 0, (m, half)
    # every work cell alone: never reported below what it provably burnt
    w = cells[cells["spec"] == WORK].drop_duplicates("cell")
    assert (w["sensor_marginal_ci_high_us"] >= 400).all(), w["sensor_marginal_ci_high_us"]


def test_idle_only_spinning_adds_no_per_event_cost(run):
    """A quarter of a core burnt whether events come or not is idle cost: the idle arm's
    marginal minus the plain arm's covers zero (and is much narrower than the
    ~500 µs/event the spinning would add if it were not taken out), and no table shows
    the idle arm at a negative cost."""
    run_data, cells, stats = run
    spun = [s["idle_burnt_cpu_s"] for k, s in stats.items() if k.startswith(IDLE + "|")]
    assert all(s > 0.1 for s in spun), spun     # it really burnt a quarter of a core
    d, half = _difference(run_data, IDLE)
    assert d - half <= 0 <= d + half, (d, half)
    assert half < 250, half
    row = run_data.cells.set_index("series").loc[IDLE]
    text = cell_text(marginal(row))
    assert not text.startswith("-"), text
    if row["sensor_marginal_ci_low_us"] <= 0:
        assert text.startswith("not resolved"), text
