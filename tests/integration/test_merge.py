"""merge: folders from several hosts in one plain-Parquet folder, a host per row."""

from __future__ import annotations

import json

import pandas as pd

from bench.publish import generate
from bench.results.rundata import RunData
from tests.helpers import cli_in_process
from tests.helpers.report_runs import copy, results


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


def _copy_as(tmp_path, name: str, machine_key: str | None):
    """A copy of a shared run whose meta.json says another machine key (None: none)."""
    return _copy_with(name, tmp_path / name, machine_key=machine_key)


def test_same_hostname_on_two_machines_stays_apart(tmp_path):
    a, b = _copy_as(tmp_path, "same_a", "aaaa"), _copy_as(tmp_path, "same_b", "bbbb")
    out = tmp_path / "m"
    cli_in_process("merge", str(a), str(b), "--out", str(out), check=True)
    hosts = pd.read_parquet(out / "cells.parquet")["host"].unique()
    assert len(hosts) == 2 and hosts[1] == f"{hosts[0]}#2"


def test_two_runs_of_one_machine_are_one_host(tmp_path):
    a, b = _copy_as(tmp_path, "same_a", "aaaa"), _copy_as(tmp_path, "same_b", "aaaa")
    out = tmp_path / "m"
    cli_in_process("merge", str(a), str(b), "--out", str(out), check=True)
    hosts = pd.read_parquet(out / "cells.parquet")["host"].unique()
    assert len(hosts) == 1 and "#" not in hosts[0]


def test_runs_without_a_machine_key_stay_apart(tmp_path):
    # folders written before the key existed: a shared hostname may be two machines
    a, b = _copy_as(tmp_path, "same_a", None), _copy_as(tmp_path, "same_b", None)
    out = tmp_path / "m"
    cli_in_process("merge", str(a), str(b), "--out", str(out), check=True)
    hosts = pd.read_parquet(out / "cells.parquet")["host"].unique()
    assert len(hosts) == 2


def test_merge_bad_input(tmp_path):
    r = cli_in_process("merge", str(results("same_a")), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "at least two" in r.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    r = cli_in_process("merge", str(results("same_a")), str(results("same_b")),
                    "--out", str(tmp_path / "full"))
    assert r.returncode == 2 and "not empty" in r.stderr and "Traceback" not in r.stderr
