"""The user-mode backends end to end on the real kernel: every supported kind is measured,
unsupported kinds say so, and a sensor that stops reading (SIGSTOP) loses events that the
harness reports, with the facility's own counter agreeing where it has one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from tests.helpers import ROOT, live_runs, needs_root, run_cells

pytestmark = needs_root

SUPPORTED = {
    "audit": {"proc_fork", "proc_exec", "proc_exit", "file_create", "file_write",
              "file_rename", "file_delete", "net_connect", "net_accept"},
    "fanotify": {"file_create", "file_write", "file_rename", "file_delete"},
    "inotify": {"file_create", "file_write", "file_rename", "file_delete"},
    "proc_connector": {"proc_fork", "proc_exec", "proc_exit"},
}


def _skip_unavailable(*names):
    from bench.backends import availability

    for n in names:
        why = availability(n)
        if why:
            pytest.skip(f"{n}: {why}")


@pytest.mark.parametrize("backend", list(SUPPORTED))
def test_each_at_1000_per_second(tmp_path, audit_exclusive, leaves_nothing, backend):
    _skip_unavailable(backend)  # each backend skips on its own, with its own reason
    kinds = SUPPORTED[backend]
    if backend == "audit":  # the same run test_audit_fastpath_live reads: made once
        _, cells = live_runs.audit_defaults()
    else:
        cells = run_cells(tmp_path, "-b", backend, "-w", "file,process,network",
                          "-r", "1000", "-d", "1", "--no-baseline")
    ok = cells[cells["status"] == "ok"]
    assert set(ok["kind"]) == kinds, cells[["kind", "status", "reason"]]
    assert (cells[~cells["kind"].isin(kinds)]["status"] == "unsupported").all()
    assert (ok["drop_rate"] < 0.01).all(), ok[["kind", "drop_rate"]]
    timed = ok[~ok["match_key"].str.contains("untimed", na=False)]  # audit's writes: none
    assert timed["latency_p50_us"].notna().all() and timed["latency_p99_us"].notna().all()
    assert (ok["sensor_cpu_pct"] > 0).all()
    assert (ok["parse_errors"] == 0).all()
    assert (ok["self_reported_lost"] == 0).all()
    if backend == "audit":
        assert (ok["helper_cpu_s"] >= 0).all()  # kauditd was found and measured


def _stalled_run(tmp_path, spec: str, workload: str, rate: str, duration: float,
                 stall_at: float, stall_s: float) -> pd.DataFrame:
    """``sensorbench run`` with the sensor SIGSTOPped for ``stall_s`` once the workload is
    ``stall_at`` seconds in, then SIGCONT."""
    out = tmp_path / "results"
    p = subprocess.Popen([sys.executable, "-m", "bench.cli", "run", "-b", spec, "-w", workload,
                          "-r", rate, "-d", str(duration), "--no-baseline", "--no-report",
                          "--out", str(out)],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sensor = None
        deadline = time.monotonic() + 60
        while sensor is None and time.monotonic() < deadline:
            for c in psutil.Process(p.pid).children(recursive=True):
                try:
                    cmd = " ".join(c.cmdline())
                except psutil.Error:
                    continue
                if "-m workloads" in cmd:  # the sensor was ready before the workload began
                    sensor = next(s for s in psutil.Process(p.pid).children()
                                  if "bench.harness.sensorhost" in " ".join(s.cmdline()))
            time.sleep(0.02)
        assert sensor is not None, "the cell never started"
        time.sleep(stall_at)
        sensor.send_signal(signal.SIGSTOP)
        time.sleep(stall_s)
        sensor.send_signal(signal.SIGCONT)
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return pd.read_csv(out / "cells.csv")


STALLS = [
    # spec, workload, rate, what the facility's counter is
    ("inotify", "file", "max", "overflow"),
    ("fanotify", "file", "max", "overflow"),
    ("proc_connector:rcvbuf_kb=16", "process", "2000", "exact"),
    ("audit:backlog_limit=64,backlog_wait_time=0,rcvbuf_kb=64", "process", "1000", "records"),
]


@pytest.mark.parametrize("spec,workload,rate,counter", STALLS, ids=[s[0].split(":")[0]
                                                                     for s in STALLS])
def test_a_stopped_consumer_loses_events_and_says_so(tmp_path, audit_exclusive,
                                                       leaves_nothing, spec, workload, rate,
                                                       counter):
    _skip_unavailable(spec.split(":")[0])
    cells = _stalled_run(tmp_path, spec, workload, rate, 3.0, 0.5, 1.5)
    ok = cells[cells["status"] == "ok"]
    assert len(ok), cells[["kind", "status", "reason"]]
    missed = int((ok["expected"] - ok["matched"]).sum())
    lost = int(ok["self_reported_lost"].iloc[0])
    assert missed > 0, ok[["kind", "expected", "matched"]]
    assert (ok["drop_rate"] > 0).any()
    if counter == "overflow":
        assert lost >= 1  # one overflow notification per overflow, however many were lost
    elif counter == "exact":
        # Sequence gaps count every lost message, ours and the rest of the machine's.
        assert lost >= missed
    else:
        # Audit: the sum of its loss paths (kernel 'lost' + queued at stop) is in records;
        # the kernel gives up on an event at its first lost record, so it is mostly one per
        # event, and the process rules are machine-wide: other processes' lost records
        # count too (lost > missed, by up to ~100 here while other work ran). What the
        # counter does not see is the other side: in 38 stalled cells on this machine
        # missed - lost was at most +6 of ~4400 misses (events missed with no record
        # counted, and no kernel log line either). counter_gap reports it, always.
        meta = json.loads((tmp_path / "results" / "meta.json").read_text())
        st = next(iter(meta["backend_stats"].values()))
        paths = st["lost_by_path"]
        assert set(paths) == {"kernel_lost", "queued_at_stop", "socket_overruns"}
        assert lost == paths["kernel_lost"] + paths["queued_at_stop"]
        gap = int(ok["counter_gap"].iloc[0])
        assert gap == missed - lost
        assert gap <= 10, (missed, lost, paths)


def test_audit_slows_the_workload_instead_of_dropping(tmp_path, audit_exclusive,
                                                      leaves_nothing):
    _skip_unavailable("audit")
    cells = _stalled_run(tmp_path, "audit:backlog_limit=256,backlog_wait_time=15000",
                         "process", "1000", 3.0, 0.5, 1.5)
    ok = cells[cells["status"] == "ok"]
    # Mostly no loss: records made where the kernel cannot sleep are still dropped (and
    # counted in 'lost'), we have seen one in 9000 here.
    assert (ok["drop_rate"] < 0.005).all(), ok[["kind", "drop_rate"]]
    # The workload's syscalls waited for queue room: open-loop latency shows the stall.
    assert (ok["latency_intended_p99_us"] > 500_000).all(), ok["latency_intended_p99_us"]
