"""The scenario timeline and its summary, on constructed data whose truth is known."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- small cells built row by row, for the edges ---------------------------------------

T0 = 1000 * MS
K2 = int(Kind.file_write)


def _exact(x):
    """A known answer in ms, to well under a ns: times are whole ns divided by 1e6."""
    return pytest.approx(x, rel=1e-9)


def _ops(issue_ms, lat_ms, *, kinds=None, op=None, intended_ms=None, done_ms=None,
         timed=None):
    """One truth row per entry, issued ``issue_ms`` after T0 and seen ``lat_ms`` later
    (None: never seen); intended when issued and done 0.05 ms later unless given."""
    issue = np.asarray(issue_ms, float)
    n = len(issue)
    t_issue = T0 + np.round(issue * MS).astype(np.int64)
    t_int = t_issue if intended_ms is None else \
        T0 + np.round(np.asarray(intended_ms, float) * MS).astype(np.int64)
    t_done = t_issue + MS // 20 if done_ms is None else \
        T0 + np.round(np.asarray(done_ms, float) * MS).astype(np.int64)
    truth = {"op": np.arange(n) if op is None else np.asarray(op),
             "kind": np.full(n, K) if kinds is None else np.asarray(kinds),
             "key": np.arange(n), "t_intended": t_int, "t_issue": t_issue, "t_done": t_done}
    ti = np.array([i for i, lat in enumerate(lat_ms) if lat is not None], dtype=np.int64)
    t_seen = t_issue[ti] + np.round(np.array([lat_ms[i] for i in ti], float) * MS
                                    ).astype(np.int64)
    events = {"t_seen": t_seen}
    m = len(ti)
    corr = Correlation(ti, np.arange(m), np.zeros(m, bool), np.zeros(m, bool),
                       None if timed is None else np.asarray(timed, bool))
    return truth, events, corr


def _fault(at_ms, back_ms, crashed=False, states=()):
    return tl.Fault(T0 + int(at_ms * MS), None if back_ms is None else T0 + int(back_ms * MS),
                    [(T0 + int(t * MS), s) for t, s in states], crashed)


def _blind(t_ms, seen, fault_ms):
    return tl.blind_ms(np.round(np.asarray(t_ms, float) * MS).astype(np.int64),
                       np.asarray(seen, bool), round(fault_ms * MS))


# blind_ms ------------------------------------------------------------------------------

def test_blind_window_counts_an_operation_issued_exactly_at_the_fault():
    # ops at 0..4 ms, the one at 2 ms unseen: the hole runs from the last seen (1 ms) to
    # the first seen after it (3 ms)
    seen = [True, True, False, True, True]
    assert _blind(range(5), seen, 2.0) == _exact(2.0)
    # a fault 1 ns later: the lost op came before it, nothing lost from the fault on
    assert tl.blind_ms(np.arange(5, dtype=np.int64) * MS, np.array(seen), 2 * MS + 1) == 0.0


def test_blind_window_at_the_very_start_runs_from_the_first_operation():
    # nothing seen before 2 ms: the hole starts at the cell's first operation (0 ms)
    assert _blind([0, 1, 2, 3], [False, False, True, True], 0.0) == _exact(2.0)


def test_blind_window_at_the_very_end_runs_to_the_last_operation():
    # never seen again after 1 ms: the hole ends at the cell's last operation (4 ms)
    assert _blind([0, 1, 2, 3, 4], [True, True, False, False, False], 2.0) == \
        _exact(3.0)


def test_losses_only_before_the_fault_are_no_blind_window():
    assert _blind([0, 1, 2, 3, 4], [True, False, True, True, True], 3.0) == 0.0


def test_everything_lost_before_the_fault_and_nothing_after_is_no_blind_window():
    # nothing seen at all, but nothing issued from the fault (5 ms) on either
    assert _blind([0, 1, 2], [False, False, False], 5.0) == 0.0


def test_a_loss_before_the_first_seen_op_does_not_stretch_a_later_hole():
    # op 0 lost (before the fault), op 2 lost after it: the hole is 1 -> 3 ms, not 0 -> 3
    assert _blind(range(6), [False, True, False, True, True, True], 2.0) == _exact(2.0)


def test_nothing_seen_at_all_is_an_unknown_blind_window():
    assert np.isnan(_blind([0, 1, 2], [False, False, False], 1.0))


def test_blind_window_is_the_longest_hole_from_the_fault_on():
    seen = np.ones(20, bool)
    seen[2:10] = False     # 1 -> 10 ms: 9 ms, but all of it before the fault at 12 ms
    seen[13:15] = False    # 12 -> 15 ms: 3 ms
    seen[16:19] = False    # 15 -> 19 ms: 4 ms, the longest after the fault
    assert _blind(range(20), seen, 12.0) == _exact(4.0)
    # a hole straddling the fault counts whole: 1 -> 10 ms once the fault is at 5 ms
    assert _blind(range(20), seen, 5.0) == _exact(9.0)


def test_blind_window_shorter_than_a_millisecond():
    # ops every 0.1 ms, the one at 0.2 ms lost: 0.1 -> 0.3 ms
    assert _blind([0.0, 0.1, 0.2, 0.3], [True, True, False, True], 0.2) == \
        _exact(0.2)


def test_blind_window_does_not_depend_on_the_order_of_the_rows():
    t = np.array([4, 0, 3, 1, 2], dtype=np.int64) * MS
    seen = np.array([True, True, True, True, False])     # the op at 2 ms lost
    assert tl.blind_ms(t, seen, 2 * MS) == _exact(2.0)


@settings(max_examples=150)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=1, max_size=60),
       st.integers(0, 6), st.randoms(use_true_random=False))
def test_rows_of_the_same_issue_time_keep_the_ledgers_order(rows, fault_ms, rnd):
    """Rows issued at the same time (the events of one operation) are taken in the
    ledger's order, on every machine: interleaving them differently with the rows of other
    times changes nothing. (An unstable sort could put an operation's lost row before its
    seen one, and open a hole back to the previous operation.)"""
    t = np.array([r[0] for r in rows], dtype=np.int64) * MS
    seen = np.array([r[1] for r in rows])
    by_time = np.argsort(t, kind="stable")
    # the same rows, times shuffled among themselves, each time's rows in ledger order
    times = sorted(set(t.tolist()), key=lambda _: rnd.random())
    mixed = np.concatenate([np.flatnonzero(t == x) for x in times])
    want = tl.blind_ms(t[by_time], seen[by_time], fault_ms * MS)
    got = tl.blind_ms(t[mixed], seen[mixed], fault_ms * MS)
    assert got == want or (np.isnan(got) and np.isnan(want))


# catch_up_ms ---------------------------------------------------------------------------

def _catch_up(issue_ms, lat_ms, back_ms, usual_ms):
    t_issue = np.round(np.asarray(issue_ms, float) * MS).astype(np.int64)
    lat = np.asarray(lat_ms, float)
    t_seen = t_issue + np.round(lat * MS).astype(np.int64)
    return tl.catch_up_ms(t_issue, t_seen, lat, None if back_ms is None else
                          int(back_ms * MS), usual_ms)


def test_catch_up_is_the_first_live_report_within_the_usual_latency():
    # back at 20 ms; the op issued before it does not count however fast; the one issued
    # exactly at 20 ms with exactly the usual latency (1 ms) does: seen at 21 ms
    assert _catch_up([10, 20, 30], [0.1, 1.0, 0.2], 20, 1.0) == _exact(1.0)
    # a latency just over the usual one is still the backlog: the op at 30 ms, 10.2 ms
    assert _catch_up([10, 20, 30], [0.1, 1.5, 0.2], 20, 1.0) == _exact(10.2)


def test_catch_up_is_unknown_when_never_back_or_never_caught_up():
    assert np.isnan(_catch_up([10, 20], [0.1, 0.1], None, 1.0))
    assert np.isnan(_catch_up([10, 20, 30], [0.1, 5.0, 5.0], 20, 1.0))


def test_catch_up_is_never_negative():
    # a report stamped before the sensor was back (clock steps): 0, not -0.5 ms
    assert _catch_up([20], [-0.5], 20, 1.0) == 0.0


# summarize -----------------------------------------------------------------------------

def _summary(truth, events, corr, fault, end_ms=100, supported=frozenset({K})):
    return tl.summarize(truth, events, corr, supported, fault, T0 + int(end_ms * MS))


def test_window_counts_from_the_fault_to_before_the_sensor_was_back():
    # ops at 0..9 ms, each with a second row of an unsupported kind (never seen); the
    # supported rows of ops 4..6 are lost, and op 1's (before the fault)
    lat = [None if i in (1, 4, 5, 6) else 0.1 for i in range(10)]
    issue = [i for i in range(10) for _ in (0, 1)]
    truth, events, corr = _ops(issue, [x for v in lat for x in (v, None)],
                               kinds=[K, K2] * 10, op=np.repeat(np.arange(10), 2))
    row = _summary(truth, events, corr, _fault(4, 6, crashed=True))
    # the window is [4, 6) ms: ops 4 and 5 (two rows each, one op each); op 6 was issued
    # when the sensor was back, so its loss is outside the window
    assert row["ops_in_window"] == 2
    assert row["events_expected"] == 10
    assert row["events_lost"] == 4 and row["events_lost_in_window"] == 2
    assert row["down_ms"] == _exact(2.0)
    # holes from 3 -> 7 ms (the unsupported rows never seen make no hole)
    assert row["blind_ms"] == _exact(4.0)


def test_down_time_only_for_a_crash_and_to_the_end_when_never_back():
    truth, events, corr = _ops(range(10), [0.1] * 4 + [None] * 6)
    assert _summary(truth, events, corr, _fault(4, 6))["down_ms"] == 0.0
    row = _summary(truth, events, corr, _fault(4, None, crashed=True), end_ms=50)
    # never back: down until the end of the cell (50 ms), every op from 4 ms in the window
    assert row["down_ms"] == _exact(46.0)
    assert row["ops_in_window"] == 6 and row["events_lost_in_window"] == 6
    assert np.isnan(row["recovered_ms"])


def test_workload_stall_is_over_the_worst_lag_before_the_fault():
    # lag (done - intended): 2 and 3 ms before the fault at 10 ms; 10 ms for the op
    # intended at 10 ms (in the window); 50 ms for the one intended at 15 ms, when the
    # sensor was back (outside it)
    truth, events, corr = _ops([0, 5, 10, 12, 15], [0.1] * 5,
                               done_ms=[2, 8, 20, 12.5, 65])
    row = _summary(truth, events, corr, _fault(10, 15))
    assert row["workload_stall_ms"] == _exact(10.0 - 3.0)
    # a fault with no op before it: the usual lag is 0
    row = _summary(truth, events, corr, _fault(0, 15))
    assert row["workload_stall_ms"] == _exact(10.0)
    # less held up during the fault than before it: no stall, not a negative one
    truth, events, corr = _ops([0, 5, 10], [0.1] * 3, done_ms=[9, 5.1, 11])
    assert _summary(truth, events, corr, _fault(5, 15))["workload_stall_ms"] == 0.0


def test_workload_stall_window_is_by_intended_time():
    # the op intended at 9 ms (before the fault) but issued and done late is the usual
    # lag, not the stall: usual 16 ms, the window's op 1 ms -> no stall
    truth, events, corr = _ops([0, 25, 12], [0.1] * 3, intended_ms=[0, 9, 12],
                               done_ms=[0.05, 25, 13])
    assert _summary(truth, events, corr, _fault(10, 20))["workload_stall_ms"] == 0.0


def test_no_operation_during_the_fault_is_no_stall():
    truth, events, corr = _ops([0, 1, 30], [0.1] * 3, done_ms=[5, 1.05, 30.05])
    assert _summary(truth, events, corr, _fault(10, 20))["workload_stall_ms"] == 0.0


def test_a_sensor_back_at_once_still_judges_the_op_at_the_fault():
    # back the very nanosecond of the fault: the op intended exactly then is judged, the
    # one intended 1 ns later (done 60 ms late) is not
    truth, events, corr = _ops([0, 10, 10.000001, 11], [0.1] * 4,
                               done_ms=[0.05, 40, 70, 11.05])
    assert _summary(truth, events, corr, _fault(10, 10))["workload_stall_ms"] == \
        _exact(30.0 - 0.05)


def test_caught_up_is_twice_the_usual_p99_plus_one_ms():
    # usual latency before the fault: 2 ms (p99 of all 2 ms) -> caught up within 5 ms
    lat = [2.0] * 5 + [None] + [5.5, 5.0, 0.5]
    truth, events, corr = _ops([0, 1, 2, 3, 4, 10, 20, 30, 40], lat)
    row = _summary(truth, events, corr, _fault(10, 20, crashed=True))
    # back at 20 ms; the op at 20 ms took 5.5 ms (not yet), the one at 30 ms 5.0 ms (yes)
    assert row["recovered_ms"] == _exact(15.0)
    assert row["latency_p50_before_ms"] == _exact(2.0)
    # the window [10, 20) holds only the lost op: no latency to show
    assert np.isnan(row["window_latency_max_ms"])


def test_the_usual_latency_is_the_99th_percentile_before_the_fault():
    # 100 ops before the fault: 99 at 0.5 ms, one at 10.5 ms; p99 = 0.5 + 0.01 * 10 =
    # 0.6 ms (linear interpolation between the 99th and 100th of 100) -> limit 2.2 ms
    lat = [0.5] * 99 + [10.5] + [2.3, 2.1]
    truth, events, corr = _ops(list(range(100)) + [200, 210], lat)
    row = _summary(truth, events, corr, _fault(150, 200), end_ms=300)
    # op at 200 ms: 2.3 > 2.2, backlog; op at 210 ms: 2.1, caught up at 212.1 ms
    assert row["recovered_ms"] == _exact(12.1)
    assert row["latency_p50_before_ms"] == _exact(0.5)


def test_an_op_issued_at_the_fault_is_not_before_it():
    # the usual latency is op 0's 0.1 ms only, not the 5 ms of the op issued at the fault
    truth, events, corr = _ops([0, 10], [0.1, 5.0])
    row = _summary(truth, events, corr, _fault(10, 20))
    assert row["latency_p50_before_ms"] == _exact(0.1)
    assert row["window_latency_max_ms"] == _exact(5.0)


@pytest.mark.filterwarnings("error")   # computed without numpy's empty-slice warnings
def test_without_operations_before_the_fault_the_usual_latency_is_1_ms():
    # no latency known before: 1 ms usual -> caught up within 3 ms
    truth, events, corr = _ops([10, 20, 30], [0.1, 3.5, 3.0])
    row = _summary(truth, events, corr, _fault(5, 20))
    assert row["recovered_ms"] == _exact(13.0)   # the op at 30 ms, seen at 33 ms
    assert np.isnan(row["latency_p50_before_ms"])
    assert row["window_latency_max_ms"] == _exact(0.1)


def test_untimed_matches_time_nothing():
    # the ops at 1 and 12 ms matched events of a partial key (what enabled the operation,
    # reported long after): their "latencies" are not ones; the window's latency is the
    # timed op's 0.3 ms, the usual one before the fault op 0's 0.1 ms
    truth, events, corr = _ops([0, 1, 11, 12], [0.1, 9.0, 0.3, 50.0],
                               timed=[True, False, True, False])
    row = _summary(truth, events, corr, _fault(10, 20))
    assert row["window_latency_max_ms"] == _exact(0.3)
    assert row["latency_p50_before_ms"] == _exact(0.1)


# outcome -------------------------------------------------------------------------------

def test_an_empty_row_is_no_loss():
    assert tl.outcome({}, "crash") == "no-loss"


def test_a_stall_of_exactly_the_limit_is_no_host_impact():
    assert tl.outcome({"workload_stall_ms": tl.STALL_LIMIT_MS}, "stall") == "no-loss"
    assert tl.outcome({"workload_stall_ms": tl.STALL_LIMIT_MS + 0.1}, "stall") == \
        "host-impact"


def test_outcome_precedence_below_the_host():
    # a flood's stall is not judged, but what the sensor did still is
    assert tl.outcome({"workload_stall_ms": 500, "technique": "flood", "crashed": True},
                      "tamper") == "sensor-crashed"
    assert tl.outcome({"workload_failed": True, "technique": "flood"}, "tamper") == \
        "host-impact"
    # a crash outranks loss; loss in the window alone is degraded
    assert tl.outcome({"crashed": True, "events_lost_in_window": 5}, "crash") == \
        "sensor-crashed"
    assert tl.outcome({"events_lost_in_window": 1, "events_lost": 0}, "crash") == "degraded"
    # a canary that halted a crashing update is a refusal; any other canary word is not
    assert tl.outcome({"canary": "halted"}, "bad-update") == "refused"
    assert tl.outcome({"canary": "passed", "update": "applied"}, "bad-update") == "no-loss"
    assert tl.outcome({"canary": None}, "bad-update") == "no-loss"


# timeline ------------------------------------------------------------------------------

def _timeline(truth, events, corr, fault, end_ms, supported=frozenset({K})):
    return tl.timeline(truth, events, corr, supported, fault, T0, T0 + int(end_ms * MS))


def test_timeline_bins_cover_the_cell_rounding_up():
    truth, events, corr = _ops([0], [0.1])
    assert len(_timeline(truth, events, corr, _fault(0, 1), 25)["t_ms"]) == 3
    assert list(_timeline(truth, events, corr, _fault(0, 1), 25)["t_ms"]) == [0, 10, 20]
    # an empty cell still has one bin
    assert len(_timeline(truth, events, corr, _fault(0, 1), 0)["t_ms"]) == 1


def test_timeline_counts_per_bin_and_leaves_out_what_is_outside_the_cell():
    # op 0 at -1 ms (before the cell) and op 5 at 30 ms (at its end) are outside; op 1 has
    # a second row of an unsupported kind, seen; op 3 (supported) lost; op 4 seen in the
    # next bin (19 ms + 2 ms)
    truth, events, corr = _ops([-1, 1, 1, 5, 12, 19, 30], [0.1, 0.2, 0.1, 0.5, None, 2.0, 0.1],
                               kinds=[K, K, K2, K, K, K, K], op=[0, 1, 1, 2, 3, 4, 5])
    t = _timeline(truth, events, corr, _fault(10, 15), 30)
    assert list(t["issued"]) == [2, 2, 0]        # ops 1, 2 | 3, 4
    assert list(t["intended"]) == [2, 2, 0]
    assert list(t["expected"]) == [2, 2, 0]      # the unsupported row is not expected
    assert list(t["observed"]) == [2, 1, 0]      # op 3 lost
    assert list(t["seen"]) == [2, 0, 1]          # op 4 seen at 21 ms
    # counts are whole numbers
    assert all(t[c].dtype == np.int64 for c in ("intended", "issued", "expected", "observed",
                                                  "seen", "t_ms"))


def test_timeline_intended_is_by_intended_time():
    truth, events, corr = _ops([12, 15], [0.1, 0.1], intended_ms=[8, 15])
    t = _timeline(truth, events, corr, _fault(0, 1), 20)
    assert list(t["intended"]) == [1, 1] and list(t["issued"]) == [0, 2]


def test_timeline_lag_is_the_worst_issue_delay_of_the_bin():
    # lag = issued - intended: 1 and 3 ms in bin 0, none in bin 1, 0.5 ms in bin 2; the
    # op issued 0.5 ms before the cell (lag 9 ms) is in no bin
    truth, events, corr = _ops([2, 8, 25, -0.5], [0.1] * 4, intended_ms=[1, 5, 24.5, -9.5])
    t = _timeline(truth, events, corr, _fault(0, 1), 30)
    assert t["lag_ms"] == _exact([3.0, 0.0, 0.5])


def test_timeline_state_per_bin_from_the_fault_states():
    truth, events, corr = _ops([0], [0.1])
    # ready from 5 ms (mid-bin 0: the bin starts before it), dead exactly at 20 ms (bin 2
    # starts then), ready again at 35 ms (bin 4 on)
    fault = _fault(20, 35, True, states=[(5, "ready"), (20, "dead"), (35, "ready")])
    t = _timeline(truth, events, corr, fault, 50)
    assert list(t["state"]) == ["starting", "ready", "dead", "dead", "ready"]
    # no state known at all: starting throughout
    assert list(_timeline(truth, events, corr, _fault(0, 1), 20)["state"]) == \
        ["starting", "starting"]
