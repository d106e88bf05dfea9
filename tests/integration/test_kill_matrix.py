"""Nothing survives us: kill -9 the harness, a sensor host or a workload in the middle of a
cell, for every backend that can run here, and check what is left.

Contract (docs/usage.md, "What is guaranteed after kill -9"): within 5 s of the harness's death no
process of ours runs, no BPF program of ours is loaded, the host's audit state (enabled,
failure, pid, limits, every rule) is what it was, no mount and no cgroup of ours remains,
and the run's work directory is gone. A killed sensor host or workload fails its cell with
a reason and the run goes on. Both workload engines: the native one (sb-load, threads, the
children it spawns, its memfd ledger) and the Python one.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from tests.helpers import ROOT, Snapshot, needs_root, sensor_processes
from workloads.native import load_missing

pytestmark = [pytest.mark.integration, needs_root]

# Every real backend, with a workload it sees. Each cell is long (30 s): it is killed well
# before its end.
MATRIX = {
    "ebpf": "file", "audit": "process", "fanotify": "file", "inotify": "file",
    "proc_connector": "process", "psutil": "process", "synthetic": "network",
    "null_sensor": "file", "injected_cost": "file",
    "auditd": "process", "fatrace": "file", "bpftrace": "process", "execsnoop": "process",
    "exitsnoop": "process", "opensnoop": "file", "forkstat": "process",
    "inotifywait": "file",
}
LIMIT_S = 5.0
# The native engine with two threads (pinned); the Python engine as the reference.
ENGINES = {"native": "engine=native,threads=2,pin=1", "python": "engine=python"}
WORKLOAD_PROCESS = ("-m workloads", "workloads/native/sb-load")  # before and after its exec


def _workload(name: str, engine: str) -> str:
    if engine == "native" and load_missing():
        pytest.skip(load_missing())
    return f"{name}:{ENGINES[engine]}"


def _start(out, workdir, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "run", "--out", str(out), "--workdir", str(workdir),
         "--no-baseline", "--no-report", *args],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _children(pid: int, *needles: str) -> list[psutil.Process]:
    found = []
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return found
    for c in kids:
        try:
            if any(n in " ".join(c.cmdline()) for n in needles):
                found.append(c)
        except psutil.Error:
            continue
    return found


def _wait_for_workload(proc: subprocess.Popen, timeout: float = 90.0) -> psutil.Process:
    """The workload process of the running cell: it starts once the sensor is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.stderr.read().decode()[-2000:]}")
        found = _children(proc.pid, *WORKLOAD_PROCESS)
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("the cell's workload never started")


def _available(name: str) -> None:
    from bench.backends import availability

    why = availability(name)
    if why:
        pytest.skip(f"{name}: {why}")


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("backend", list(MATRIX))
def test_harness_killed_mid_cell_leaves_nothing(tmp_path, audit_exclusive, backend, engine):
    _available(backend)
    workload = _workload(MATRIX[backend], engine)
    before = Snapshot()
    workdir = tmp_path / "wd"
    proc = _start(tmp_path / "out", workdir, "-b", backend, "-w", workload,
                  "-r", "500", "-d", "30")
    try:
        _wait_for_workload(proc)
        assert _children(proc.pid, "bench.harness.sensorhost"), "no sensor host under the harness"
        time.sleep(0.5)  # in the middle of the cell
    finally:
        proc.kill()  # SIGKILL: none of the harness's own clean-up runs
        proc.wait()
    _assert_cleaned(before, proc, workdir)


def _assert_cleaned(before, proc, workdir) -> None:
    """Within LIMIT_S of the harness's kill -9, nothing of the run is left, nor any run
    directory in its work directory."""
    took, left = before.wait_clean(LIMIT_S, owners_gone={proc.pid})
    print(f"clean {took:.2f} s after kill -9")
    assert left == [], f"{took:.1f} s after kill -9: " + "; ".join(left)
    runs = list(workdir.glob("run-*")) if workdir.exists() else []
    assert runs == [], f"work directory left: {runs}"


def _programs(prefix: str) -> set[str]:
    """Ids of the loaded BPF programs whose name starts with ``prefix``."""
    r = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True)
    return {m.group(1) for m in re.finditer(rf"^(\d+): \S+\s+name {prefix}", r.stdout, re.M)}


def _wait_for_child(proc: subprocess.Popen, what: str, match, timeout: float = 90.0
                    ) -> psutil.Process:
    """The first process under the harness for which ``match`` holds, polled every 10 ms
    (a recipe's step may be short)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.stderr.read().decode()[-2000:]}")
        try:
            kids = psutil.Process(proc.pid).children(recursive=True)
        except psutil.Error:
            kids = []
        for c in kids:
            try:
                if match(c):
                    return c
            except psutil.Error:
                continue
        time.sleep(0.01)
    raise AssertionError(f"{what} never ran under the harness")


def _gone(p: psutil.Process) -> bool:
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_harness_killed_mid_recipe_leaves_nothing(tmp_path, audit_exclusive):
    """An application recipe's cell: its inputs made beforehand by a process of their own,
    the counted truth's BPF programs (c_*) attached beside the sensor's, and ``download``
    running: curl, a child of the workload process, fetching from an HTTP server thread of
    the workload process. Killed while curl runs, nothing of it remains."""
    _available("ebpf")
    from bench.harness import counter

    if counter.missing():
        pytest.skip(counter.missing())
    if shutil.which("curl") is None:
        pytest.skip("needs curl (Debian package curl)")
    before = Snapshot()
    counting_before = _programs("c_")
    workdir = tmp_path / "wd"
    # scale 10: 200 files, about a second of curl
    proc = _start(tmp_path / "out", workdir, "-b", "ebpf", "-w", "download:scale=10")
    try:
        # the recipe's run (its inputs' process, `-m workloads download --prepare`, is
        # done by then): the counter was attached before it started
        runner = _wait_for_child(proc, "the recipe's workload process",
                                 lambda c: c.cmdline()[1:] == ["-m", "workloads", "-"])
        counting = _programs("c_") - counting_before
        assert counting, "the counter's programs are not loaded while the recipe runs"
        curl = _wait_for_child(proc, "curl", lambda c: c.name() == "curl")
        assert not _gone(curl) and not _gone(runner)
        assert _children(proc.pid, "bench.harness.sensorhost"), "no sensor host under the harness"
    finally:
        proc.kill()  # SIGKILL: none of the harness's own clean-up runs
        proc.wait()
    _assert_cleaned(before, proc, workdir)
    assert _gone(curl) and _gone(runner)
    assert not counting & _programs("c_"), "the counter's programs are still loaded"


def _cells(out) -> pd.DataFrame:
    return pd.read_csv(out / "cells.csv")


def _kill_mid_cell(out, workdir, victim, *args) -> subprocess.Popen:
    """Run the harness; once a cell's workload runs, SIGKILL ``victim(harness, workload)``
    (a psutil process) 0.3 s in, well inside its 1.5 s, and let the run finish; returns
    the finished harness."""
    proc = _start(out, workdir, *args)
    try:
        wl = _wait_for_workload(proc)
        time.sleep(0.3)
        victim(proc, wl).send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()[-2000:]
    return proc


@pytest.mark.parametrize("backend", ["audit", "ebpf", "null_sensor"])
def test_sensor_host_killed_fails_its_cell_and_the_run_goes_on(tmp_path, audit_exclusive,
                                                               leaves_nothing, backend):
    _available(backend)
    out = tmp_path / "out"

    def sensor_host(harness, workload):
        host = _children(harness.pid, "bench.harness.sensorhost")
        assert host and backend in " ".join(host[0].cmdline())[:200]
        return host[0]

    _kill_mid_cell(out, tmp_path / "wd", sensor_host, "-b", f"{backend},synthetic",
                   "-w", "process", "-r", "300", "-d", "1.5")
    cells = _cells(out)
    mine = cells[cells["backend"] == backend]
    assert (mine["status"] == "failed").all(), mine[["kind", "status", "reason"]]
    assert mine["reason"].str.contains("killed by signal 9").all(), mine["reason"].iloc[0]
    other = cells[cells["backend"] == "synthetic"]
    assert (other["status"] == "ok").all(), other[["kind", "status", "reason"]]


@pytest.mark.parametrize("engine", list(ENGINES))
def test_workload_killed_fails_its_cell_and_the_sensor_stops_cleanly(tmp_path, audit_exclusive,
                                                                     leaves_nothing, engine):
    _available("audit")
    out = tmp_path / "out"
    _kill_mid_cell(out, tmp_path / "wd", lambda harness, workload: workload,
                   "-b", "audit,synthetic", "-w", _workload("process", engine), "-r", "300",
                   "-d", "1.5")
    cells = _cells(out)
    audit = cells[cells["backend"] == "audit"]
    assert (audit["status"] == "failed").all()
    assert audit["reason"].str.contains(r"workload process\S* was killed by signal 9").all(), \
        audit["reason"].iloc[0]
    assert (cells[cells["backend"] == "synthetic"]["status"] == "ok").all()
    # The audit sensor was stopped the normal way (it undid its rules itself), not killed.
    log = next((out / "logs").glob("*-audit-*sensor.log")).read_text()
    assert "stopped on eof" in log and "aborting" not in log, log


def test_killed_run_keeps_its_cells_and_resume_completes_it(tmp_path, leaves_nothing):
    out = tmp_path / "out"
    args = ("-b", "synthetic", "-w", "network", "-r", "200", "-d", "1", "-n", "3")
    proc = _start(out, tmp_path / "wd", *args)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            csv = out / "cells.csv"
            if csv.exists() and _cells(out)["cell"].nunique() >= 1:
                break
            time.sleep(0.05)
        _wait_for_workload(proc)  # the next cell is under way
    finally:
        proc.kill()
        proc.wait()
    kept = _cells(out)
    assert 1 <= kept["cell"].nunique() < 3 and (kept["status"] == "ok").all()
    assert pd.read_parquet(out / "cells.parquet")["cell"].nunique() == kept["cell"].nunique()
    r = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--out", str(out),
                        "--workdir", str(tmp_path / "wd"), "--no-baseline", "--no-report",
                        "--resume", *args], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    done = _cells(out)
    assert done["cell"].nunique() == 3 and not done.duplicated(["cell", "kind"]).any()
    assert (done["status"] == "ok").all()
    assert sensor_processes() == []
