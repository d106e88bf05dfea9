"""File events are matched on their path, hashed eight bytes at a time: paths that differ
only past a word, only in length, outside ASCII, or run to thousands of bytes are told
apart, and a file event without a path matches nothing."""

import numpy as np
from hypothesis import given, settings, strategies as st

from bench.analysis.correlate import correlate
from bench.core.kinds import Kind
M = "sbcafe0001"


def ops(kind, paths, t0=1000, step=1):
    """One operation of ``kind`` on each path, issued at t0, t0 + step, ..."""
    n = len(paths)
    t = t0 + step * np.arange(n, dtype=np.int64)
    return {"op": np.arange(n), "kind": np.full(n, int(kind), np.int64),
            "key": np.zeros(n, np.int64), "path": np.array(paths, dtype=object),
            "t_intended": t, "t_issue": t, "t_done": t + 10}


def reports(kind, rows):
    """rows: (path, t_seen), one event of ``kind`` each."""
    n = len(rows)
    return {"kind": np.full(n, int(kind), np.int16), "key": np.zeros(n, np.int64),
            "path": np.array([p for p, _ in rows], dtype=object),
            "pid": np.zeros(n, np.int64),
            "t_seen": np.array([t for _, t in rows], np.int64),
            "t_kernel": np.full(n, -1, np.int64)}


BASE = f"/var/tmp/sensorbench/{M}/{M}-0000001"
# near BASE and each other: one byte apart at a word's edge, a byte longer or shorter (a
# NUL, a letter outside ASCII), thousands of bytes long, or not ASCII at all
NEAR = [BASE[:8] + "X" + BASE[9:], BASE[:15] + "X" + BASE[16:], BASE[:-1] + "2",
        BASE + "\0", BASE + "ü", BASE[:-1] + "ü", BASE + ".new", BASE[:-1],
        BASE + "/" + "d" * 4096, BASE + "/" + "d" * 4095 + "e", "/tmp/日本語/" + M]


def test_each_path_matches_its_own_operation_only():
    paths = [BASE] + NEAR
    # reported in reverse, all after every operation was issued
    e = reports(Kind.file_write, [(p, 10_000 - i) for i, p in enumerate(paths)][::-1])
    c = correlate(ops(Kind.file_write, paths), e, M)
    n = len(paths)
    assert c.truth_idx.tolist() == list(range(n))
    assert c.event_idx.tolist() == list(range(n - 1, -1, -1))
    assert not c.duplicate.any() and not c.unmatched_marked.any()


def test_a_near_path_never_made_is_unmatched_not_matched():
    c = correlate(ops(Kind.file_create, [BASE]),
                  reports(Kind.file_create, [(p, 2000) for p in NEAR]), M)
    assert len(c.truth_idx) == 0
    # ours (the marker is in them), never made: unmatched
    assert c.unmatched_marked.tolist() == [M in p for p in NEAR]


def test_an_event_without_a_path_matches_nothing():
    c = correlate(ops(Kind.file_delete, [BASE]),
                  reports(Kind.file_delete, [(None, 1500), (BASE, 1600)]), M)
    assert c.truth_idx.tolist() == [0] and c.event_idx.tolist() == [1]
    assert c.duplicate.tolist() == [False, False]
    assert c.unmatched_marked.tolist() == [False, False]


_segments = st.sampled_from(["a", "ab", "abcdefgh", "ü", "日", "\0", "/", "x" * 9])


@given(st.lists(st.lists(_segments, max_size=6).map("".join), min_size=1, max_size=8,
                unique=True),
       st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3)), max_size=12))
@settings(max_examples=200)
def test_matches_are_those_of_the_paths_themselves(names, seen):
    # operations on distinct paths; events on some of them (several times, at several
    # instants): the matches are those correlating on the path strings would give
    rows = [("/w/" + names[j % len(names)], 1000 + dt) for j, dt in seen]
    c = correlate(ops(Kind.file_write, ["/w/" + n for n in names], 0, 100),
                  reports(Kind.file_write, rows), M)
    first = {}
    for e, (path, _) in sorted(enumerate(rows), key=lambda r: (r[1][1], r[0])):
        first.setdefault(path, e)
    want = sorted((names.index(p[3:]), e) for p, e in first.items())
    assert list(zip(c.truth_idx.tolist(), c.event_idx.tolist())) == want
    assert c.duplicate.sum() == len(rows) - len(want)
