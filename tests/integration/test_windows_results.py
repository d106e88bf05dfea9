"""A Windows run and a Linux run have the same columns, and merge into one report.

No Windows machine runs here, so the Windows folder is written the way a Windows run
writes it, by the same code: rows from the analysis every cell goes through (``correlate``,
``matched_latencies``, ``per_kind``, ``op_times``, the cost columns of
``bench.harness.accounting``), stored cell by cell by ``bench.results.store.ResultsDir``,
then ``finalize`` and ``meta.json`` with machine facts that say Windows (this machine's
own fact keys, Windows values). Only the ground truth and the events are generated: what
the Windows workloads would record (no ``proc_fork``: CreateProcess has no fork) and what
``etw`` (mode user) and ``sysmon`` (mode kernel) would report of it, each leaving the kinds
it cannot see ``unsupported``. The Linux folder is a real run
(``tests.helpers.report_runs``). Both are merged and reported through the CLI, as a user
would.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from bench.analysis.blocks import cell_mean
from bench.analysis.correlate import correlate
from bench.analysis.metrics import (matched_latencies, op_times, per_kind,
                                    schedule_lag_growth_ms)
from bench.core.kinds import FILE_KINDS, NET_KINDS, Kind, port_pair
from bench.harness import accounting, machine
from bench.results.rundata import RunData
from bench.results.store import ResultsDir
from tests.helpers import sensorbench
from tests.helpers.report_runs import results

WIN_HOST = "winrunner"
RATE, DURATION, REPEATS = "200", 1.0, 2
OPS = int(float(RATE) * DURATION)          # 200 a cell: a block needs 100
WORKLOADS = ("file", "process", "network")
PROC_KINDS_WINDOWS = frozenset({Kind.proc_exec, Kind.proc_exit})   # no fork event there
WORKLOAD_KINDS = {"file": FILE_KINDS, "process": PROC_KINDS_WINDOWS, "network": NET_KINDS}

# The Windows backends and the modes they must be registered with (their classes load on
# any platform; only their Windows facilities wait for start()).
BACKENDS = {"etw": "user", "sysmon": "kernel"}
# Windows values for this machine's fact keys (bench.harness.machine.facts).
WINDOWS_FACTS = {
    "hostname": WIN_HOST, "machine_key": "5e1f0c0ffee1", "os": "Windows",
    "kernel": "10.0.20348", "machine": "AMD64",
    "cpu_model": "AMD EPYC 7763 64-Core Processor", "cpu_logical": 4, "cpu_physical": 2,
    "governor": None, "virtualized": "Microsoft Corporation", "memory_gb": 16.0,
    "root": True, "cgroup_v2": None, "cgroup_writable": False, "btf": False,
    "tracefs": False, "loadavg": None,
}


def _backend(name: str) -> tuple[str, str, frozenset]:
    from bench import backends

    cls = backends.get(name)
    assert cls.mode == BACKENDS[name], f"{name} is registered with mode {cls.mode}"
    return cls.mode, cls.mechanism, frozenset(cls.kinds)


def _truth(workload: str, cell_no: int, marker: str, rng) -> dict:
    """The ledger of one cell as a Windows workload records it: OPS operations on the
    open-loop schedule, one row per kind of each, keyed as on Linux."""
    kinds = sorted(WORKLOAD_KINDS[workload])
    t0 = 10**12 + cell_no * 5 * 10**9
    intended = t0 + np.arange(OPS, dtype=np.int64) * int(1e9 / float(RATE))
    issue = intended + rng.integers(5_000, 60_000, OPS)
    service = {"file": (150_000, 400_000), "process": (6_000_000, 15_000_000),
               "network": (120_000, 300_000)}[workload]
    done = issue + rng.integers(*service, OPS)
    cols = {c: [] for c in ("op", "kind", "key", "t_intended", "t_issue", "t_done", "path")}
    base = rf"C:\Users\runneradmin\AppData\Local\Temp\sensorbench-0\{marker}"
    for op in range(OPS):
        for j, k in enumerate(kinds):
            if workload == "file":
                key, path = 0, base + (rf"\f{op}.renamed" if k in (Kind.file_rename,
                                                                   Kind.file_delete)
                                       else rf"\f{op}")
            elif workload == "process":
                key, path = 4000 + 4 * op, None
            else:
                key, path = port_pair(50_000 + op, 40_000), None
            step = (done[op] - issue[op]) * j // len(kinds)
            cols["op"].append(op)
            cols["kind"].append(int(k))
            cols["key"].append(key)
            cols["t_intended"].append(intended[op])
            cols["t_issue"].append(issue[op] + step)
            cols["t_done"].append(done[op])
            cols["path"].append(path)
    out = {c: np.asarray(v, dtype=np.int64) for c, v in cols.items() if c != "path"}
    out["path"] = np.array(cols["path"], dtype=object)
    return out


def _events(truth: dict, kinds: frozenset, median_us: float, drop: float, rng) -> dict:
    """What the backend reports of ``truth``: the kinds it sees, some lost, QPC kernel time
    stamps (ETW's, one clock with t_seen)."""
    seen = np.isin(truth["kind"], [int(k) for k in kinds]) & (rng.random(len(truth["op"])) >= drop)
    n = int(seen.sum())
    t_issue = truth["t_issue"][seen]
    lat = (rng.lognormal(np.log(median_us), 0.5, n) * 1e3).astype(np.int64)
    return {"kind": truth["kind"][seen].astype(np.int16), "key": truth["key"][seen],
            "path": truth["path"][seen], "pid": np.full(n, 4321, np.int64),
            "t_seen": t_issue + lat, "t_kernel": t_issue + rng.integers(2_000, 9_000, n)}


def _cpu(ops: int, sensor_s: float | None, rng) -> accounting.CellCpu:
    """The cell's CPU readings as the Windows harness takes them (the Job Objects' CPU)."""
    c = accounting.CellCpu(source="job object", machine_source="GetSystemTimes",
                           workload_us=ops * rng.uniform(90, 140), run_s=DURATION)
    busy = ops * rng.uniform(300, 400) + (sensor_s or 0) * 1e6
    c.machine = {"busy": busy, "user": busy * 0.6, "system": busy * 0.4, "irq": np.nan,
                 "steal": np.nan}
    if sensor_s is not None:
        c.start = accounting.Reading(0.0, 0.08)
        c.run_end = accounting.Reading(DURATION, 0.08 + sensor_s * 0.9)
        c.end = accounting.Reading(DURATION + 0.2, 0.08 + sensor_s)
        c.idle = [accounting.Reading(DURATION + 0.2 + 0.05 * i, 0.08 + sensor_s + 0.00025 * i)
                  for i in (1, 2)]
    return c


def _base_row(cell: str, backend: str, mode: str, mechanism: str, workload: str, rep: int,
              block: str, baseline: str) -> dict:
    # the columns bench.harness.cell._base_row gives every row of a cell
    return {"cell": cell, "backend": backend, "spec": backend, "mode": mode,
            "mechanism": mechanism, "workload": workload, "workload_spec": workload,
            "rate_target": RATE, "repeat": rep, "duration_s": DURATION, "block": block,
            "baseline_cell": baseline, "arrivals": "poisson", "scenario": ""}


def _cell(res: ResultsDir, cell: str, backend: str | None, workload: str, rep: int,
          baseline: str, cell_no: int, rng) -> dict:
    """One cell's rows, events and per-operation times, committed as a run commits them;
    returns its backend statistics."""
    marker = f"sb{cell_no:08x}"
    truth = _truth(workload, cell_no, marker, rng)
    closed = RATE == "max"
    common_extra = {"rate_achieved": float(RATE) * rng.uniform(0.97, 1.0), "ops": OPS,
                    "workload_errors": 0, "workload_cpu_pct": rng.uniform(5, 12),
                    "cgroup": True, "marker": marker,
                    "schedule_lag_growth_ms": schedule_lag_growth_ms(truth, closed),
                    "op_time_ns": cell_mean(op_times(truth, closed))}
    if backend is None:
        common = _base_row(cell, "baseline", "none", "none", workload, rep, "", "")
        common.update(common_extra, **accounting.columns(_cpu(OPS, None, rng), OPS, None))
        rows = [dict(common, kind=Kind(k).name, status="ok", reason="",
                     expected=int((truth["kind"] == k).sum()))
                for k in sorted(set(int(x) for x in np.unique(truth["kind"])))]
        res.add_cell(rows, None, op_times(truth, closed), cell)
        return {}
    mode, mechanism, kinds = _backend(backend)
    median_us, drop = (900.0, 0.002) if backend == "etw" else (2500.0, 0.0)
    events = _events(truth, kinds, median_us, drop, rng)
    corr = correlate(truth, events, marker)
    lat = matched_latencies(truth, events, corr)
    per = per_kind(truth, events, corr, kinds, lat)
    lost = sum(int(r["expected"]) - int(r["matched"]) for r in per if r["status"] == "ok")
    stats = ({"self_reported_lost": lost, "events_lost": lost, "realtime_buffers_lost": 0,
              "buffer_kb": 64, "buffers": 64} if backend == "etw" else
             {"self_reported_lost": 0, "sysmon_version": "15.15",
              "config_sha256": "0f3c" * 16})
    common = _base_row(cell, backend, mode, mechanism, workload, rep, cell, baseline)
    n_matched = len(corr.event_idx)
    common.update(common_extra, unmatched_other_kinds=0, events_total=len(events["kind"]),
                  **accounting.columns(_cpu(OPS, n_matched * 40e-6, rng), OPS, n_matched),
                  kernel_ns_per_event=np.nan, helper_cpu_s=np.nan, parse_errors=0,
                  self_reported_lost=stats["self_reported_lost"],
                  sensor_rss_mb=rng.uniform(30, 60), drained=True,
                  counter_gap=lost - stats["self_reported_lost"])
    rows = [dict(common, **k) for k in per]
    timed = lat["timed"]
    ev = pd.DataFrame({
        "cell": cell, "backend": backend, "spec": backend, "mode": mode,
        "workload": workload, "workload_spec": workload, "rate_target": RATE, "repeat": rep,
        "kind": pd.Categorical.from_codes(lat["kind"][timed] - 1, [k.name for k in Kind]),
        "op": lat["op"][timed], "latency_ns": lat["latency_ns"][timed],
        "latency_intended_ns": lat["latency_intended_ns"][timed],
        "delivery_ns": lat["delivery_ns"][timed]})
    res.add_cell(rows, ev, op_times(truth, closed), cell)
    return stats


def windows_folder(path) -> ResultsDir:
    """A results folder as `sensorbench run -b etw,sysmon -w file,process,network -r 200
    -d 1 -n 2` on a Windows runner writes it."""
    rng = np.random.default_rng(15)
    facts = machine.facts()
    unknown = set(WINDOWS_FACTS) - set(facts)
    assert not unknown, f"machine.facts() has no {unknown}: update WINDOWS_FACTS"
    facts.update(WINDOWS_FACTS)
    res = ResultsDir(path)
    res.write_meta({
        "machine": facts, "warnings": [], "started": "2025-01-06T03:17:00+0000",
        "plan": {"backends": list(BACKENDS), "workloads": list(WORKLOADS), "rates": [RATE],
                 "duration_s": DURATION, "repeat": REPEATS, "arrivals": "poisson",
                 "baseline": True, "baselines": "one between two sensor cells"},
        "rules": {"overhead_limit_pct": 100.0},
        "backends": {n: {"name": n, "settings": {}, "mode": _backend(n)[0],
                         "mechanism": _backend(n)[1]} for n in BACKENDS},
    })
    stats, n = {}, 0
    for rep in range(REPEATS):
        for wl in WORKLOADS:
            # sensor, baseline, sensor: one baseline between the two sensors' cells
            base = f"baseline~{'+'.join(BACKENDS)}|{wl}|{RATE}|{rep}"
            for backend in (list(BACKENDS)[0], None, list(BACKENDS)[1]):
                cell = base if backend is None else f"{backend}|{wl}|{RATE}|{rep}"
                s = _cell(res, cell, backend, wl, rep, base, n, rng)
                if s:
                    stats[cell] = s
                n += 1
    res.finalize()
    res.write_meta({"backend_stats": stats, "interrupted": False,
                    "finished": "2025-01-06T03:18:00+0000"})
    return res


def test_windows_and_linux_results_have_the_same_columns_and_merge_into_one_report(tmp_path):
    linux = results("same_a")
    win = windows_folder(tmp_path / "windows").path

    # the same columns, in the same order and of the same types
    cols_l = pd.read_csv(linux / "cells.csv", nrows=0).columns.tolist()
    cols_w = pd.read_csv(win / "cells.csv", nrows=0).columns.tolist()
    assert cols_w == cols_l
    assert pq.read_schema(win / "cells.parquet").remove_metadata() == \
        pq.read_schema(linux / "cells.parquet").remove_metadata()
    assert pq.read_schema(win / "events.parquet").names == \
        pq.read_schema(linux / "events.parquet").names
    meta_l = json.loads((linux / "meta.json").read_text())
    meta_w = json.loads((win / "meta.json").read_text())
    assert set(meta_w["machine"]) == set(meta_l["machine"])

    cells = pd.read_csv(win / "cells.csv")
    sensors = cells[cells["backend"] != "baseline"]
    assert dict(zip(sensors["backend"], sensors["mode"])) == {"etw": "user", "sysmon": "kernel"}
    assert set(cells["workload"]) == set(WORKLOADS)
    assert "proc_fork" not in set(cells["kind"])
    # each measured row has its paired-block overhead when read, as a real run's
    raw = RunData.load(win).raw
    ok = raw[(raw["backend"] != "baseline") & (raw["status"] == "ok")]
    assert ok["blocks_used"].eq(REPEATS).all() and ok["overhead_ns_per_op"].notna().all()
    assert (sensors.loc[sensors["backend"] == "sysmon", "status"] == "unsupported").any()

    # merge + report, through the CLI
    out = tmp_path / "fleet"
    sensorbench("merge", str(linux), str(win), "--out", str(out), check=True)
    merged = pd.read_parquet(out / "cells.parquet")
    lin_host = meta_l["machine"]["hostname"]
    assert merged.groupby("host").size().to_dict() == {
        lin_host: len(pd.read_csv(linux / "cells.csv")), WIN_HOST: len(cells)}
    by_host = merged.groupby("host")
    assert set(by_host.get_group(WIN_HOST)["kernel"]) == {"10.0.20348"}
    assert {"etw", "sysmon", "baseline"} == set(by_host.get_group(WIN_HOST)["backend"])
    assert "synthetic" in set(by_host.get_group(lin_host)["backend"])
    assert {"ebpf", "etw"}.isdisjoint(set(by_host.get_group(lin_host)["backend"]))

    r = sensorbench("report", str(out), check=True)
    assert "Traceback" not in r.stderr
    html = (out / "report.html").read_text()
    for name in (f"etw@{WIN_HOST}", f"sysmon@{WIN_HOST}", f"synthetic@{lin_host}",
                 WIN_HOST, lin_host, "Windows", "10.0.20348"):
        assert name in html, f"the merged report does not name {name}"
    bench_json = json.loads((out / "github-benchmark.json").read_text())
    names = " ".join(e["name"] for e in bench_json)
    assert f"etw@{WIN_HOST}" in names and f"sysmon@{WIN_HOST}" in names \
        and f"synthetic@{lin_host}" in names

    # the Windows folder alone reports as Windows
    sensorbench("report", str(win), "--no-exports", check=True)
    assert f"{WIN_HOST} · Windows 10.0.20348" in (win / "report.html").read_text()
