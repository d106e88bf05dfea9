"""Burst metrics (bench.analysis.bursts) on a constructed cell whose answer is worked out by
hand: which operations fall in a burst, the loss of each burst, how long after a burst's
end its last event came, and the latency of the base stretch after it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis.bursts import COLUMNS, burst_metrics
from bench.analysis.correlate import Correlation
from bench.core.kinds import Kind
from workloads.pacing import Burst

MS = 1_000_000
T0 = 5_000 * MS
# 0.4 s base, then 0.1 s of burst, twice: bursts at [400, 500) and [900, 1000) ms
WINDOWS = Burst(100, 400, 20000).windows_ns(1.0)


def _cell(intended_ms, seen_ms, kind=Kind.file_create):
    """A cell of one kind: operations intended (and issued) at these ms after T0, each
    seen at the given ms after T0 (None: missed)."""
    t = T0 + np.asarray(intended_ms, dtype=np.int64) * MS
    truth = {"op": np.arange(len(t)), "kind": np.full(len(t), int(kind), np.int16),
             "t_intended": t, "t_issue": t}
    hit = [i for i, s in enumerate(seen_ms) if s is not None]
    events = {"t_seen": np.asarray([T0 + seen_ms[i] * MS for i in hit], dtype=np.int64)}
    corr = Correlation(np.asarray(hit, dtype=np.int64), np.arange(len(hit)), np.zeros(len(hit), bool),
                       np.zeros(len(hit), bool))
    return truth, events, corr


def test_each_burst_is_judged_on_its_own_operations():
    assert WINDOWS == [(400 * MS, 500 * MS), (900 * MS, 1000 * MS)]
    intended = [0, 100, 200, 300,            # base before the first burst: seen 1 ms late
                400, 420, 440, 460, 480,     # burst 1: two missed, the last seen 30 ms after
                500, 600, 700,               # base after it: 5, 3 and 1 ms late
                900, 950, 995]               # burst 2: all seen, inside the burst
    seen = [1, 101, 201, 301,
            None, 421, None, 470, 530,
            505, 603, 701,
            901, 951, 996]
    m = burst_metrics(*_cell(intended, seen), frozenset({Kind.file_create}), WINDOWS)
    assert m["bursts"] == 2
    assert m["burst_loss_worst"] == pytest.approx(2 / 5)
    assert m["burst_loss"] == pytest.approx(2 / 8)   # 995 ms is still in burst 2
    # burst 1's last event 30 ms after its end, burst 2's inside it (0): median 15, worst 30
    assert (m["burst_drain_ms"], m["burst_drain_max_ms"]) == pytest.approx((15, 30))
    # after burst 1: 5, 3, 1 ms late -> p99 4.96 ms; after burst 2 (until the schedule's
    # last operation): nothing intended there -> no value, so the median is burst 1's
    assert m["burst_recovery_p99_us"] == pytest.approx(np.percentile([5000, 3000, 1000], 99))
    assert m["burst_base_p99_us"] == pytest.approx(1000)


def test_kinds_the_backend_does_not_see_are_not_expected_of_it():
    truth, events, corr = _cell([0, 450], [None, None])
    m = burst_metrics(truth, events, corr, frozenset({Kind.proc_exec}), WINDOWS)
    assert all(math.isnan(m[c]) for c in COLUMNS)


def test_no_windows_or_no_operations_give_nothing():
    truth, events, corr = _cell([0, 450], [1, 451])
    assert all(math.isnan(v) for v in burst_metrics(truth, events, corr,
                                                    frozenset({Kind.file_create}), []).values())
    m = burst_metrics(truth, events, corr, frozenset({Kind.file_create}), WINDOWS)
    assert (m["bursts"], m["burst_loss"], m["burst_drain_ms"]) == (1, 0.0, 0.0)


def test_a_burst_wholly_missed_has_no_drain():
    m = burst_metrics(*_cell([0, 450, 460], [1, None, None]), frozenset({Kind.file_create}),
                      WINDOWS)
    assert m["burst_loss_worst"] == 1.0 and math.isnan(m["burst_drain_ms"])
