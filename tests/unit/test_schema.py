"""The cells table's schema is declared once (bench.results.schema): every column has a type
and one line of meaning, the docs' column table is that declaration, and the store
writes tables in its order and types."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from bench.results import schema
from bench.results.store import ResultsDir, cells_frame
from tests.helpers import ROOT
from tests.helpers.constructed import cell_rows


def test_every_column_is_documented_exactly_once():
    documented = [n for names, _ in schema.DOCS for n in names]
    assert sorted(documented) == sorted(schema.DTYPES), (
        set(documented) ^ set(schema.DTYPES))


def test_docs_column_table_is_the_schema():
    text = (ROOT / "docs" / "methodology.md").read_text()
    m = re.search(r"<!-- columns:[^\n]*-->\n(.*?)<!-- /columns -->", text, re.S)
    assert m, "docs/methodology.md has no generated column table"
    assert m.group(1) == schema.markdown(), \
        "the column table of docs/methodology.md is out of date: paste " \
        "`python -m bench.results.schema`"


def test_tables_are_written_in_the_schemas_order_and_types():
    rows = [{"backend": "synthetic", "kind": "file_create", "expected": 10, "matched": "9",
             "drained": True, "latency_p50_us": 12, "a_newer_column": 1},
            {"backend": "ebpf", "kind": "proc_exec", "expected": None, "drop_rate": 0.5}]
    df = cells_frame(rows)
    assert list(df.columns) == [*schema.STORED, "a_newer_column"]
    for c, dtype in schema.DTYPES.items():
        if c in df.columns:
            assert str(df[c].dtype) == dtype, (c, df[c].dtype)
    assert df["matched"].iloc[0] == 9 and pd.isna(df["matched"].iloc[1])
    assert pd.isna(df["expected"].iloc[1]) and df["latency_p50_us"].iloc[0] == 12.0
    assert schema.undeclared(df.columns) == ["a_newer_column"]


def test_docs_scenario_table_is_the_schema():
    text = (ROOT / "docs" / "scenarios.md").read_text()
    m = re.search(r"<!-- scenario-columns:[^\n]*-->\n(.*?)<!-- /scenario-columns -->", text,
                  re.S)
    assert m, "docs/scenarios.md has no generated scenario column table"
    assert m.group(1) == schema.markdown(schema.SCENARIO_DOCS), \
        "the table of docs/scenarios.md is out of date: paste " \
        "`python -m bench.results.schema scenarios`"


def test_every_scenario_column_is_documented_exactly_once():
    documented = [n for names, _ in schema.SCENARIO_DOCS for n in names]
    declared = [c.name for c in schema.SCENARIO_COLUMNS]
    assert sorted(documented) == sorted(declared), set(documented) ^ set(declared)


def test_cols_declares_each_name_with_the_type():
    # COLUMNS is built by _cols when the module is imported; called here too, so that a
    # wrong _cols fails a test and not only the tables built from it
    assert schema._cols("Int64", "a", "b") == [schema.Column("a", "Int64"),
                                                schema.Column("b", "Int64")]
    assert schema._cols("string") == []


def test_est_declares_each_name_as_computed_with_the_type():
    # likewise for the estimates: a column marked computed is never stored (STORED) and
    # is marked † in the docs
    assert schema._est("float64", "a", "b") == [schema.Column("a", "float64", computed=True),
                                                  schema.Column("b", "float64", computed=True)]
    assert all(c.computed is True for c in schema._est("string", "x"))
    assert schema._est("string") == []


# -- the events and timeline tables ---------------------------------------------------------

def _written(tmp_path, name: str) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / f"{name}.parquet")


def _declared(df: pd.DataFrame, columns, dtypes: dict) -> None:
    """Every column ``df`` has is declared, in the declared order and type."""
    assert schema.undeclared(df.columns, dtypes) == []
    assert list(df.columns) == [c.name for c in columns if c.name in df.columns]
    for c in df.columns:
        assert str(df[c].dtype) == dtypes[c], (c, df[c].dtype)


def test_a_cells_event_rows_are_declared(tmp_path):
    """The rows a cell makes of its matched latencies (harness.cell.latency_frame), as the
    store writes them: a column added there and not declared fails here."""
    from bench.core.kinds import Kind
    from bench.core.settings import Spec
    from bench.harness.cell import Cell, latency_frame

    cell = Cell(0, 1, Spec("file"), "1000", 1.0, Spec("synthetic"))
    n = 4
    lat = {"kind": np.full(n, int(Kind.file_create), np.int16), "op": np.arange(n),
           "latency_ns": np.arange(n) + 1000, "latency_intended_ns": np.arange(n) + 1100,
           "delivery_ns": np.full(n, -1), "timed": np.array([True, True, False, True])}
    frame = latency_frame(cell, type("B", (), {"mode": "user"}), lat)
    assert schema.undeclared(frame.columns, schema.EVENT_DTYPES) == []
    res = ResultsDir(tmp_path)
    res.add_cell(cell_rows("synthetic", cell=cell.id), frame, None, cell.id)
    res.finalize()
    ev = _written(tmp_path, "events")
    _declared(ev, schema.EVENT_COLUMNS, schema.EVENT_DTYPES)
    assert len(ev) == 3 and list(ev["latency_ns"]) == [1000, 1001, 1003]   # timed only
    assert set(schema.EVENT_LATENCY) <= set(ev.columns)   # what RunData reads of it


def test_a_scenario_timeline_is_declared(tmp_path):
    from bench.analysis import timeline as tl
    from bench.analysis.correlate import Correlation
    from bench.core.kinds import Kind
    from bench.core.settings import Spec
    from bench.harness.cell import Cell
    from bench.scenario.cell import timeline_frame

    k, t0, ms = int(Kind.file_create), 10**9, 10**6
    t = t0 + np.arange(5) * ms
    truth = {"op": np.arange(5), "kind": np.full(5, k), "key": np.arange(5),
             "t_intended": t, "t_issue": t, "t_done": t + 1000}
    corr = Correlation(np.arange(5), np.arange(5), np.zeros(5, bool), np.zeros(5, bool))
    cols = tl.timeline(truth, {"t_seen": t + ms}, corr, frozenset({k}),
                       tl.Fault(t0 + 2 * ms, None, [(t0, "ready")], False), t0, t0 + 30 * ms)
    cell = Cell(0, 0, Spec("file"), "1000", 1.0, Spec("inotify"), scenario="crash")
    frame = timeline_frame(cell, "crash", cols)
    assert schema.undeclared(frame.columns, schema.TIMELINE_DTYPES) == []
    res = ResultsDir(tmp_path)
    res.add_cell(cell_rows("inotify", cell=cell.id), None, None, cell.id)
    res.add_scenario({"cell": cell.id, "scenario": "crash", "case": "crash"}, frame)
    res.finalize()
    _declared(_written(tmp_path, "timeline"), schema.TIMELINE_COLUMNS, schema.TIMELINE_DTYPES)


def test_an_undeclared_column_is_found_and_kept_after_the_declared():
    from bench.results.store import events_frame

    df = pd.DataFrame({"zz_new": [1], "latency_ns": [5], "cell": ["c"]})
    out = events_frame(df)
    assert list(out.columns) == ["cell", "latency_ns", "zz_new"]
    assert schema.undeclared(out.columns, schema.EVENT_DTYPES) == ["zz_new"]
