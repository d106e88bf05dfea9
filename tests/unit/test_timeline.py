"""The scenario timeline and its summary, on constructed data whose truth is known."""

import numpy as np
import pytest

from bench.analysis import timeline as tl
from bench.analysis.correlate import Correlation
from bench.core.kinds import Kind

MS = 1_000_000
K = int(Kind.file_create)


def _cell(n=1000, lost=(), delay_ms=lambda t: 0.1, done_ms=lambda t: 0.05):
    """n operations 1 ms apart from t=1 s, one event each, seen ``delay_ms(t)`` later
    unless issued in one of the ``lost`` [lo, hi) ms ranges (relative to the start)."""
    t0 = 1000 * MS
    t_int = t0 + np.arange(n, dtype=np.int64) * MS
    truth = {"op": np.arange(n), "kind": np.full(n, K), "key": np.arange(n),
             "t_intended": t_int, "t_issue": t_int.copy(),
             "t_done": t_int + np.array([int(done_ms((t - t0) / MS) * MS) for t in t_int])}
    keep = np.array([not any(lo <= (t - t0) / MS < hi for lo, hi in lost) for t in t_int])
    ti = np.flatnonzero(keep)
    t_seen = t_int[ti] + np.array([int(delay_ms((t - t0) / MS) * MS) for t in t_int[ti]])
    events = {"kind": np.full(len(ti), K, np.int16), "key": ti, "pid": np.zeros(len(ti)),
              "t_seen": t_seen, "t_kernel": np.full(len(ti), -1), "path": np.full(len(ti), None)}
    corr = Correlation(ti, np.arange(len(ti)), np.zeros(len(ti), bool), np.zeros(len(ti), bool))
    return t0, truth, events, corr


def test_a_crash_blind_window_is_the_hole_in_what_was_seen():
    # killed at 400 ms, back at 550 ms: operations 400..549 are never seen
    t0, truth, events, corr = _cell(lost=[(400, 550)])
    fault = tl.Fault(t0 + 400 * MS, t0 + 550 * MS, [(t0, "ready")], crashed=True)
    row = tl.summarize(truth, events, corr, frozenset({K}), fault, t0 + 1000 * MS)
    # last seen op at 399 ms, first seen again at 550 ms
    assert row["blind_ms"] == pytest.approx(151.0)
    assert row["down_ms"] == pytest.approx(150.0)
    assert row["events_lost"] == row["events_lost_in_window"] == 150
    assert row["ops_in_window"] == 150
    assert row["workload_stall_ms"] == pytest.approx(0.0)
    assert row["recovered_ms"] == pytest.approx(0.1)   # the first live op, 0.1 ms later
    assert tl.outcome(dict(row, crashed=True), "crash") == "sensor-crashed"


def test_nothing_lost_is_no_blind_window_and_a_stall_shows_as_catch_up():
    # stopped at 300 ms for 200 ms: every event arrives, those of the window late; after
    # SIGCONT the backlog delays live operations for 20 ms more
    def delay(t):
        if 300 <= t < 500:
            return 500 - t + 0.1
        if 500 <= t < 520:
            return 20 - (t - 500) + 0.1
        return 0.1

    t0, truth, events, corr = _cell(delay_ms=delay)
    fault = tl.Fault(t0 + 300 * MS, t0 + 500 * MS, [(t0, "ready"), (t0 + 300 * MS, "stopped"),
                                                     (t0 + 500 * MS, "ready")])
    row = tl.summarize(truth, events, corr, frozenset({K}), fault, t0 + 1000 * MS)
    assert row["blind_ms"] == 0.0 and row["events_lost"] == 0
    assert row["window_latency_max_ms"] == pytest.approx(200.1)
    # the first live op with a usual latency again: issued at 520 ms, seen 0.1 ms later
    assert row["recovered_ms"] == pytest.approx(20.1)
    assert tl.outcome(row, "stall") == "no-loss"


def test_a_workload_held_up_is_host_impact_not_loss():
    # every operation issued from 300 ms to 600 ms is done only at 600 ms (backpressure)
    t0, truth, events, corr = _cell(done_ms=lambda t: 600 - t if 300 <= t < 600 else 0.05)
    fault = tl.Fault(t0 + 300 * MS, t0 + 600 * MS, [(t0, "ready")])
    row = tl.summarize(truth, events, corr, frozenset({K}), fault, t0 + 1000 * MS)
    assert row["workload_stall_ms"] == pytest.approx(300.0 - 0.05, abs=0.01)
    assert row["events_lost"] == 0
    assert tl.outcome(row, "stall") == "host-impact"
    # a hiccup under the limit is not an impact on the host
    assert tl.outcome(dict(row, workload_stall_ms=tl.STALL_LIMIT_MS - 1), "stall") == "no-loss"


def test_outcome_order_host_first_then_crash_then_loss():
    assert tl.outcome({"workload_stall_ms": 500, "crashed": True, "events_lost": 9},
                      "crash") == "host-impact"
    assert tl.outcome({"workload_stall_ms": 5, "crashed": True}, "crash") == "sensor-crashed"
    assert tl.outcome({"workload_stall_ms": 5, "events_lost": 1}, "stall") == "degraded"
    assert tl.outcome({"workload_stall_ms": 5, "update": "refused"}, "bad-update") == "refused"
    assert tl.outcome({"update": "crashed", "canary": "halted: the canary crashed"},
                      "bad-update") == "refused"
    # applied, and nothing lost (malformed rules a program's bounds turned into a no-op)
    assert tl.outcome({"workload_stall_ms": 5, "update": "applied"}, "bad-update") == "no-loss"
    assert tl.outcome({"update": "refused", "events_lost": 3}, "bad-update") == "degraded"
    assert tl.outcome({"workload_failed": True}, "stall") == "host-impact"
    # a flood's load on the machine is the attack's, not the sensor's
    assert tl.outcome({"workload_stall_ms": 500, "technique": "flood"}, "tamper") == "no-loss"


def test_timeline_bins_count_every_operation_and_event_once():
    t0, truth, events, corr = _cell(lost=[(400, 550)])
    fault = tl.Fault(t0 + 400 * MS, t0 + 550 * MS,
                     [(t0, "ready"), (t0 + 400 * MS, "dead"), (t0 + 550 * MS, "ready")], True)
    t = tl.timeline(truth, events, corr, frozenset({K}), fault, t0, t0 + 1000 * MS)
    assert len(t["t_ms"]) == 100 and t["issued"].sum() == 1000
    assert t["expected"].sum() == 1000 and t["observed"].sum() == 850
    assert t["seen"].sum() == 850
    # the hole: bins 40..54 observed nothing; the state follows the fault
    assert (t["observed"][40:55] == 0).all() and (t["observed"][55:] == 10).all()
    assert list(t["state"][[0, 39, 40, 54, 55]]) == ["ready", "ready", "dead", "dead", "ready"]


def test_an_unsupported_kind_is_not_expected():
    t0, truth, events, corr = _cell(lost=[(0, 1000)])
    fault = tl.Fault(t0 + 400 * MS, t0 + 550 * MS, [(t0, "ready")])
    row = tl.summarize(truth, events, corr, frozenset({int(Kind.proc_exec)}), fault,
                       t0 + 1000 * MS)
    assert row["events_expected"] == 0 and row["events_lost"] == 0 and row["blind_ms"] == 0
