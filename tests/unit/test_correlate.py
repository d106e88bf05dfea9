"""Correlation edge cases: duplicates, reordering, key reuse, unmatched, unsupported, empty;
the sort under it (a packed 64-bit word, a lexsort where the times do not fit)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bench.core.events import concat_events
from bench.analysis.correlate import correlate
from bench.core.kinds import Kind, port_pair
from bench.analysis.metrics import per_kind

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


def test_recurring_key_with_one_lost_and_one_duplicated():
    # The same pid twice in a cell: A at t=1000 and B at t=9000. A is reported twice (at
    # 1200 and 1300) and B is lost: one duplicate, one drop, no negative latency.
    t = truth([(0, Kind.proc_exec, 77, None, 1000), (1, Kind.proc_exec, 77, None, 9000)])
    e = events([(Kind.proc_exec, 77, None, 1200), (Kind.proc_exec, 77, None, 1300)])
    c = correlate(t, e, M)
    assert c.truth_idx.tolist() == [0] and c.event_idx.tolist() == [0]
    assert c.duplicate.tolist() == [False, True]
    rows = {r["kind"]: r for r in per_kind(t, e, c, frozenset({Kind.proc_exec}))}
    assert rows["proc_exec"]["matched"] == 1 and rows["proc_exec"]["duplicates"] == 1
    assert rows["proc_exec"]["drop_rate"] == 0.5
    assert rows["proc_exec"]["latency_p50_us"] == 0.2   # 200 ns, never -7.7 µs


def test_recurring_key_late_report_of_the_second_matches_the_second():
    # A is lost; B's report comes long after A: it is B's, not a very late A.
    t = truth([(0, Kind.net_send, 5, None, 1000), (1, Kind.net_send, 5, None, 9000)])
    e = events([(Kind.net_send, 5, None, 9100)])
    c = correlate(t, e, M)
    assert c.truth_idx.tolist() == [1]
    assert (e["t_seen"][c.event_idx] - t["t_issue"][c.truth_idx]).tolist() == [100]


def test_drops_and_duplicates_at_scale():
    """The assertions of the kept benchmark (bench_correlate.py) on 20,000 operations, with
    recurring pids: every dropped op is a drop, every extra report a duplicate."""
    rng = np.random.default_rng(1)
    n = 20_000
    i = np.arange(n)
    is_file = i % 2 == 0
    kind = np.where(is_file, Kind.file_write, Kind.proc_exec).astype(np.int64)
    paths = np.array([f"/tmp/w/{M}-{k:07d}.new" if f else None for k, f in zip(i, is_file)],
                     dtype=object)
    pid = 300 + (i // 2) % 4000   # pids recur: every 8000 operations, 4 ms apart
    tr = {"op": i, "kind": kind, "key": np.where(is_file, 0, pid), "path": paths,
          "t_intended": i * 500, "t_issue": i * 500 + 10, "t_done": i * 500 + 20}
    keep = rng.random(n) > 0.01
    order = rng.permutation(np.flatnonzero(keep))
    dup = order[: n // 100]
    idx = np.concatenate([order, dup])
    m = len(idx)
    ev = {"kind": kind[idx].astype(np.int16), "key": tr["key"][idx], "path": paths[idx],
          "pid": np.zeros(m, np.int64),
          "t_seen": tr["t_issue"][idx] + rng.integers(1_000, 100_000, m),
          "t_kernel": np.full(m, -1, np.int64)}
    c = correlate(tr, ev, M)
    assert len(c.truth_idx) == keep.sum()
    assert c.duplicate.sum() == n // 100
    assert (c.truth_idx == idx[c.event_idx]).all()   # each event with its own operation
    assert not c.unmatched_marked.any()


# -- ties at one instant -----------------------------------------------------------------

def test_an_event_at_the_instant_of_its_operation_reports_it():
    # operations sort before events at the same time: latency 0, not foreign
    t = truth([(0, Kind.proc_exec, 300, None, 5000)])
    c = correlate(t, events([(Kind.proc_exec, 300, None, 5000)]), M)
    assert c.truth_idx.tolist() == [0] and c.event_idx.tolist() == [0]


def test_an_event_at_the_instant_of_the_keys_next_operation_reports_that_one():
    # pid 300 used at 1000 and again at 5000; the report at 5000 is the second's
    t = truth([(0, Kind.proc_exec, 300, None, 1000), (1, Kind.proc_exec, 300, None, 5000)])
    c = correlate(t, events([(Kind.proc_exec, 300, None, 5000)]), M)
    assert c.truth_idx.tolist() == [1] and c.event_idx.tolist() == [0]


def test_two_events_at_one_instant_for_one_operation_are_a_match_and_a_duplicate():
    t = truth([(0, Kind.proc_exec, 300, None, 1000)])
    c = correlate(t, events([(Kind.proc_exec, 300, None, 1500)] * 2), M)
    assert c.truth_idx.tolist() == [0] and len(c.event_idx) == 1
    assert sorted(c.duplicate.tolist()) == [False, True]
    assert not c.duplicate[c.event_idx[0]]   # the match is not also a duplicate


def test_nanosecond_order_at_wall_clock_timestamps():
    # Timestamps are ns since the epoch (~1.7e18), beyond a double's 53 bits: a report
    # 110 ns before the operation is before it (foreign), not at the same instant.
    t0 = 1_700_000_000_000_000_000
    t = truth([(0, Kind.proc_exec, 300, None, t0 + 120)])
    c = correlate(t, events([(Kind.proc_exec, 300, None, t0 + 10)]), M)
    assert len(c.truth_idx) == 0 and not c.duplicate.any()
    c = correlate(t, events([(Kind.proc_exec, 300, None, t0 + 121)]), M)
    assert c.truth_idx.tolist() == [0]


# -- keys --------------------------------------------------------------------------------

@pytest.mark.parametrize("keys", [
    (0, -2**63),            # differ only in the top bit
    (2**53, 2**53 + 1),     # differ only in the lowest bit, beyond a double's precision
])
def test_distinct_keys_are_never_confused(keys):
    a, b = keys
    t = truth([(0, Kind.net_send, a, None, 1000)])
    c = correlate(t, events([(Kind.net_send, b, None, 2000)]), M)
    assert len(c.truth_idx) == 0
    c = correlate(t, events([(Kind.net_send, a, None, 2000)]), M)
    assert c.truth_idx.tolist() == [0]


# -- the marker --------------------------------------------------------------------------

def test_the_marker_is_text_not_a_pattern():
    t = truth([(0, Kind.file_create, 0, "/tmp/w/sb.1-0.new", 1000)])
    e = events([(Kind.file_create, 0, "/tmp/w/sbx1-9.new", 2000),    # "." is a dot
                (Kind.file_create, 0, "/tmp/w/sb.1-9.new", 2000)])
    c = correlate(t, e, "sb.1")
    assert c.unmatched_marked.tolist() == [False, True]
    # characters a pattern could not even be compiled from are text too
    e = events([(Kind.file_create, 0, "/tmp/w/sb(1-9.new", 2000)])
    assert correlate(t, e, "sb(1").unmatched_marked.tolist() == [True]


def test_without_a_marker_no_stray_is_ours():
    t = truth([(0, Kind.file_create, 0, p(0), 1000)])
    e = events([(Kind.file_create, 0, p(5), 2000), (Kind.file_create, 0, "/XXXX", 2000)])
    c = correlate(t, e)
    assert c.unmatched_marked.tolist() == [False, False]


def test_a_missing_path_is_not_ours():
    # a path column read back from a table holds NaN where there was none
    t = truth([(0, Kind.file_create, 0, p(0), 1000)])
    e = events([(Kind.file_create, 0, p(5), 2000), (Kind.file_create, 0, p(0), 2000)])
    e["path"][1] = float("nan")
    assert correlate(t, e, M).unmatched_marked.tolist() == [True, False]


# -- full-key kinds next to a partial key ------------------------------------------------

def test_full_key_duplicates_and_marked_strays_survive_a_partial_key():
    from bench.core.partialkey import PartialKey

    connect = {Kind.net_connect: PartialKey("pid+server_port", "pid + server port",
                                            after_ms=100)}
    t = truth([(0, Kind.proc_exec, 300, None, 1000),
               (1, Kind.net_connect, port_pair(50000, 80), None, 1000)])
    e = events([(Kind.proc_exec, 300, None, 1200), (Kind.proc_exec, 300, None, 1300),
                (Kind.file_create, 0, p(3), 1400)])
    c = correlate(t, e, M, connect, workload_pid=0)
    assert c.truth_idx.tolist() == [0] and c.event_idx.tolist() == [0]
    assert c.duplicate.tolist() == [False, True, False]
    assert c.unmatched_marked.tolist() == [False, False, True]


# -- the rule, read directly ---------------------------------------------------------------

def _by_the_rule(t_rows, e_rows):
    """The full-key rule of bench.analysis.correlate, one event at a time: each event takes
    the latest operation of its (kind, key) issued at or before it was seen (the later row
    of two at one instant); of the events an operation takes, the earliest seen (the lower
    row at one instant) is its match, the others duplicates."""
    taken: dict[int, list[tuple[int, int]]] = {}
    for e, (kind, key, _, seen) in enumerate(e_rows):
        ops = [i for i, (_, k, kk, _, t) in enumerate(t_rows)
               if (k, kk) == (kind, key) and t <= seen]
        if ops:
            op = max(ops, key=lambda i: (t_rows[i][4], i))
            taken.setdefault(op, []).append((seen, e))
    matches = sorted((op, min(evs)[1]) for op, evs in taken.items())
    dup = sorted(e for evs in taken.values() for _, e in sorted(evs)[1:])
    return matches, dup


_instants = st.sampled_from([0, 1, 2, 5, 2**50, 2**62])   # spans beyond the packed word too


@given(st.lists(st.tuples(st.sampled_from([Kind.proc_exec, Kind.net_send]),
                          st.integers(0, 3), _instants), max_size=12),
       st.lists(st.tuples(st.sampled_from([Kind.proc_exec, Kind.net_send]),
                          st.integers(0, 4), _instants), max_size=12))
@settings(max_examples=300)
def test_matches_and_duplicates_follow_the_rule_at_ties_and_any_span(ops, evs):
    # few keys and instants: many operations and events share a key and an instant
    t_rows = [(i, k, key, None, t) for i, (k, key, t) in enumerate(ops)]
    e_rows = [(k, key, None, t) for k, key, t in evs]
    c = correlate(truth(t_rows), events(e_rows), M)
    matches, dup = _by_the_rule(t_rows, e_rows)
    assert list(zip(c.truth_idx.tolist(), c.event_idx.tolist())) == matches
    assert np.flatnonzero(c.duplicate).tolist() == dup


# -- the packed sort word and its fallback -------------------------------------------------

def _time_bits(n_keys):
    """The bits the packed word leaves the times beside ``n_keys`` ranks (the module's
    rule): a span of instants of at most this many bits is packed, a longer one is not."""
    return 62 - max(1, n_keys.bit_length())


def _sort_rows(n_keys, base, width):
    """Operations then events of ``n_keys`` keys at instants from ``base`` to
    ``base + width``: each key's operations at both ends and in the middle, its events
    at those instants too (ties with the operations and with each other) and just after
    the first. Returns (keys, times, n_ops)."""
    mid = base + width // 2
    op_t = [base, mid, base + width]
    ev_t = [base + width, base, mid, base + 1, base + width, mid]
    keys = np.arange(1, n_keys + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    ck = np.concatenate([np.repeat(keys, len(op_t)), np.tile(keys, len(ev_t))])
    t = np.concatenate([np.tile(op_t, n_keys), np.repeat(ev_t, n_keys)]).astype(np.int64)
    return ck, t, n_keys * len(op_t)


_WALL = 3 * 2**59 - 5   # ns since the epoch (October 2024): doubled, it crosses 2**61

# (keys, first instant, span, packed): the widest span the word holds and the first it
# does not, for one key and for several; wall-clock instants a short span apart
_SPANS = [
    (1, 0, 2**_time_bits(1) - 2, True), (1, 0, 2**_time_bits(1), False),
    (2, 0, 2**_time_bits(2) - 2, True), (2, 0, 2**_time_bits(2), False),
    (3, 0, 2**_time_bits(3) - 2, True), (5, 7, 2**_time_bits(5), False),
    (2, _WALL, 20, True), (3, _WALL, 3_000_000_000, True),
]


@pytest.mark.parametrize("n_keys,base,width,packed", _SPANS)
def test_merged_order_is_by_key_then_time_then_row_on_both_paths(
        monkeypatch, n_keys, base, width, packed):
    # the packed 64-bit word where the span of the times fits beside the ranks, a
    # three-key lexsort where it does not: the same order either way (by key, then time,
    # operations before events at one instant, ties in row order)
    from bench.analysis import correlate as mod

    ck, t, n_t = _sort_rows(n_keys, base, width)
    used = []
    real = mod._stable_argsort
    monkeypatch.setattr(mod, "_stable_argsort", lambda w: used.append(len(w)) or real(w))
    order, rank = mod._merged_order(ck, t, n_t)
    want_rank = np.unique(ck, return_inverse=True)[1]
    is_event = np.arange(len(ck)) >= n_t
    assert rank.tolist() == want_rank.tolist()
    assert order.tolist() == np.lexsort((is_event, t, want_rank)).tolist()
    # the word, several times faster, wherever the times fit beside the ranks
    assert bool(used) == packed


@pytest.mark.parametrize("n_keys,base,width,packed", _SPANS)
def test_matches_follow_the_rule_at_the_edges_of_the_packed_word(n_keys, base, width, packed):
    # pids as keys, the instants of _sort_rows: what the word would get wrong by a bit at
    # its edges shows as a missed match or a duplicate
    ck, t, n_t = _sort_rows(n_keys, base, width)
    pid = {k: 300 + i for i, k in enumerate(dict.fromkeys(ck.tolist()))}
    t_rows = [(i, Kind.proc_exec, pid[k], None, ts)
              for i, (k, ts) in enumerate(zip(ck[:n_t].tolist(), t[:n_t].tolist()))]
    e_rows = [(Kind.proc_exec, pid[k], None, ts)
              for k, ts in zip(ck[n_t:].tolist(), t[n_t:].tolist())]
    c = correlate(truth(t_rows), events(e_rows), M)
    matches, dup = _by_the_rule(t_rows, e_rows)
    assert list(zip(c.truth_idx.tolist(), c.event_idx.tolist())) == matches
    assert np.flatnonzero(c.duplicate).tolist() == dup
    assert len(matches) == 3 * n_keys   # every operation reported: a real check
