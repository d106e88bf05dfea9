"""The cells table's schema is declared once (bench.results.schema): every column has a type
and one line of meaning, the docs' column table is that declaration, and the store
writes tables in its order and types."""

from __future__ import annotations

import re

import pandas as pd

from bench.results import schema
from bench.results.store import cells_frame
from tests.helpers import ROOT


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
