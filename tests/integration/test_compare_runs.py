"""compare: noise is not a regression, a deliberately slowed backend is; exit codes 0/1/2."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.helpers import cli_in_process
from tests.helpers.report_runs import copy, results


def run_compare(base, new, *args):
    r = cli_in_process("compare", str(base), str(new), *args)
    return r, r.returncode


def test_same_code_twice_is_not_a_regression(tmp_path):
    out = tmp_path / "cmp.json"
    r, code = run_compare(results("aa_base"), results("same_b"), "--json", str(out))
    assert code == 0, r.stdout + r.stderr
    assert "no regression" in r.stdout
    data = json.loads(out.read_text())
    assert data["exit_code"] == 0 and data["problems"] == []
    assert not [x for x in data["rows"] if x["verdict"] == "regression" and x["gated"]]
    # Every gated metric was actually compared (not silently skipped): it has a row with a
    # value on both sides.
    def finite(side):
        return side["value"] is not None and side["value"] == side["value"]

    compared = {x["metric"] for x in data["rows"]
                if x["gated"] and finite(x["base"]) and finite(x["new"])}
    assert {"latency_p50", "drop_rate", "cpu_us_per_event", "slowdown", "overhead"} <= compared
    # the p99 (the machine's tail) is compared and shown, not gated
    p99 = [x for x in data["rows"] if x["metric"] == "latency_p99"]
    assert p99 and all(finite(x["base"]) and finite(x["new"]) and not x["gated"] for x in p99)
    # the total cost of sensing is compared on its block interval too, without gating
    machine = [x for x in data["rows"] if x["metric"] == "machine_cpu"]
    assert machine and all(finite(x["base"]) and finite(x["new"]) and not x["gated"]
                           and x["base"]["lo"] < x["base"]["hi"] for x in machine)


def test_slowed_backend_is_a_regression(tmp_path):
    out = tmp_path / "cmp.json"
    r, code = run_compare(results("aa_base"), results("slowed"), "--json", str(out))
    assert code == 1, r.stdout + r.stderr
    assert "paired by backend name: synthetic (BASE) with synthetic:delay_us=20000" in r.stderr
    data = json.loads(out.read_text())
    reg = [x for x in data["rows"] if x["verdict"] == "regression" and x["metric"] == "latency_p99"]
    # 20 ms of injected delay shows on every network kind's p99, beyond both runs' noise.
    assert {x["kind"] for x in reg} == {"net_connect", "net_accept", "net_send"}
    for x in reg:
        assert x["new"]["lo"] > x["base"]["hi"]
        assert x["new"]["value"] > 20000 * 0.9   # µs: the injected 20 ms
    # And the reverse direction is an improvement, not a regression.
    r2, code2 = run_compare(results("slowed"), results("aa_base"))
    assert code2 == 0, r2.stdout + r2.stderr
    assert "improvement" in r2.stdout


def test_fail_on_selects_the_gate():
    # Gating only on drops: the slowed run drops nothing, so it passes.
    r, code = run_compare(results("aa_base"), results("slowed"), "--fail-on", "drop_rate=0.1")
    assert code == 0, r.stdout + r.stderr
    # Gating on p99 with a minimum effect bigger than the change (20 ms on ~1 ms) passes too;
    # with one that is smaller, it fails.
    r, code = run_compare(results("aa_base"), results("slowed"), "--fail-on", "latency_p99=50000%")
    assert code == 0, r.stdout + r.stderr
    r, code = run_compare(results("aa_base"), results("slowed"), "--fail-on", "latency_p99=50%")
    assert code == 1


@pytest.mark.parametrize("arg", ["nope=1", "latency_p99", "drop_rate=abc", "slowdown=5%",
                                 "drop_rate=-1"])
def test_bad_fail_on_is_one_line(arg):
    r, code = run_compare(results("aa_base"), results("same_b"), "--fail-on", arg)
    assert code == 2
    assert "--fail-on" in r.stderr and "Traceback" not in r.stderr


def test_missing_cells_cannot_compare(tmp_path):
    d = copy("same_b", tmp_path / "partial")
    cells = pd.read_parquet(d / "cells.parquet")
    cells = cells[~((cells["backend"] == "synthetic") & (cells["kind"] == "net_send"))]
    cells.to_parquet(d / "cells.parquet", index=False)
    r, code = run_compare(results("aa_base"), d)
    assert code == 2, r.stdout + r.stderr
    assert "net_send: not in NEW" in r.stderr and "--allow-missing" in r.stderr
    r, code = run_compare(results("aa_base"), d, "--allow-missing")
    assert code == 0, r.stdout + r.stderr


def test_different_machines_cannot_compare(tmp_path):
    d = copy("same_b", tmp_path / "other")
    meta = json.loads((d / "meta.json").read_text())
    meta["machine"]["cpu_model"] = "Some Other CPU"
    (d / "meta.json").write_text(json.dumps(meta))
    r, code = run_compare(results("aa_base"), d)
    assert code == 2 and "different machines" in r.stderr and "cpu_model" in r.stderr
    r, code = run_compare(results("aa_base"), d, "--cross-machine")
    assert code == 0, r.stdout + r.stderr
    assert "different machines" in r.stderr   # still said, as a warning


def test_failed_cell_in_new_is_a_regression(tmp_path):
    d = copy("same_b", tmp_path / "failed")
    cells = pd.read_parquet(d / "cells.parquet")
    m = cells["backend"] == "synthetic"
    cells.loc[m, "status"] = "failed"
    cells.loc[m, "reason"] = "sensor exited with code 1"
    cells.to_parquet(d / "cells.parquet", index=False)
    r, code = run_compare(results("aa_base"), d)
    assert code == 1, r.stdout + r.stderr
    assert "sensor exited with code 1" in r.stderr


def test_not_a_folder_is_one_line(tmp_path):
    r, code = run_compare(tmp_path / "x", results("aa_base"))
    assert code == 2 and "not a results folder" in r.stderr and "Traceback" not in r.stderr
