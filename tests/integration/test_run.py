"""End to end through the CLI: results folder contents, failures, skips, resume, Ctrl-C."""

import json
import signal
import subprocess
import sys
import time

import pandas as pd

from bench.results.rundata import RunData
from bench.results.schema import CELL_COLUMNS, ESTIMATES, undeclared
from tests.helpers import ROOT, needs_root, run_cells, sensor_processes, start_cli
from tests.helpers.plugin_backends import PLUGINS


@needs_root
def test_full_run_writes_the_promised_folder(tmp_path, leaves_nothing):
    cells = run_cells(tmp_path, "-b", "synthetic:delay_us=100", "-w", "file,process,network",
                      "-r", "300", "-d", "0.5", "-n", "2")
    out = tmp_path / "results"
    for name in ("cells.parquet", "cells.csv", "events.parquet", "meta.json"):
        assert (out / name).exists(), name
    assert set(CELL_COLUMNS) <= set(cells.columns)
    stored = pd.read_csv(out / "cells.csv")
    assert undeclared(stored.columns) == []   # every column the harness wrote is declared
    # the rows hold what was measured: the estimates are computed when read
    assert not set(ESTIMATES) & set(stored.columns)
    assert stored.loc[stored["status"] == "ok", "op_time_ns"].notna().all()
    meta_run = json.loads((out / "meta.json").read_text())["run_id"]
    assert set(cells["run"]) == {meta_run}
    measured = cells[cells["backend"] == "synthetic"]
    assert set(measured["kind"]) == {"file_create", "file_write", "file_rename", "file_delete",
                                     "proc_fork", "proc_exec", "proc_exit", "net_connect",
                                     "net_accept", "net_send"}
    assert (measured["status"] == "ok").all()
    assert (measured["drop_rate"] == 0).all()
    assert measured["slowdown_pct"].notna().all()  # baselines were interleaved
    assert (measured["rate_achieved"] > 250).all()
    assert set(cells[cells["backend"] == "baseline"]["workload"]) == {"file", "process", "network"}
    ev = pd.read_parquet(out / "events.parquet")
    assert len(ev) == measured.groupby("cell")["matched"].sum().sum()
    assert (ev["latency_ns"] > 0).mean() > 0.99
    meta = json.loads((out / "meta.json").read_text())
    assert meta["machine"]["kernel"] and meta["plan"]["rates"] == ["300"]
    assert meta["backends"]["synthetic:delay_us=100"]["settings"]["delay_us"] == 100.0
    assert "warnings" in meta


def test_failures_and_skips_become_rows(tmp_path, leaves_nothing):
    cells = run_cells(tmp_path, "-b", "crashy,refuses,absent,synthetic", "-w", "network",
                      "-r", "200", "-d", "1.5", "--no-baseline",
                      env={"SENSORBENCH_BACKENDS": PLUGINS, "PYTHONPATH": str(ROOT)})
    st = {b: set(g) for b, g in cells.groupby("backend")["status"]}
    assert st == {"crashy": {"failed"}, "refuses": {"failed"}, "absent": {"skipped"},
                  "synthetic": {"ok"}}
    reason = cells.set_index("backend")["reason"].to_dict()
    assert "sensor exited with code 9" in reason["crashy"]
    assert "PermissionError: the kernel refused our mark" in reason["refuses"]
    assert reason["absent"] == "needs a facility this machine does not have"


def test_unsupported_workload_is_not_run(tmp_path):
    cells = run_cells(tmp_path, "-b", "psutil", "-w", "file", "-r", "100", "-d", "1",
                      "--no-baseline")
    assert (cells["status"] == "unsupported").all() and len(cells) == 4


def _start_run(out, *args):
    return start_cli("run", "--out", str(out), *args, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)


def test_ctrl_c_keeps_finished_cells_and_resume_completes(tmp_path, leaves_nothing):
    out = tmp_path / "r"
    args = ("-b", "synthetic", "-w", "file", "-r", "200", "-d", "1", "-n", "3", "--no-report")
    proc = _start_run(out, *args)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until at least two cells are written
        csv = out / "cells.csv"
        if csv.exists() and pd.read_csv(csv)["cell"].nunique() >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err
    kept = pd.read_csv(out / "cells.csv")["cell"].nunique()
    assert 2 <= kept < 6
    assert sensor_processes() == []
    run_id = json.loads((out / "meta.json").read_text())["run_id"]
    r = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--out", str(out), "--resume",
                        *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    done = pd.read_csv(out / "cells.csv")
    assert done["cell"].nunique() == 6 and not done.duplicated(["cell", "kind"]).any()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["resumed_at"] and meta["run_id"] == run_id     # one run, resumed
    # every block counts, those before the interruption and after it
    raw = RunData.load(out).raw
    assert (raw.loc[raw["backend"] == "synthetic", "blocks_used"] == 3).all()


def test_harness_killed_leaves_no_sensor(tmp_path):
    out = tmp_path / "k"
    proc = _start_run(out, "-b", "synthetic", "-w", "file", "-r", "200", "-d", "30",
                      "--no-baseline")
    deadline = time.time() + 30
    while time.time() < deadline and not sensor_processes():
        time.sleep(0.1)
    assert sensor_processes(), "sensor never started"
    time.sleep(1)
    proc.kill()  # SIGKILL: no cleanup code of the harness runs
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and sensor_processes():
        time.sleep(0.2)
    assert sensor_processes() == []  # parent-death signals took sensor and workload down
    from bench.harness.cgroup import clean_stale

    clean_stale()  # what the next run does first


def test_null_backend_runs_its_cells_and_reports_no_kind(tmp_path, leaves_nothing):
    cells = run_cells(tmp_path, "-b", "null_sensor", "-w", "file,network", "-r", "300",
                      "-d", "0.5", "-n", "2")
    null = cells[cells["backend"] == "null_sensor"]
    assert set(null["workload"]) == {"file", "network"}
    assert (null["status"] == "unsupported").all()
    assert (null["mode"] == "calibration").all()
    # The cell ran: a sensor process was measured and the workload compared to baseline.
    assert null["sensor_cpu_s"].notna().all() and null["slowdown_pct"].notna().all()
    assert (null["events_total"] == 0).all() and (null["rate_achieved"] > 250).all()
