"""merge: folders from several hosts in one plain-Parquet folder, a host per row."""

from __future__ import annotations

import json

import pandas as pd

from bench.publish import generate
from bench.results.rundata import RunData
from tests.helpers import cli_in_process
from tests.helpers.report_runs import copy


def _copy_with(name: str, dest, **machine):
    """A private copy of a shared run whose meta.json says other machine facts."""
    d = copy(name, dest)
    meta = json.loads((d / "meta.json").read_text())
    meta["machine"].update(machine)
    (d / "meta.json").write_text(json.dumps(meta))
    return d


def _as_host(tmp_path, name, host):
    return _copy_with(name, tmp_path / host, hostname=host)


def test_merge_two_hosts(tmp_path):
    a, b = _as_host(tmp_path, "same_a", "alpha"), _as_host(tmp_path, "same_b", "beta")
    out = tmp_path / "fleet"
    cli_in_process("merge", str(a), str(b), "--out", str(out), check=True)
    cells = pd.read_parquet(out / "cells.parquet")        # plain Parquet
    ca, cb = pd.read_parquet(a / "cells.parquet"), pd.read_parquet(b / "cells.parquet")
    assert len(cells) == len(ca) + len(cb)
    assert cells.groupby("host").size().to_dict() == {"alpha": len(ca), "beta": len(cb)}
    assert {"source", "kernel", "cpu_model", "cpu_logical"} <= set(cells.columns)
    ev = pd.read_parquet(out / "events.parquet")
    assert set(ev["host"]) == {"alpha", "beta"}
    assert len(ev) == len(pd.read_parquet(a / "events.parquet")) + len(
        pd.read_parquet(b / "events.parquet"))
    meta = json.loads((out / "meta.json").read_text())
    assert [m["host"] for m in meta["merged_from"]] == ["alpha", "beta"]
    assert meta["merged_from"][0]["meta"]["plan"]["backends"] == ["synthetic"]
    # The merged folder is a results folder: the report shows one series per host.
    run = RunData.load(out)
    assert set(run.cells["series"]) == {"synthetic@alpha", "synthetic@beta"}
    g = generate(out, exports=False)
    text = g.report.read_text()
    assert "synthetic@alpha" in text and "synthetic@beta" in text
