"""A folder of failure scenarios is a results folder like any other: report, compare and
merge read it. Built here through the store (no root, no sensor), so what is asserted is
the folder format and its readers, on a timeline whose numbers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.results.store import ResultsDir
from tests.helpers import cli_in_process


def _folder(path, outcome="sensor-crashed", blind=150.0, host="alpha", key="k1"):
    res = ResultsDir(path)
    res.write_meta({"machine": {"hostname": host, "machine_key": key, "cpu_model": "x",
                                "cpu_logical": 2, "kernel": "6"}, "warnings": []})
    cell = "crash~inotify|file|1000|0"
    res.add_cell([], None, None, cell)
    row = {"scenario": "crash", "case": "crash", "cell": cell, "backend": "inotify",
           "spec": "inotify", "mode": "user", "mechanism": "inotify",
           "workload_spec": "file", "rate_target": "1000", "status": "ok",
           "outcome": outcome, "blind_ms": blind, "down_ms": blind - 2, "crashed": True,
           "events_lost": 150, "events_expected": 3000, "workload_stall_ms": 1.0,
           "fault_at_ms": 1000.0, "target": "consumer"}
    t = np.arange(300) * 10
    lost = (t >= 1000) & (t < 1000 + blind)
    timeline = pd.DataFrame({
        "cell": cell, "spec": "inotify", "case": "crash", "t_ms": t, "intended": 10,
        "issued": 10, "expected": 10, "observed": np.where(lost, 0, 10),
        "seen": np.where(lost, 0, 10), "lag_ms": 0.1,
        "state": np.where(lost, "dead", "ready")})
    res.add_scenario(row, timeline)
    res.finalize()
    return path


def test_report_of_a_scenario_folder(tmp_path):
    d = _folder(tmp_path / "s")
    cli_in_process("report", str(d), "--markdown", str(d / "README.md"), check=True)
    html = (d / "report.html").read_text()
    assert "What happens when the sensor fails" in html and "sensor-crashed" in html
    assert "cannot run here" in html        # the 2024 failure, said plainly
    md = (d / "README.md").read_text()
    assert "| crash | `inotify` | user | file | sensor-crashed | 150 |" in md
    assert (d / "charts" / "scenario-crash.png").exists()


def test_compare_gates_a_worse_outcome(tmp_path):
    a = _folder(tmp_path / "a")
    same = cli_in_process("compare", str(a), str(_folder(tmp_path / "b")))
    assert same.returncode == 0, same.stdout + same.stderr
    worse = cli_in_process("compare", str(a), str(_folder(tmp_path / "c", outcome="host-impact")))
    assert worse.returncode == 1 and "sensor-crashed -> host-impact" in worse.stdout
    better = cli_in_process("compare", str(a), str(_folder(tmp_path / "d", outcome="no-loss")))
    assert better.returncode == 0 and "improvement" in better.stdout


def test_merge_keeps_scenarios_and_timelines(tmp_path):
    a = _folder(tmp_path / "a", host="alpha", key="k1")
    b = _folder(tmp_path / "b", host="beta", key="k2", blind=300.0)
    out = tmp_path / "m"
    cli_in_process("merge", str(a), str(b), "--out", str(out), check=True)
    sc = pd.read_parquet(out / "scenarios.parquet")
    assert sorted(sc["host"]) == ["alpha", "beta"] and sorted(sc["blind_ms"]) == [150, 300]
    tl = pd.read_parquet(out / "timeline.parquet")
    assert len(tl) == 600 and set(tl["host"]) == {"alpha", "beta"}
    cli_in_process("report", str(out), check=True)
    assert "inotify@beta" in (out / "report.html").read_text()
