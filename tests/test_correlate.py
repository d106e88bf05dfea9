"""Correlation edge cases: duplicates, reordering, key reuse, unmatched, unsupported, empty."""

import numpy as np

from bench.backends.base import concat_events
from bench.correlate import correlate
from bench.kinds import Kind, port_pair
from bench.metrics import per_kind

M = "sbcafe0001"


def truth(rows):
    """rows: (op, kind, key, path, t_issue)"""
    op, kind, key, path, t = zip(*rows) if rows else ((),) * 5
    return {"op": np.array(op, np.int64), "kind": np.array(kind, np.int64),
            "key": np.array(key, np.int64), "path": np.array(path, dtype=object),
            "t_intended": np.array(t, np.int64), "t_issue": np.array(t, np.int64),
            "t_done": np.array(t, np.int64) + 10}


def events(rows):
    """rows: (kind, key, path, t_seen)"""
    if not rows:
        return concat_events([])
    kind, key, path, t = zip(*rows)
    n = len(rows)
    return {"kind": np.array(kind, np.int16), "key": np.array(key, np.int64),
            "path": np.array(path, dtype=object), "pid": np.zeros(n, np.int64),
            "t_seen": np.array(t, np.int64), "t_kernel": np.full(n, -1, np.int64)}


def p(i, ext="new"):
    return f"/tmp/w/{M}-{i:07d}.{ext}"


def test_exact_match_latency():
    t = truth([(0, Kind.file_create, 0, p(0), 1000), (1, Kind.file_write, 0, p(0), 2000)])
    e = events([(Kind.file_write, 0, p(0), 2500), (Kind.file_create, 0, p(0), 1700)])
    c = correlate(t, e, M)
    pairs = dict(zip(c.truth_idx.tolist(), c.event_idx.tolist()))
    assert pairs == {0: 1, 1: 0}
    assert not c.duplicate.any() and not c.unmatched_marked.any()


def test_same_path_different_kind_does_not_match():
    t = truth([(0, Kind.file_create, 0, p(0), 1000)])
    e = events([(Kind.file_delete, 0, p(0), 1500)])
    c = correlate(t, e, M)
    assert len(c.truth_idx) == 0
    # A file_delete for one of our paths that was never expected: marked and unmatched.
    assert c.unmatched_marked.tolist() == [True]


def test_duplicates_counted_once_matched_first():
    t = truth([(0, Kind.proc_exec, 4242, None, 1000)])
    e = events([(Kind.proc_exec, 4242, None, 3000), (Kind.proc_exec, 4242, None, 2000),
                (Kind.proc_exec, 4242, None, 4000)])
    c = correlate(t, e, M)
    assert c.event_idx.tolist() == [1]  # the earliest report is the match
    assert c.duplicate.tolist() == [True, False, True]


def test_reordered_events_match_by_key():
    n = 1000
    rng = np.random.default_rng(3)
    t = truth([(i, Kind.net_connect, port_pair(20000 + i, 80), None, i * 100) for i in range(n)])
    order = rng.permutation(n)
    e = events([(Kind.net_connect, port_pair(20000 + i, 80), None, i * 100 + 7) for i in order])
    c = correlate(t, e, M)
    lat = e["t_seen"][c.event_idx] - t["t_issue"][c.truth_idx]
    assert len(c.truth_idx) == n and (lat == 7).all()


def test_reused_key_matches_in_time_order():
    # A pid reused within a cell: the n-th report goes with the n-th expected event.
    t = truth([(0, Kind.proc_exit, 77, None, 1000), (1, Kind.proc_exit, 77, None, 9000)])
    e = events([(Kind.proc_exit, 77, None, 9500), (Kind.proc_exit, 77, None, 1200)])
    c = correlate(t, e, M)
    pairs = dict(zip(c.truth_idx.tolist(), c.event_idx.tolist()))
    assert pairs == {0: 1, 1: 0}


def test_foreign_events_are_ignored_marked_ones_counted():
    t = truth([(0, Kind.file_create, 0, p(0), 1000)])
    e = events([(Kind.file_create, 0, "/etc/passwd", 1100),       # someone else's
                (Kind.file_create, 0, p(0).upper(), 1200),        # mangled, marker lost
                (Kind.file_create, 0, p(5), 1300),                # ours, but never made
                (Kind.file_create, 0, None, 1400),                # no path at all
                (Kind.proc_exec, 999, f"/x/sb-child {M}-3", 1500)])  # our argv, wrong pid
    c = correlate(t, e, M)
    assert len(c.truth_idx) == 0
    assert c.unmatched_marked.tolist() == [False, False, True, False, True]


def test_empty_inputs():
    c = correlate(truth([]), events([]), M)
    assert len(c.truth_idx) == 0 and len(c.duplicate) == 0
    c = correlate(truth([(0, Kind.proc_fork, 1, None, 5)]), events([]), M)
    assert len(c.truth_idx) == 0
    c = correlate(truth([]), events([(Kind.proc_fork, 1, None, 5)]), M)
    assert c.duplicate.tolist() == [False] and c.unmatched_marked.tolist() == [False]


def test_per_kind_drop_unsupported_and_duplicates():
    t = truth([(i, Kind.proc_fork, 100 + i, None, i) for i in range(10)]
              + [(i, Kind.proc_exec, 100 + i, None, i) for i in range(10)]
              + [(i, Kind.proc_exit, 100 + i, None, i) for i in range(10)])
    e = events([(Kind.proc_fork, 100 + i, None, i + 50) for i in range(8)]
               + [(Kind.proc_fork, 100, None, 999)]
               + [(Kind.proc_exec, 100 + i, None, i + 20) for i in range(10)])
    c = correlate(t, e, M)
    rows = {r["kind"]: r for r in per_kind(t, e, c, frozenset({Kind.proc_fork, Kind.proc_exec}))}
    assert rows["proc_fork"]["matched"] == 8 and rows["proc_fork"]["drop_rate"] == 0.2
    assert rows["proc_fork"]["duplicates"] == 1
    assert rows["proc_fork"]["latency_p50_us"] == 0.05
    assert rows["proc_exec"]["drop_rate"] == 0.0
    assert rows["proc_exit"]["status"] == "unsupported"
    assert np.isnan(rows["proc_exit"]["drop_rate"])  # unsupported is not a 100 % drop


def test_per_kind_empty_cell_has_no_latency():
    t = truth([(0, Kind.net_send, port_pair(1, 2), None, 0)])
    rows = per_kind(t, events([]), correlate(t, events([]), M), frozenset({Kind.net_send}))
    assert rows[0]["drop_rate"] == 1.0 and np.isnan(rows[0]["latency_p50_us"])


def test_event_before_the_operation_is_foreign_not_duplicate():
    # pid 500 belonged to another process before our spawn got it (pid space wrapped).
    t = truth([(0, Kind.proc_exec, 500, None, 10_000)])
    e = events([(Kind.proc_exec, 500, "/usr/bin/other", 2_000),
                (Kind.proc_exec, 500, f"/x/sb-child {M}-0", 10_400)])
    c = correlate(t, e, M)
    assert c.event_idx.tolist() == [1]
    assert c.duplicate.tolist() == [False, False]
    assert c.unmatched_marked.tolist() == [False, False]
