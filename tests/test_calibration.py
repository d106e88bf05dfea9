"""Calibration: the harness must recover the delay and drop rate the synthetic backend injects.

This is the test that keeps every other number honest. The floor (side channel plus
scheduling) is measured in the same run with ``delay_us=0``.
"""

import pytest

from tests.helpers import run_cells

RATE = "2000"
DURATION = "3"


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("calibration")
    return run_cells(tmp, "-b", "synthetic", "-b", "synthetic:delay_us=500,drop=0.02",
                     "-w", "file", "-r", RATE, "-d", DURATION, "--no-baseline")


def _one(cells, spec):
    c = cells[cells["spec"] == spec]
    assert (c["status"] == "ok").all(), c[["kind", "status", "reason"]]
    return c


def test_no_injected_drop_means_no_drops(cells):
    c = _one(cells, "synthetic")
    assert (c["drop_rate"] == 0).all()
    assert (c["duplicates"] == 0).all() and (c["unmatched"] == 0).all()
    assert (c["self_reported_lost"] == 0).all()


def test_injected_drop_rate_recovered(cells):
    c = _one(cells, "synthetic:delay_us=500,drop=0.02")
    expected, matched = c["expected"].sum(), c["matched"].sum()
    drop = (expected - matched) / expected
    assert abs(drop - 0.02) < 0.005, drop
    # The harness's count equals what the backend says it dropped: not just close.
    assert expected - matched == c["self_reported_lost"].iloc[0]


def test_injected_delay_recovered_above_floor(cells):
    floor = _one(cells, "synthetic")["latency_p50_us"].median()
    p50 = _one(cells, "synthetic:delay_us=500,drop=0.02")["latency_p50_us"].median()
    assert abs(p50 - (500 + floor)) <= 0.10 * 500, (p50, floor)
