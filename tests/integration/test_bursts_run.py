"""Bursts end to end, calibrated: ``synthetic:capacity=C`` takes a burst of
CAPACITY_BURST_S at capacity and C events a second after that, so a burst of P ops/s for
A ms, after a base stretch that left its bucket full, loses 1 - (C x burst + C x A) /
(P x A) of its operations: the loss the harness must find. A sensor with room to spare
loses nothing and drains at once."""

from __future__ import annotations

import pytest

from bench.backends.synthetic import CAPACITY_BURST_S
from bench.results import bursts
from bench.results.rundata import RunData
from tests.helpers import needs_root, sensorbench
from workloads.native import load_missing

pytestmark = [needs_root, pytest.mark.skipif(bool(load_missing()), reason=str(load_missing()))]

C, ON_MS, OFF_MS, PEAK = 5000, 100, 400, 20000


def test_burst_loss_of_a_known_capacity(tmp_path):
    sensorbench("run", "-b", f"synthetic:capacity={C},synthetic", "-w", "file", "-r", "1000",
                "--arrivals", f"burst:on_ms={ON_MS},off_ms={OFF_MS},peak={PEAK}",
                "-d", "2", "-n", "1", "--no-baseline", "--no-report", "-o", str(tmp_path / "r"),
                timeout=300, check=True)
    t = bursts.table(RunData.load(tmp_path / "r")).set_index("series")
    truth = 1 - (C * CAPACITY_BURST_S + C * ON_MS / 1e3) / (PEAK * ON_MS / 1e3)
    capped = t.loc[f"synthetic:capacity={C}"]
    assert capped["bursts"] == 4
    # a burst holds 2000 operations, Poisson: a few percent either way
    assert capped["loss"] == pytest.approx(truth, abs=0.05)
    free = t.loc["synthetic"]
    # nothing queues behind a burst it takes whole: what is left is scheduling, not backlog
    assert free["loss_worst"] == 0 and free["drain_max_ms"] < 250
