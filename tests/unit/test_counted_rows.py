"""A sensor's events against the counted truth (bench.analysis.counted): which events are
the cell's, and the per-kind rows made of them."""

from __future__ import annotations

import math

import numpy as np

from bench.analysis.counted import MATCH_KEY, cell_mask, expected_kinds, rows
from bench.core.kinds import ALL_KINDS, FILE_KINDS, PROC_KINDS, Kind

MARKER = "sbfeed1234"


def events(*evs) -> dict:
    """(kind, key, path, pid) tuples as the sensor's columns."""
    kind, key, path, pid = zip(*evs) if evs else ((), (), (), ())
    return {"kind": np.array(kind, np.int16), "key": np.array(key, np.int64),
            "path": np.array(path, dtype=object), "pid": np.array(pid, np.int64),
            "t_seen": np.zeros(len(kind), np.int64)}


def test_an_event_is_the_cells_by_its_process_its_subject_or_its_directory():
    ev = events(
        (Kind.file_create, 0, "/w/other/f", 100),            # a process of the cell
        (Kind.file_create, 0, f"/w/{MARKER}/run/f", 0),      # no process named: where
        (Kind.file_write, 0, "relative/f", 0),               # neither: not the cell's
        (Kind.proc_fork, 101, None, 7),                      # a child of the cell forked
        (Kind.proc_exit, 999, None, 999),                    # another process entirely
        (Kind.net_connect, 5 << 16 | 80, None, 100),         # a connect of the cell
        (Kind.net_accept, 5 << 16 | 80, None, 4242),         # the machine's accept
        (Kind.file_delete, 0, f"/w/{MARKER}x/f", 4242),      # the marker in the path
    )
    assert cell_mask(ev, [100, 101], MARKER).tolist() == [
        True, True, False, True, False, True, False, True]


def test_the_runners_own_exec_and_exit_are_not_the_cells_but_its_forks_are():
    runner = 100
    ev = events((Kind.proc_exec, runner, None, runner), (Kind.proc_exit, runner, None, runner),
                (Kind.proc_fork, 101, None, runner), (Kind.proc_exec, 101, None, 101),
                (Kind.file_create, 0, "/x", runner))
    assert cell_mask(ev, [runner, 101], MARKER, runner).tolist() == [
        False, False, True, True, True]
    # without the runner named, all of them are the cell's
    assert cell_mask(ev, [runner, 101], MARKER).all()


def test_no_events_no_mask():
    assert cell_mask(events(), [1], MARKER).shape == (0,)


def test_a_kind_has_a_row_when_declared_or_counted():
    counts = {k.name: 0 for k in Kind} | {"net_send": 3}
    assert expected_kinds(counts, PROC_KINDS) == sorted(PROC_KINDS | {Kind.net_send})


def test_matched_is_capped_at_the_count_and_the_rest_are_duplicates():
    counts = {k.name: 0 for k in Kind} | {"file_create": 4, "file_write": 10,
                                          "proc_exec": 2}
    ev = events(*[(Kind.file_create, 0, f"/{MARKER}/{i}", 0) for i in range(6)],
                *[(Kind.file_write, 0, f"/{MARKER}/{i}", 0) for i in range(7)])
    mask = cell_mask(ev, [], MARKER)
    out = {r["kind"]: r for r in rows(counts, FILE_KINDS, ev, mask,
                                      frozenset(FILE_KINDS))}
    assert (out["file_create"]["matched"], out["file_create"]["duplicates"],
            out["file_create"]["drop_rate"]) == (4, 2, 0.0)
    assert (out["file_write"]["matched"], out["file_write"]["duplicates"]) == (7, 0)
    assert math.isclose(out["file_write"]["drop_rate"], 0.3)
    assert out["file_write"]["match_key"] == MATCH_KEY and out["file_write"]["status"] == "ok"
    # declared but never counted: no drop rate, every event beyond the count
    assert out["file_rename"]["expected"] == 0 and math.isnan(out["file_rename"]["drop_rate"])
    # counted but not a kind the sensor sees: unsupported, not a 100 % drop
    assert out["proc_exec"]["status"] == "unsupported"
    assert math.isnan(out["proc_exec"]["drop_rate"]) and out["proc_exec"]["matched"] == 0


def test_a_baseline_has_the_counts_only():
    counts = {k.name: 1 for k in Kind}
    out = rows(counts, frozenset(), None, None, frozenset())
    assert [r["kind"] for r in out] == [k.name for k in sorted(ALL_KINDS)]
    assert all(set(r) == {"kind", "expected", "status", "reason"} for r in out)


def test_one_event_gives_a_mask_of_one():
    assert cell_mask(events((Kind.proc_exec, 7, None, 7)), [7], MARKER).tolist() == [True]


def test_the_runners_exclusion_leaves_other_processes_events_alone():
    runner = 100
    ev = events((Kind.proc_exec, runner, None, runner), (Kind.proc_exit, 999, None, 999),
                (Kind.file_write, 0, "/elsewhere", 999))
    assert cell_mask(ev, [runner], MARKER, runner).tolist() == [False, False, False]


def test_a_file_event_without_a_path_is_not_the_cells_by_its_path():
    ev = events((Kind.file_write, 0, None, 999), (Kind.file_create, 0, f"/{MARKER}/a", 999))
    assert cell_mask(ev, [1], MARKER).tolist() == [False, True]


def test_every_field_of_an_unsupported_and_a_baseline_row():
    counts = {"proc_exec": 3}     # a declared kind it has no count for reads as 0
    (row,) = rows(counts, {Kind.proc_exec}, events(), np.zeros(0, bool), frozenset())
    lat = {k: v for k, v in row.items() if "latency" in k or k.endswith("_us")}
    assert lat and all(math.isnan(v) for v in lat.values())
    assert {k: v for k, v in row.items() if k not in lat and k != "drop_rate"} == {
        "kind": "proc_exec", "expected": 3, "status": "unsupported",
        "reason": "backend does not report this kind", "matched": 0, "duplicates": 0,
        "unmatched": 0, "match_key": ""}
    (base,) = rows({}, {Kind.file_rename}, None, None, frozenset())
    assert base == {"kind": "file_rename", "expected": 0, "status": "ok", "reason": ""}


def test_a_seen_row_has_no_latency_and_no_unmatched():
    counts = {"proc_fork": 2}
    ev = events((Kind.proc_fork, 5, None, 1), (Kind.proc_fork, 6, None, 1))
    (row,) = rows(counts, set(), ev, cell_mask(ev, [1], MARKER), frozenset({Kind.proc_fork}))
    assert (row["matched"], row["duplicates"], row["unmatched"], row["drop_rate"]) == (
        2, 0, 0, 0.0)
    assert row["reason"] == "" and math.isnan(row["latency_p50_us"])


def test_a_sensor_that_reported_nothing_gets_rows_of_drops():
    ev = events()
    (row,) = rows({"proc_exec": 4}, set(), ev, cell_mask(ev, [1], MARKER),
                  frozenset({Kind.proc_exec}))
    assert (row["matched"], row["drop_rate"], row["status"]) == (0, 1.0, "ok")


def test_a_kind_it_cannot_see_does_not_end_the_rows():
    counts = {"proc_exec": 1, "net_connect": 2}
    ev = events((Kind.net_connect, 1, None, 1))
    out = rows(counts, set(), ev, cell_mask(ev, [1], MARKER), frozenset({Kind.net_connect}))
    assert [(r["kind"], r["status"], r["matched"]) for r in out] == [
        ("proc_exec", "unsupported", 0), ("net_connect", "ok", 1)]
