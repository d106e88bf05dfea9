"""Partial-key matching (bench.analysis.correlate, bench.core.partialkey): kinds a backend
reports with part of their key only, matched by order within that part and a window.

The ledgers and events are built here: a connect keyed by pid + server port (audit's
SOCKADDR names no client port), a write keyed by the path of the open that enabled it."""

from __future__ import annotations

import numpy as np
import pytest

from bench.analysis.correlate import correlate
from bench.analysis.metrics import matched_latencies, per_kind
from bench.core.kinds import Kind, port_pair
from bench.core.partialkey import FULL, PartialKey

M = "sbcafe0001"
W = 4100            # the workload's pid
SERVER = 42975
MS = 1_000_000


def connect_key(after_ms: float) -> dict:
    return {Kind.net_connect: PartialKey("pid+server_port", "pid + server port",
                                         after_ms=after_ms)}


WRITE_KEY = {Kind.file_write: PartialKey("path", "path, opened for write before the write",
                                         after_ms=None, before_ms=1000)}


def truth(rows):
    """rows: (op, kind, key, path, t_issue)"""
    op, kind, key, path, t = zip(*rows) if rows else ((),) * 5
    t = np.array(t, np.int64)
    return {"op": np.array(op, np.int64), "kind": np.array(kind, np.int64),
            "key": np.array(key, np.int64), "path": np.array(path, dtype=object),
            "t_intended": t, "t_issue": t, "t_done": t + 10}


def events(rows):
    """rows: (kind, key, path, pid, t_seen)"""
    kind, key, path, pid, t = zip(*rows) if rows else ((),) * 5
    n = len(rows)
    return {"kind": np.array(kind, np.int16), "key": np.array(key, np.int64),
            "path": np.array(path, dtype=object), "pid": np.array(pid, np.int64),
            "t_seen": np.array(t, np.int64), "t_kernel": np.full(n, -1, np.int64)}


def connects(times_ms):
    """The network workload's connects: a fresh client port each, one server port."""
    return truth([(2 * i, Kind.net_connect, port_pair(50000 + i, SERVER), None, int(t * MS))
                  for i, t in enumerate(times_ms)])


def reports(times_ms, pid=W, port=SERVER):
    """What audit reports of them: the server port and the caller's pid only."""
    return events([(Kind.net_connect, port_pair(0, port), None, pid, int(t * MS))
                   for t in times_ms])


def pairs(c) -> dict[int, int]:
    """op row -> event row of every match."""
    return dict(zip(c.truth_idx.tolist(), c.event_idx.tolist()))


def test_matches_in_order_each_event_with_its_own_operation():
    t = connects([0, 1, 2, 3, 4])
    e = reports([0.3, 1.3, 2.3, 3.3, 4.3])
    c = correlate(t, e, M, connect_key(100), W)
    assert pairs(c) == {i: i for i in range(5)}
    lat = matched_latencies(t, e, c)["latency_ns"]
    assert (lat == 0.3 * MS).all()
    assert not c.duplicate.any() and not c.unmatched_marked.any()


def test_a_drop_in_the_middle_is_passed_over():
    # op 2 (t=20 ms) is never reported; the next report comes 10.5 ms after it, beyond
    # the 5 ms window: it is passed over as the drop, and everyone keeps their own op.
    t = connects([0, 10, 20, 30, 40])
    e = reports([0.5, 10.5, 30.5, 40.5])
    c = correlate(t, e, M, connect_key(5), W)
    assert pairs(c) == {0: 0, 1: 1, 3: 2, 4: 3}
    row = per_kind(t, e, c, frozenset({Kind.net_connect}))[0]
    assert row["matched"] == 4 and row["drop_rate"] == 0.2 and row["duplicates"] == 0
    assert row["latency_max_us"] == 500


def test_late_events_keep_their_order_where_an_as_of_join_would_not():
    # Every report comes 1.5 ms after its op, later than the next op (1 ms apart).
    t = connects([0, 1, 2, 3])
    e = reports([1.5, 2.5, 3.5, 4.5])
    c = correlate(t, e, M, connect_key(100), W)
    assert pairs(c) == {0: 0, 1: 1, 2: 2, 3: 3}
    assert (matched_latencies(t, e, c)["latency_ns"] == 1.5 * MS).all()
    # The as-of join on one shared key (what the full key would do with these events)
    # gives each report the op issued just before it: the first op looks dropped, the
    # last reported twice, and every latency is 0.5 ms.
    same = dict(t, key=np.full(4, SERVER, np.int64))
    asof = correlate(same, e, M)
    assert pairs(asof) == {1: 0, 2: 1, 3: 2} and asof.duplicate.tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("window_ms, expect", [
    # 50 ms: the dropped op A is still in the window of B's report, which takes it: the
    # wrong op, with a 10.5 ms latency; the drop is counted on B.
    (50, {0: 0}),
    # 5 ms: A is older than the window when B's report comes: passed over, B matched.
    (5, {1: 0}),
])
def test_a_too_wide_window_gives_a_dropped_op_the_next_report(window_ms, expect):
    t = connects([0, 10])      # A at 0 ms is lost, B at 10 ms reported 0.5 ms later
    e = reports([10.5])
    c = correlate(t, e, M, connect_key(window_ms), W)
    assert pairs(c) == expect
    row = per_kind(t, e, c, frozenset({Kind.net_connect}))[0]
    assert row["drop_rate"] == 0.5       # one drop either way: only which op differs
    assert row["latency_p50_us"] == (10_500 if window_ms == 50 else 500)


def test_a_too_narrow_window_turns_a_late_burst_into_drops_and_duplicates():
    # The other side of the trade: delivery stalls, three reports come 6-5 ms after
    # their ops. With 5 ms the first passes over its own op and every report takes the
    # next one; the last finds nothing left. With 100 ms nothing is invented.
    t = connects([0, 1, 2])
    e = reports([6, 6.5, 7])
    narrow = correlate(t, e, M, connect_key(5), W)
    assert pairs(narrow) == {1: 0, 2: 1} and narrow.duplicate.tolist() == [0, 0, 1]
    wide = correlate(t, e, M, connect_key(100), W)
    assert pairs(wide) == {0: 0, 1: 1, 2: 2} and not wide.duplicate.any()


def test_other_processes_and_servers_are_not_ours():
    t = connects([0, 1])
    ours = reports([0.2])
    other = reports([0.3], pid=W + 1)                       # same server, another pid
    elsewhere = reports([1.2], port=SERVER + 1)             # our pid, another server
    e = {k: np.concatenate([ours[k], other[k], elsewhere[k]]) for k in ours}
    c = correlate(t, e, M, connect_key(100), W)
    assert pairs(c) == {0: 0}
    assert not c.duplicate.any() and not c.unmatched_marked.any()   # not ours: strays


def test_left_over_reports_duplicate_stale_or_foreign():
    t = connects([10, 20])
    e = reports([5,        # before any op of the key: foreign, counted against nobody
                 10.5, 20.5,
                 21,       # both ops matched, the window still holds one: a duplicate
                 500])     # nothing within 100 ms: a stale report of ours
    c = correlate(t, e, M, connect_key(100), W)
    assert pairs(c) == {0: 1, 1: 2}
    assert c.duplicate.tolist() == [False, False, False, True, False]
    assert c.unmatched_marked.tolist() == [False, False, False, False, True]


def test_no_invented_drops_or_duplicates_when_reports_lag_many_operations():
    # 5000 connects 0.2 ms apart (10 000 ops/s), every report in order but 0.1 to 8 ms
    # late, so most arrive after several later ops: all matched, each to its own.
    rng = np.random.default_rng(7)
    n = 5000
    issue = np.arange(n) * 0.2
    seen = np.maximum.accumulate(issue + rng.uniform(0.1, 8, n))   # FIFO delivery
    t, e = connects(issue), reports(seen)
    c = correlate(t, e, M, connect_key(100), W)
    assert len(c.truth_idx) == n and (c.truth_idx == c.event_idx).all()
    assert not c.duplicate.any() and not c.unmatched_marked.any()


def p(i, ext="new"):
    return f"/var/tmp/w/{M}-{i:07d}.{ext}"


def files(*times_ms):
    """The file workload: op 4k creates p(k) and keeps it open, 4k+1 writes it; times_ms:
    (create, write) per file."""
    rows = []
    for k, (create, write) in enumerate(times_ms):
        rows += [(4 * k, Kind.file_create, 0, p(k), int(create * MS)),
                 (4 * k + 1, Kind.file_write, 0, p(k), int(write * MS))]
    return truth(rows)


def test_an_open_for_write_before_its_write_matches_within_the_window():
    # file 0 is written 4 ms after it was made, file 1 kept open 2.5 s before its write
    t = files((1, 5), (499, 3000))
    # each open reported 1 ms after it: 3 ms and 2.5 s before the write it enables
    e = events([(Kind.file_create, 0, p(0), W, 2 * MS), (Kind.file_write, 0, p(0), W, 2 * MS),
                (Kind.file_create, 0, p(1), W, 500 * MS),
                (Kind.file_write, 0, p(1), W, 500 * MS)])
    e["t_kernel"] = e["t_seen"] - 100_000     # each delivered 100 µs after the kernel's stamp
    c = correlate(t, e, M, WRITE_KEY, W)
    assert pairs(c) == {0: 0, 1: 1, 2: 2}     # file 1's write: beyond the window, a drop
    assert not c.unmatched_marked.any()       # its report came before it could be admitted
    rows = {r["kind"]: r for r in per_kind(t, e, c, frozenset({Kind.file_create,
                                                                Kind.file_write}))}
    w = rows["file_write"]
    assert w["matched"] == 1 and w["drop_rate"] == 0.5
    assert np.isnan(w["latency_p50_us"])            # the match times nothing: no latency
    assert np.isnan(w["latency_intended_p50_us"])
    assert w["delivery_p50_us"] == 100              # the event's own delivery stays
    assert w["match_key"] == ("path, opened for write before the write (seen ≤ 1000 ms "
                              "before or any time after the op; untimed)")
    # the create was matched on its full key, with its latency
    assert rows["file_create"]["match_key"] == FULL
    assert rows["file_create"]["latency_p50_us"] == 1000
    assert rows["file_create"]["matched"] == 2
    # the per-match latencies say which time nothing (they stay out of events.parquet)
    lat = matched_latencies(t, e, c)
    assert lat["kind"][lat["timed"]].tolist() == [Kind.file_create] * 2
    assert lat["kind"][~lat["timed"]].tolist() == [Kind.file_write]


def test_an_open_reported_after_the_write_still_matches_its_path():
    t = files((1, 5))
    e = events([(Kind.file_write, 0, p(0), W, 9 * MS), (Kind.file_write, 0, p(0), W, 9 * MS)])
    c = correlate(t, e, M, WRITE_KEY, W)
    assert pairs(c) == {1: 0} and c.duplicate.tolist() == [False, True]
    # a marked path the workload never wrote: unmatched, as under the full key
    c = correlate(t, events([(Kind.file_write, 0, p(7), W, 9 * MS)]), M, WRITE_KEY, W)
    assert len(c.truth_idx) == 0 and c.unmatched_marked.tolist() == [True]


def test_full_key_kinds_in_the_same_cell_are_unaffected():
    # connects and accepts of one cell: accepts keep their full key (the port pair)
    rng = np.random.default_rng(3)
    n = 200
    issue = np.arange(n) * 1.0
    ports = 50000 + rng.permutation(n)
    t = truth([(2 * i, k, port_pair(int(ports[i]), SERVER), None, int(issue[i] * MS))
               for i in range(n) for k in (Kind.net_connect, Kind.net_accept)])
    accepts = [(Kind.net_accept, port_pair(int(ports[i]), SERVER), None, W,
                int((issue[i] + 0.4) * MS)) for i in rng.permutation(n)]
    conns = [(Kind.net_connect, port_pair(0, SERVER), None, W, int((issue[i] + 0.3) * MS))
             for i in range(n)]
    e = events(accepts + conns)
    mixed = correlate(t, e, M, connect_key(100), W)
    full = correlate(t, e, M)
    is_accept = t["kind"][mixed.truth_idx] == Kind.net_accept
    got = dict(zip(mixed.truth_idx[is_accept].tolist(), mixed.event_idx[is_accept].tolist()))
    want = {ti: ei for ti, ei in pairs(full).items() if t["kind"][ti] == Kind.net_accept}
    assert got == want and len(got) == n
    assert mixed.duplicate[:n].tolist() == full.duplicate[:n].tolist()
    # and the connects were matched by order, with the key named per kind
    assert len(mixed.truth_idx) == 2 * n
    rows = {r["kind"]: r for r in per_kind(t, e, mixed, frozenset({Kind.net_connect,
                                                                    Kind.net_accept}))}
    assert rows["net_accept"]["match_key"] == FULL
    assert rows["net_connect"]["match_key"] == "pid + server port (seen ≤ 100 ms after the op)"
    assert rows["net_connect"]["latency_max_us"] == pytest.approx(300)


def test_a_pid_keyed_partial_key_needs_the_workload_pid():
    with pytest.raises(ValueError, match="workload's pid"):
        correlate(connects([0]), reports([1]), M, connect_key(100))


def test_a_partial_key_is_declared_with_a_window():
    with pytest.raises(ValueError):
        PartialKey("path", "path", after_ms=None)
    with pytest.raises(ValueError):
        PartialKey("inode", "inode", after_ms=5)


# -- the window's edges, at wall-clock timestamps (ns since the epoch, ~1.7e18: beyond a
# double's 53 bits, so every edge below is exact to the ns) -------------------------------
T0 = 1_700_000_000_000_000_000 + 100


def test_an_event_exactly_after_ms_after_its_operation_is_in_the_window():
    t = truth([(0, Kind.net_connect, port_pair(50000, SERVER), None, T0)])
    e = events([(Kind.net_connect, port_pair(0, SERVER), None, W, T0 + 5 * MS)])
    c = correlate(t, e, M, connect_key(5), W)
    assert pairs(c) == {0: 0}


def test_an_event_one_ns_beyond_the_window_passes_its_operation_over():
    t = truth([(0, Kind.net_connect, port_pair(50000, SERVER), None, T0)])
    e = events([(Kind.net_connect, port_pair(0, SERVER), None, W, T0 + 5 * MS + 1)])
    c = correlate(t, e, M, connect_key(5), W)
    assert pairs(c) == {}
    assert c.unmatched_marked.tolist() == [True]   # ours, but too late: stale


def test_an_open_exactly_before_ms_before_its_write_is_in_the_window():
    t = truth([(0, Kind.file_write, 0, p(0), T0 + 1000 * MS)])
    c = correlate(t, events([(Kind.file_write, 0, p(0), W, T0)]), M, WRITE_KEY, W)
    assert pairs(c) == {0: 0}
    # 1 ns earlier: the write cannot be the one it enabled yet (seen before the group's
    # first operation could be admitted: foreign, counted against nobody)
    c = correlate(t, events([(Kind.file_write, 0, p(0), W, T0 - 1)]), M, WRITE_KEY, W)
    assert pairs(c) == {} and not c.unmatched_marked.any() and not c.duplicate.any()


def test_a_path_key_needs_no_workload_pid():
    t = files((1, 5))
    e = events([(Kind.file_write, 0, p(0), W, 3 * MS)])
    assert pairs(correlate(t, e, M, WRITE_KEY)) == {1: 0}


# -- several groups ----------------------------------------------------------------------

def _servers(ports, ops_ms, reports_ms):
    """Connects to each server port at ``ops_ms``; reports of each at ``reports_ms``."""
    t = truth([(k, Kind.net_connect, port_pair(50000 + k, port), None, int(ms * MS))
               for k, (port, ms) in enumerate((port, ms) for port in ports for ms in ops_ms)])
    e = events([(Kind.net_connect, port_pair(0, port), None, W, int(ms * MS))
                for port in ports for ms in reports_ms])
    return t, e


def test_each_group_passes_over_its_own_first_drop():
    # three servers, each connected to at 0 and 50 ms; each first connect is lost, each
    # second reported 0.5 ms later: every report takes its own group's second connect
    t, e = _servers([SERVER, SERVER + 1, SERVER + 2], [0, 50], [50.5])
    c = correlate(t, e, M, connect_key(5), W)
    assert pairs(c) == {1: 0, 3: 1, 5: 2}


def test_a_group_without_reports_takes_no_one_elses():
    # three servers, one connect each; whichever is never reported, the others' two
    # reports each are a match and a duplicate of their own connect
    ports = [SERVER, SERVER + 1, SERVER + 2]
    for silent in ports:
        t, e = _servers(ports, [0], [0.5, 0.6])
        keep = np.flatnonzero(e["key"] & 0xFFFF != silent)
        e = {k: v[keep] for k, v in e.items()}
        c = correlate(t, e, M, connect_key(100), W)
        own = [ports.index(int(k) & 0xFFFF) for k in e["key"]]
        assert pairs(c) == {own[i]: i for i in (0, 2)}
        assert c.duplicate.tolist() == [False, True, False, True]
