"""The results folder's store (bench.results.store.ResultsDir) on folders built here, no run:
cells written cell by cell with a commit line each (a cell cut off mid-write is left out
and runs again), every file replaced whole, tables typed by the schema, meta.json merged on
resume and type-checked, operation times saved and read back, ``finalize`` gathering the
per-cell pieces, every unreadable file a one-line ``BadInput`` naming it; the run each row
belongs to (``run_id``, ``row_runs``), and a whole folder written at once (``write_folder``)."""

from __future__ import annotations

import errno
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.core.errors import BadInput
from bench.results import schema
from bench.results.store import (
    EVENTS_PER_CELL,
    ResultsDir,
    _json_default,
    _why,
    cells_frame,
    derived_run_id,
    row_runs,
    run_id,
    scenarios_frame,
    typed_frame,
    write_folder as store_write_folder,
)
from tests.helpers.constructed import cell_rows, latency_events, write_folder

A = "synthetic|process|1000|0"       # the cell ids cell_rows("synthetic", ...) makes
B = "synthetic|process|1000|1"
# sha1("a") = 86f7e437faa5a7fce15d1ddcb9eaeaea377667b8: a cell's pieces are named by the
# first 12 hex digits, so a resumed run (of any version) finds the pieces of its cells.
SLUG_OF_A = "86f7e437faa5"


def _rows(repeat: int, kinds=("proc_exec", "file_create")) -> list[dict]:
    return cell_rows("synthetic", kinds, repeat=repeat)


def _jsonl(res: ResultsDir) -> list[dict]:
    return [json.loads(ln) for ln in (res.parts / "cells.jsonl").read_text().splitlines()]


def _leftovers(path: Path) -> list[str]:
    """Files a writer should not leave behind: its temporaries and its write probe."""
    return sorted(p.name for p in path.rglob("*") if ".tmp" in p.name or "write-test" in p.name)


# -- opening ------------------------------------------------------------------------------

def test_a_new_folder_is_made_with_its_parents_and_reopens(tmp_path):
    res = ResultsDir(tmp_path / "a" / "b")
    assert res.parts.is_dir() and res.rows() == [] and res.done() == set()
    assert ResultsDir(tmp_path / "a" / "b").rows() == []   # opening it again is fine
    assert _leftovers(tmp_path) == []


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput) as e:
        ResultsDir(tmp_path / "file" / "run")
    assert str(e.value).startswith(f"cannot write results to {tmp_path / 'file' / 'run'}: ")
    assert "\n" not in str(e.value)


def test_reading_needs_a_cells_table(tmp_path):
    with pytest.raises(BadInput, match="is not a sensorbench results folder"):
        ResultsDir(tmp_path, create=False)
    assert not (tmp_path / ".parts").exists()     # a reader writes nothing
    # either table will do
    (tmp_path / "cells.csv").write_text("x\n")
    ResultsDir(tmp_path, create=False)
    (tmp_path / "cells.csv").unlink()
    (tmp_path / "cells.parquet").write_text("x")
    ResultsDir(tmp_path, create=False)


def test_a_reader_does_not_parse_the_parts(tmp_path):
    # The pieces in .parts are the writer's: a reader of a finished folder needs only the
    # tables, so a damaged cells.jsonl (here a directory) does not stop it.
    write_folder(tmp_path, _rows(0))
    (tmp_path / ".parts" / "cells.jsonl").unlink()
    (tmp_path / ".parts" / "cells.jsonl").mkdir()
    (tmp_path / ".parts" / "scenarios.jsonl").mkdir()
    res = ResultsDir(tmp_path, create=False)
    assert res.rows() == [] and len(res.cells()) == 2
    with pytest.raises(BadInput, match=r"cannot read .*cells\.jsonl"):
        ResultsDir(tmp_path)


# -- cells, cell by cell ------------------------------------------------------------------

def test_add_cell_appends_rows_then_their_commit(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), None, None, A)
    res.add_cell(_rows(1, ("proc_exec",)), None, None, B)
    lines = _jsonl(res)
    assert [ln.get("cell") or ln.get("_committed_cell") for ln in lines] == [A, A, A, B, B]
    assert lines[2] == {"_committed_cell": A} and lines[4] == {"_committed_cell": B}
    assert res.done() == {A, B} and len(res.rows()) == 3
    cells = pd.read_parquet(tmp_path / "cells.parquet")
    assert list(cells["cell"]) == [A, A, B]
    assert list(cells["kind"]) == ["proc_exec", "file_create", "proc_exec"]
    csv = pd.read_csv(tmp_path / "cells.csv")
    assert list(csv.columns) == list(cells.columns) and list(csv["kind"]) == list(cells["kind"])
    # plain Parquet, as DuckDB or Spark read it: no pandas index stored as a column
    assert pq.read_table(tmp_path / "cells.parquet").column_names == list(cells.columns)
    again = ResultsDir(tmp_path)                  # a resumed run reads them back
    assert again.rows() == res.rows() and again.done() == {A, B}
    assert _leftovers(tmp_path) == []


def test_rows_returns_a_copy(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), None, None, A)
    res.rows().clear()
    assert len(res.rows()) == 2


def test_a_cell_cut_off_mid_write_is_left_out(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), None, None, A)
    # B's first row made it whole, its second was cut off, its commit never came.
    b1, b2 = (json.dumps(r) for r in _rows(1))
    with open(res.parts / "cells.jsonl", "a") as f:
        f.write(b1 + "\n" + b2[:25])
    again = ResultsDir(tmp_path)
    assert again.done() == {A} and [r["cell"] for r in again.rows()] == [A, A]


def test_a_cell_run_again_after_a_cut_off_keeps_only_its_new_rows(tmp_path):
    # A run killed while writing B leaves some of B's rows without a commit (the last one
    # cut mid-line); the resumed run writes B again, whole. Should that run be killed too,
    # the next one must find B's new rows once each: not glued to the cut line (lost), nor
    # beside the old uncommitted copies (twice).
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), None, None, A)
    old = _rows(1)
    with open(res.parts / "cells.jsonl", "a") as f:
        f.write(json.dumps(old[0]) + "\n" + json.dumps(old[1])[:25])
    resumed = ResultsDir(tmp_path)
    new = [{**r, "matched": 7} for r in _rows(1)]
    resumed.add_cell(new, None, None, B)
    again = ResultsDir(tmp_path)
    got = [(r["cell"], r["kind"], r["matched"]) for r in again.rows()]
    assert got == [(A, "proc_exec", 1000), (A, "file_create", 1000),
                   (B, "proc_exec", 7), (B, "file_create", 7)]


def test_whole_rows_without_their_commit_do_not_count_when_the_cell_is_redone(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(1), None, None, B)
    with open(res.parts / "cells.jsonl", "a") as f:   # every row of A whole, no commit
        f.write("".join(json.dumps(r) + "\n" for r in _rows(0)))
    resumed = ResultsDir(tmp_path)
    assert resumed.done() == {B}
    resumed.add_cell(_rows(0, ("proc_exec",)), None, None, A)
    assert [(r["cell"], r["kind"]) for r in ResultsDir(tmp_path).rows()] == \
        [(B, "proc_exec"), (B, "file_create"), (A, "proc_exec")]


def test_a_folder_without_commit_lines_keeps_every_row(tmp_path):
    # written before commit lines existed; blank lines, cut or damaged lines, rows that are
    # not objects or lack a field every row has are skipped, wherever they are
    parts = tmp_path / ".parts"
    parts.mkdir()
    good = _rows(0) + _rows(1)
    no_kind = {k: v for k, v in good[0].items() if k != "kind"}
    bad_status = {**good[0], "status": 5}
    lines = [json.dumps(good[0]), "", json.dumps(good[1])[:30], "[1, 2]", json.dumps(no_kind),
             json.dumps(bad_status), json.dumps(good[1]), "   ", json.dumps(good[2]),
             '{"cell": "\xff\xfe', json.dumps(good[3])]
    (parts / "cells.jsonl").write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    res = ResultsDir(tmp_path)
    assert res.rows() == good and res.done() == {A, B}


def test_a_folder_without_commit_lines_keeps_its_rows_when_a_cell_is_added(tmp_path):
    # resumed by this version: the new cell's commit must not make the old rows, which
    # have none, look cut off
    (tmp_path / ".parts").mkdir()
    (tmp_path / ".parts" / "cells.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in _rows(0)))
    ResultsDir(tmp_path).add_cell(_rows(1, ("proc_exec",)), None, None, B)
    assert [(r["cell"], r["kind"]) for r in ResultsDir(tmp_path).rows()] == \
        [(A, "proc_exec"), (A, "file_create"), (B, "proc_exec")]


def test_adding_a_cell_appends_without_rewriting_the_file(tmp_path):
    # rewriting every cell's file after each cell would cost a long run its square
    res = ResultsDir(tmp_path)
    res.replace_rows([])
    inode = (res.parts / "cells.jsonl").stat().st_ino
    ResultsDir(tmp_path).add_cell(_rows(0), None, None, A)     # an empty file: tidy
    ResultsDir(tmp_path).add_cell(_rows(1), None, None, B)
    assert (res.parts / "cells.jsonl").stat().st_ino == inode
    assert len(_jsonl(res)) == 6


def test_a_cell_added_after_the_rows_were_rewritten_is_appended(tmp_path):
    # replace_rows leaves the file holding exactly the committed rows: the same store's
    # next cells append to it instead of rewriting it again (each time: a long run's square)
    res = ResultsDir(tmp_path)
    res.replace_rows(_rows(0))
    inode = (res.parts / "cells.jsonl").stat().st_ino
    res.add_cell(_rows(1), None, None, B)
    res.add_cell(_rows(2), None, None, "synthetic|process|1000|2")
    assert (res.parts / "cells.jsonl").stat().st_ino == inode
    assert len(_jsonl(res)) == 9 and len(ResultsDir(tmp_path).rows()) == 6


def test_replace_rows_commits_each_cell_after_its_rows(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), None, None, A)
    new = _rows(1) + _rows(0, ("net_connect",))
    res.replace_rows(new)
    lines = _jsonl(res)
    assert [ln.get("kind") or ln.get("_committed_cell") for ln in lines] == \
        ["proc_exec", "file_create", B, "net_connect", A]
    assert ResultsDir(tmp_path).rows() == new
    assert list(pd.read_parquet(tmp_path / "cells.parquet")["kind"]) == \
        ["proc_exec", "file_create", "net_connect"]


def test_replace_rows_with_none_empties_the_tables(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), None, None, A)
    res.replace_rows([])
    assert (res.parts / "cells.jsonl").read_text() == ""
    assert ResultsDir(tmp_path).done() == set()
    assert len(pd.read_parquet(tmp_path / "cells.parquet")) == 0


def test_numpy_values_in_rows_are_written_as_json_numbers(tmp_path):
    res = ResultsDir(tmp_path)
    row = {**_rows(0, ("proc_exec",))[0], "expected": np.int64(5),
           "drop_rate": np.float32(0.5), "drained": np.bool_(True), "marker": Path("m")}
    res.add_cell([row], None, None, A)
    back = ResultsDir(tmp_path).rows()[0]
    assert back["expected"] == 5 and type(back["expected"]) is int
    assert back["drop_rate"] == 0.5 and type(back["drop_rate"]) is float
    assert back["drained"] is True and back["marker"] == "m"


def test_numpy_values_in_replaced_rows_are_written_as_json_numbers(tmp_path):
    # replace_rows writes the rows itself (not add_cell): the same conversion applies
    row = {**_rows(0, ("proc_exec",))[0], "expected": np.int64(5), "drop_rate": np.float64(0.25),
           "drained": np.bool_(False), "marker": Path("m")}
    ResultsDir(tmp_path).replace_rows([row])
    back = ResultsDir(tmp_path).rows()[0]
    assert back["expected"] == 5 and type(back["expected"]) is int
    assert back["drop_rate"] == 0.25 and back["drained"] is False and back["marker"] == "m"


def test_json_default():
    assert _json_default(np.int32(-3)) == -3 and type(_json_default(np.int32(-3))) is int
    assert type(_json_default(np.float64(2.5))) is float
    assert _json_default(np.bool_(False)) is False
    assert _json_default(Path("a/b")) == "a/b"


# -- per-cell pieces ----------------------------------------------------------------------

def test_op_times_are_saved_by_cell_and_read_back(tmp_path):
    res = ResultsDir(tmp_path)
    times = np.array([1.5, 2.0, 3.25])
    res.add_cell([], None, times, "a")
    assert (res.parts / f"optimes-{SLUG_OF_A}.npy").exists()
    np.testing.assert_array_equal(ResultsDir(tmp_path).op_times("a"), times)
    assert res.op_times("b") is None                      # a cell without any
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("content", [b"", b"not numpy", b"\x93NUMPY\x01\x00"])
def test_unreadable_op_times_are_none(tmp_path, content):
    res = ResultsDir(tmp_path)
    (res.parts / f"optimes-{SLUG_OF_A}.npy").write_bytes(content)
    assert res.op_times("a") is None


def test_a_cells_table_without_op_times_gets_them_from_the_parts(tmp_path):
    # a folder written before cells stored op_time_ns: each cell's mean comes from its
    # saved times (NaN for a cell without any), as a float column
    write_folder(tmp_path, _rows(0) + _rows(1), op_times={A: np.full(200, 1500.0)})
    res = ResultsDir(tmp_path, create=False)
    df = res.with_op_times(res.cells().drop(columns="op_time_ns"))
    assert str(df["op_time_ns"].dtype) == "float64"
    assert list(df["op_time_ns"].iloc[:2]) == [1500.0, 1500.0]
    assert df["op_time_ns"].iloc[2:].isna().all()


def test_a_folder_without_parts_gets_an_empty_op_time_column(tmp_path):
    pd.DataFrame(_rows(0)).to_csv(tmp_path / "cells.csv", index=False)
    res = ResultsDir(tmp_path, create=False)
    df = res.with_op_times(res.cells())
    assert str(df["op_time_ns"].dtype) == "float64" and df["op_time_ns"].isna().all()


def test_events_of_the_finished_cells_are_gathered(tmp_path):
    res = ResultsDir(tmp_path)
    ev_a = latency_events("synthetic", "proc_exec", [10, 20])
    ev_b = latency_events("synthetic", "proc_exec", [30], repeat=1).assign(extra=1)
    res.add_cell(_rows(0), ev_a, None, A)
    res.add_cell(_rows(1), ev_b, None, B)
    res.add_cell([], ev_a.iloc[:0], None, "empty")     # no events: no file
    assert len(list(res.parts.glob("events-*.parquet"))) == 2
    # a cell cut off before its commit: its events file exists but is not gathered
    (res.parts / "events-000000000000.parquet").write_bytes(b"junk")
    res.finalize()
    ev = pd.read_parquet(tmp_path / "events.parquet")
    assert sorted(ev["latency_ns"]) == [10_000, 20_000, 30_000]
    assert "__index_level_0__" not in pq.read_table(tmp_path / "events.parquet").column_names
    # pieces with other columns concatenate, the missing ones empty
    assert sorted(ev["extra"].fillna(0)) == [0, 0, 1]
    assert _leftovers(tmp_path) == []


def _many_events(n: int, repeat: int = 0) -> pd.DataFrame:
    return latency_events("synthetic", "proc_exec", np.arange(1, n + 1), repeat=repeat)


def test_a_cells_events_file_keeps_a_uniform_sample_of_them(tmp_path):
    n = 3 * EVENTS_PER_CELL
    res = ResultsDir(tmp_path / "a")
    res.add_cell(_rows(0), _many_events(n), None, A)
    (piece,) = res.parts.glob("events-*.parquet")
    kept = pd.read_parquet(piece)["latency_ns"]
    assert len(kept) == EVENTS_PER_CELL and kept.is_unique
    assert kept.is_monotonic_increasing                  # in the events' own order
    # uniform: each third of the cell's events holds about a third of the sample
    thirds = np.bincount((kept.to_numpy() - 1) // (EVENTS_PER_CELL * 1000), minlength=3)
    assert thirds.tolist() == pytest.approx([EVENTS_PER_CELL / 3] * 3, rel=0.05)
    # the same cell draws the same sample in another folder; another cell another one
    again = ResultsDir(tmp_path / "b")
    again.add_cell(_rows(0), _many_events(n), None, A)
    again.add_cell(_rows(1), _many_events(n, repeat=1), None, B)
    same = pd.read_parquet(again.parts / piece.name)["latency_ns"]
    assert same.tolist() == kept.tolist()
    again.finalize()
    ev = pd.read_parquet(tmp_path / "b" / "events.parquet")
    other = ev.loc[ev["repeat"] == 1, "latency_ns"]
    assert len(other) == EVENTS_PER_CELL and other.tolist() != kept.tolist()


def test_a_cell_with_no_more_events_than_the_sample_keeps_them_all(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), _many_events(EVENTS_PER_CELL), None, A)
    (piece,) = res.parts.glob("events-*.parquet")
    kept = pd.read_parquet(piece)["latency_ns"]
    assert kept.tolist() == list(range(1000, (EVENTS_PER_CELL + 1) * 1000, 1000))


def test_finalize_without_pieces_writes_no_tables(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), None, None, A)
    res.finalize()
    assert not (tmp_path / "events.parquet").exists()
    assert not (tmp_path / "timeline.parquet").exists()
    assert res.scenarios() is None and res.timeline() is None


# -- failure scenarios --------------------------------------------------------------------

def _timeline(cell: str, n: int) -> pd.DataFrame:
    return pd.DataFrame({"cell": cell, "t_ms": np.arange(n) * 10, "state": "ready"})


def test_scenarios_and_their_timelines(tmp_path):
    res = ResultsDir(tmp_path)
    for cell, n in ((A, 3), (B, 0)):
        res.add_cell([], None, None, cell)
        res.add_scenario({"scenario": "crash", "cell": cell, "blind_ms": 150,
                          "crashed": np.bool_(True), "events_lost": np.int64(4)},
                         _timeline(cell, n))
    sc = res.scenarios()
    assert list(sc.columns[:len(schema.SCENARIO_COLUMNS)]) == \
        [c.name for c in schema.SCENARIO_COLUMNS]
    assert list(sc["cell"]) == [A, B] and list(sc["blind_ms"]) == [150.0, 150.0]
    assert str(sc["blind_ms"].dtype) == "float64" and str(sc["crashed"].dtype) == "boolean"
    assert list(sc["events_lost"]) == [4, 4] and list(sc["crashed"]) == [True, True]
    csv = pd.read_csv(tmp_path / "scenarios.csv")
    assert list(csv.columns) == list(sc.columns) and list(csv["cell"]) == [A, B]
    assert len(list(res.parts.glob("timeline-*.parquet"))) == 1   # B's was empty
    res.finalize()
    assert list(res.timeline()["t_ms"]) == [0, 10, 20]


def test_reopened_scenarios_keep_the_rows_of_finished_cells(tmp_path):
    res = ResultsDir(tmp_path)
    res.add_cell(_rows(0), None, None, A)
    res.add_scenario({"scenario": "crash", "cell": A}, None)
    # a row of a cell that was never committed, a line that is no row, a damaged line,
    # before a row of a finished cell; then a cut line
    with open(res.parts / "scenarios.jsonl", "ab") as f:
        f.write(json.dumps({"scenario": "stall", "cell": B}).encode()
                + b'\n[3]\n{"cell": "\xff\n' + json.dumps({"scenario": "flood", "cell": A}).encode()
                + b'\n{"scen')
    again = ResultsDir(tmp_path)
    again.write_scenarios()
    assert list(again.scenarios()["scenario"]) == ["crash", "flood"]


# -- reading the tables -------------------------------------------------------------------

def test_cells_prefers_parquet_and_falls_back_to_csv(tmp_path):
    write_folder(tmp_path, _rows(0))
    pd.read_csv(tmp_path / "cells.csv").iloc[:1].to_csv(tmp_path / "cells.csv", index=False)
    res = ResultsDir(tmp_path, create=False)
    assert len(res.cells()) == 2 and str(res.cells()["repeat"].dtype) == "Int64"
    (tmp_path / "cells.parquet").unlink()
    pd.DataFrame(_rows(0)).to_csv(tmp_path / "cells.csv", index=False)
    df = ResultsDir(tmp_path, create=False).cells()
    assert list(df["kind"]) == ["proc_exec", "file_create"]


@pytest.mark.parametrize("name,content,why", [
    ("cells.parquet", b"", "ArrowInvalid: "),
    ("cells.parquet", b"a,b\n1,2\n", "ArrowInvalid: "),
    ("cells.csv", b"", "EmptyDataError: "),
])
def test_an_unreadable_cells_table_is_one_line_naming_it(tmp_path, name, content, why):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(BadInput) as e:
        ResultsDir(tmp_path, create=False).cells()
    msg = str(e.value)
    # what went wrong: the exception's name and its message's first line
    assert msg.startswith(f"cannot read {tmp_path / name}: {why}") and "\n" not in msg


def test_a_table_without_the_key_columns_is_refused(tmp_path):
    pd.DataFrame({"cell": ["c"], "backend": ["b"], "workload_spec": ["w"],
                  "status": ["ok"], "repeat": [0]}).to_csv(tmp_path / "cells.csv", index=False)
    with pytest.raises(BadInput) as e:
        ResultsDir(tmp_path, create=False).cells()
    assert str(e.value) == (f"{tmp_path / 'cells.csv'} is not a sensorbench cells table "
                            "(no column spec, kind, rate_target)")


@pytest.mark.parametrize("name,method", [("scenarios.parquet", "scenarios"),
                                         ("timeline.parquet", "timeline")])
def test_an_unreadable_scenario_table_is_one_line_naming_it(tmp_path, name, method):
    write_folder(tmp_path, _rows(0))
    (tmp_path / name).write_bytes(b"PAR1 broken")
    with pytest.raises(BadInput) as e:
        getattr(ResultsDir(tmp_path, create=False), method)()
    # what went wrong: the reader's error, by name
    assert str(e.value).startswith(f"cannot read {tmp_path / name}: ArrowInvalid: ")
    assert "\n" not in str(e.value)


def test_why_is_the_first_line_of_the_error():
    assert _why(ValueError("first\nsecond")) == "ValueError: first"
    assert _why(ValueError("  padded  ")) == "ValueError: padded"
    assert _why(KeyError()) == "KeyError"
    assert _why(OSError("   \n")) == "OSError"


# -- meta.json ----------------------------------------------------------------------------

def test_meta_is_empty_until_written_and_written_readably(tmp_path):
    res = ResultsDir(tmp_path)
    assert res.meta() == {}
    res.write_meta({"a": 1, "p": Path("x/y")})
    assert (tmp_path / "meta.json").read_text() == '{\n  "a": 1,\n  "p": "x/y"\n}\n'
    assert _leftovers(tmp_path) == []


def test_meta_merges_one_level_deep(tmp_path):
    res = ResultsDir(tmp_path)
    res.write_meta({"backend_stats": {"c1": {"lost": 1}, "c2": {"lost": 2}},
                    "machine": {"hostname": "h"}, "warnings": ["w1"], "n": 1, "d": {"x": 1}})
    res.write_meta({"backend_stats": {"c2": {"lost": 5}, "c3": {"x": 3}},
                    "warnings": ["w2"], "n": {"now": "dict"}, "d": 7, "new": True})
    assert ResultsDir(tmp_path).meta() == {
        # dicts: the old keys stay, a key written again is replaced whole (one level)
        "backend_stats": {"c1": {"lost": 1}, "c2": {"lost": 5}, "c3": {"x": 3}},
        "machine": {"hostname": "h"},     # not written again: kept
        "warnings": ["w2"],               # lists are replaced, not merged
        "n": {"now": "dict"}, "d": 7, "new": True,
    }


@pytest.mark.parametrize("text,why", [
    ("", "JSONDecodeError: Expecting value"),
    ("{not json", "JSONDecodeError"),
    ("\xff\xfe", "Error"),
    ("[1, 2]", "a JSON object was expected, found list"),
    ('{"machine": 5}', "'machine' should be a dict, found int"),
    ('{"warnings": "none"}', "'warnings' should be a list, found str"),
    ('{"merged_from": {}}', "'merged_from' should be a list, found dict"),
    ('{"resumed_at": "today"}', "'resumed_at' should be a list, found str"),
])
def test_unreadable_meta_is_one_line_naming_the_file(tmp_path, text, why):
    (tmp_path / "meta.json").write_bytes(text.encode("latin-1"))
    res = ResultsDir(tmp_path)
    with pytest.raises(BadInput) as e:
        res.meta()
    msg = str(e.value)
    assert msg.startswith(f"cannot read {tmp_path / 'meta.json'}: ") and why in msg, msg
    assert "\n" not in msg
    with pytest.raises(BadInput):        # and a writer does not overwrite what it can't read
        res.write_meta({"n": 1})


def test_meta_of_the_right_types_is_read(tmp_path):
    meta = {"machine": {}, "warnings": [], "plan": {}, "plans": [], "rules": {},
            "backends": {}, "backend_stats": {}, "merged_from": [], "resumed_at": [],
            "other": 5}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    assert ResultsDir(tmp_path).meta() == meta


@pytest.mark.parametrize("key,bad", [("plan", []), ("plans", {}), ("rules", 1),
                                     ("backends", []), ("backend_stats", "x")])
def test_each_declared_meta_key_is_type_checked(tmp_path, key, bad):
    (tmp_path / "meta.json").write_text(json.dumps({key: bad}))
    with pytest.raises(BadInput, match=f"'{key}' should be a"):
        ResultsDir(tmp_path).meta()


# -- typed tables -------------------------------------------------------------------------

def test_cells_frame_has_every_stored_column_in_order_then_the_extras():
    df = cells_frame([{"kind": "k", "zz_new": 1}, {"kind": "j", "aa_new": "x"}])
    assert list(df.columns) == [*schema.STORED, "zz_new", "aa_new"]
    assert not set(schema.ESTIMATES) & set(df.columns)   # computed when read, not stored
    assert list(df["zz_new"].fillna(0)) == [1, 0] and df["aa_new"].iloc[1] == "x"
    assert df["backend"].isna().all() and str(df["backend"].dtype) == "string"
    assert "host" not in df.columns     # merge's column: only when a row has one


def test_an_optional_column_is_kept_when_a_row_has_it():
    df = cells_frame([{"kind": "k"}, {"kind": "j", "host": "alpha"}])
    assert list(df.columns) == [*schema.STORED, "host"]
    assert str(df["host"].dtype) == "string" and df["host"].iloc[1] == "alpha"
    # an estimate an older runner stored stays with its row (resuming such a folder)
    df = cells_frame([{"kind": "k", "overhead_ns_per_op": 5.0}])
    assert list(df.columns) == [*schema.STORED, "overhead_ns_per_op"]
    assert str(df["overhead_ns_per_op"].dtype) == "float64"


def test_values_are_coerced_to_the_declared_types():
    df = cells_frame([{"expected": "12", "drop_rate": "0.25", "drained": True, "repeat": 2.0},
                      {"expected": "n/a", "drop_rate": "n/a", "drained": False, "repeat": None}])
    assert list(df["expected"].astype(object)) == [12, pd.NA]
    assert str(df["expected"].dtype) == "Int64" and str(df["drop_rate"].dtype) == "float64"
    assert df["drop_rate"].iloc[0] == 0.25 and np.isnan(df["drop_rate"].iloc[1])
    assert list(df["drained"]) == [True, False] and str(df["drained"].dtype) == "boolean"
    assert df["repeat"].iloc[0] == 2 and pd.isna(df["repeat"].iloc[1])


def test_a_value_that_is_not_a_number_is_missing_whatever_its_type():
    # a time or a duration in a numeric column is no count nor seconds: missing, never the
    # number of µs or ns it is made of
    df = cells_frame([{"duration_s": timedelta(seconds=2), "ops": datetime(2020, 1, 1)},
                      {"duration_s": None, "ops": None}])
    assert df["duration_s"].isna().all() and df["ops"].isna().all()
    assert str(df["duration_s"].dtype) == "float64" and str(df["ops"].dtype) == "Int64"


def test_scenarios_frame_uses_the_scenario_schema():
    df = scenarios_frame([{"scenario": "crash", "blind_ms": "5", "events_lost": 3}])
    assert list(df.columns) == [c.name for c in schema.SCENARIO_COLUMNS]
    assert df["blind_ms"].iloc[0] == 5.0 and str(df["events_lost"].dtype) == "Int64"


def test_an_empty_table_has_the_declared_columns():
    df = typed_frame([], ("a", "b"), {"a": "Int64", "b": "string", "opt": "string"})
    assert list(df.columns) == ["a", "b"] and len(df) == 0
    assert str(df["a"].dtype) == "Int64"


_VALUE = st.one_of(st.none(), st.integers(-10**6, 10**6), st.sampled_from(["x", "3", ""]))


@settings(max_examples=40)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "opt", "e1", "e2"]), _VALUE,
                                max_size=5), max_size=6))
def test_typed_frame_keeps_every_row_and_orders_the_columns(rows):
    dtypes = {"a": "Int64", "b": "string", "opt": "float64"}
    df = typed_frame(rows, ("a", "b"), dtypes)
    assert len(df) == len(rows) and list(df.index) == list(range(len(rows)))
    present = {k for r in rows for k, v in r.items() if v is not None}
    extras = [c for c in dict.fromkeys(k for r in rows for k in r) if c not in dtypes
              and c in present]
    assert list(df.columns) == ["a", "b", *(["opt"] if "opt" in present else []), *extras]
    for i, r in enumerate(rows):
        if isinstance(r.get("a"), int):
            assert df["a"].iloc[i] == r["a"]
        if r.get("b") is not None:
            assert df["b"].iloc[i] == str(r["b"])


# -- the run of each row ------------------------------------------------------------------

def test_run_id_is_the_one_meta_names_else_one_derived_from_the_folder(tmp_path):
    assert run_id({"run_id": "r1"}, tmp_path) == "r1"
    # an empty id names no run: it would make every such folder one run
    assert run_id({"run_id": ""}, tmp_path) == derived_run_id(tmp_path, {"run_id": ""})
    assert run_id({}, tmp_path) == derived_run_id(tmp_path, {})


def test_a_derived_run_id_is_stable_and_tells_runs_apart(tmp_path):
    meta = {"started": "2024-01-01T00:00:00", "machine": {"hostname": "h"}}
    rid = derived_run_id(tmp_path / "a", meta)
    assert re.fullmatch(r"old-[0-9a-f]{12}", rid), rid
    # the same folder read again, however its path is spelled: the same run
    assert derived_run_id(tmp_path / "x" / ".." / "a", dict(meta)) == rid
    # a copy of it, a run started at another time, or on another machine: another run
    others = [derived_run_id(tmp_path / "b", meta),
              derived_run_id(tmp_path / "a", {**meta, "started": "2024-01-02T00:00:00"}),
              derived_run_id(tmp_path / "a", {**meta, "machine": {"hostname": "g"}})]
    assert len({rid, *others}) == 4


def test_a_derived_run_id_takes_any_meta(tmp_path):
    # a machine that is not a dict names no host; values JSON cannot hold are read as text
    no_host = derived_run_id(tmp_path, {"started": "s"})
    assert derived_run_id(tmp_path, {"started": "s", "machine": "h"}) == no_host
    assert derived_run_id(tmp_path, {"started": "s", "machine": ["h"]}) == no_host
    t1, t2 = datetime(2024, 1, 1), datetime(2024, 1, 2)
    assert derived_run_id(tmp_path, {"started": t1}) == derived_run_id(tmp_path, {"started": t1})
    assert derived_run_id(tmp_path, {"started": t1}) != derived_run_id(tmp_path, {"started": t2})


def test_row_runs_of_a_folder_are_its_run(tmp_path):
    df = pd.DataFrame({"cell": ["a", "b"]})
    runs = row_runs(df, {"run_id": "r1"}, tmp_path)
    assert list(runs) == ["r1", "r1"] and str(runs.dtype) == "string"
    runs = row_runs(df, {}, tmp_path)
    assert list(runs) == [derived_run_id(tmp_path, {})] * 2 and str(runs.dtype) == "string"


def test_row_runs_of_a_merged_folder_are_named_by_its_run_column(tmp_path):
    df = pd.DataFrame({"run": ["r1", "r2"], "source": ["a", "b"]})
    runs = row_runs(df, {"run_id": "merged"}, tmp_path)
    assert list(runs) == ["r1", "r2"] and str(runs.dtype) == "string"


def test_row_runs_of_a_folder_merged_before_runs_had_ids_come_from_its_sources(tmp_path):
    # no run column: each row's run is derived from the folder it came from and that
    # folder's meta.json as merged_from kept it; a source it did not keep has none
    a, b, c = (str(tmp_path / n) for n in "abc")
    meta_a, meta_b = {"started": "t1"}, {"started": "t2", "machine": {"hostname": "hb"}}
    meta = {"run_id": "merged", "merged_from": [
        {"path": a, "meta": meta_a}, "not an entry", {"path": b, "meta": meta_b}]}
    df = pd.DataFrame({"cell": ["x", "y", "x", "x"], "source": [a, a, b, c]})
    runs = row_runs(df, meta, tmp_path)
    assert derived_run_id(a, meta_a) != derived_run_id(a, {})   # the meta moves the id
    assert list(runs) == [derived_run_id(a, meta_a), derived_run_id(a, meta_a),
                          derived_run_id(b, meta_b), derived_run_id(c, {})]
    assert str(runs.dtype) == "string"


# -- a whole folder at once ---------------------------------------------------------------

def test_write_folder_replaces_a_stale_temporary_folder(tmp_path):
    # a write of the same process id killed before its clean-up left its temporary folder
    stale = tmp_path / f".out.tmp-{os.getpid()}"
    stale.mkdir()
    (stale / "cells.parquet").write_text("half")
    out = store_write_folder(tmp_path / "out", pd.DataFrame(_rows(0)), None, None, None, {})
    assert len(pd.read_parquet(out / "cells.parquet")) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_folder_writes_meta_values_json_cannot_hold_as_text(tmp_path):
    out = store_write_folder(tmp_path / "out", pd.DataFrame(_rows(0)), None, None, None,
                             {"source": Path("x/y"), "n": 1})
    assert json.loads((out / "meta.json").read_text()) == {"source": "x/y", "n": 1}


def test_write_folder_into_a_folder_that_is_not_empty_is_one_line(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("")
    with pytest.raises(BadInput) as e:
        store_write_folder(tmp_path / "out", pd.DataFrame(_rows(0)), None, None, None, {})
    # the system's reason, not the exception's whole text
    assert str(e.value) == f"cannot write to {tmp_path / 'out'}: {os.strerror(errno.ENOTEMPTY)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep"]
