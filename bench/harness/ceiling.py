"""The workload generator's own ceiling: each workload closed loop with no sensor, briefly.

The most operations per second a workload spec (its engine, threads, work directory) can
offer on this machine, measured the way a cell runs (its own process and cgroup, the same
work directory), so that a rate target above it is known to be out of the generator's
reach before any sensor is blamed for not reaching it. ``sensorbench run`` records it per
workload in ``meta.json`` (``generator_ceiling``, measured after the cells, so it takes
nothing from them); ``sensorbench doctor`` shows it for the default workloads.

One short burst on a shared machine is a sample, not a constant: the figure says what the
generator did then (``loadavg`` beside it says how busy the machine was).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

from bench.core.osapi import usable_cpus
from bench.core.settings import Spec
from bench.harness import container, workdir as workdir_mod
from bench.harness.cell import Cell, CellRunner

CEILING_S = 0.25


def measure(workloads: list[Spec], workdir: Path, scratch: Path, janitor=None,
            duration: float = CEILING_S, bursts: int = 1) -> dict:
    """``{"duration_s", "loadavg", "workloads": {spec text: entry}}``: each entry what the
    spec's closed loop did (``ops_per_s``, ``engine``, ``threads``, ``workdir_fs``,
    ``errors``), or its ``status`` and ``reason`` when it could not run. ``scratch`` takes
    the cells' logs (the caller removes it). With ``bursts`` > 1 the workloads take turns
    that many times and each keeps its fastest burst (``bursts_ops_per_s`` all of them):
    what the generator can reach, which one burst a neighbour held back understates."""
    runner = CellRunner(scratch, workdir, janitor=janitor)
    found: dict[str, dict] = {}
    runs: dict[str, list] = {}
    for b in range(bursts):
        for i, w in enumerate(workloads):
            # The file system's writes from the burst before are flushed first: left to
            # write back during the next burst, they held the process workload's spawns
            # to 1,200-1,900/s against 2,600-3,200/s after a flush (ext4, 2 CPUs).
            if hasattr(os, "sync"):
                os.sync()
            runs.setdefault(w.text, []).append(
                runner.run(Cell(i, b, w, "max", duration, None)).rows)
    for w in workloads:
        ok = [r for r in runs[w.text] if r[0]["status"] == "ok"]
        rows = max(ok, key=lambda r: float(r[0]["rate_achieved"])) if ok else runs[w.text][0]
        first = rows[0]
        entry = {"engine": first["workload_engine"], "threads": first["workload_threads"]}
        if first["status"] != "ok":
            entry.update(status=first["status"], reason=first["reason"])
        else:
            rate, ops = float(first["rate_achieved"]), int(first["ops"])
            cpu = float(first.get("workload_cpu_us_per_op", float("nan")))
            entry.update(ops_per_s=round(rate, 1), errors=int(first["workload_errors"]),
                         workdir_fs=first.get("workdir_fs", ""),
                         # the workload's own CPU (its cgroup) per operation
                         cpu_us_per_op=round(cpu, 2) if not math.isnan(cpu) else None,
                         # events of each kind per second (a network op is a TCP
                         # connect+accept or a UDP send)
                         kinds_per_s={r["kind"]: round(r["expected"] * rate / ops, 1)
                                      for r in rows} if ops else {})
            if bursts > 1:
                entry["bursts_ops_per_s"] = [round(float(r[0]["rate_achieved"]), 1)
                                             for r in ok]
        found[w.text] = entry
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    return {"duration_s": duration, "bursts": bursts, "loadavg": load, "workloads": found}


def for_doctor(native_built: bool) -> dict:
    """Each workload at its defaults (and, where the native engine is built, with a thread
    per CPU) in a scratch directory beside the default work directory (its file system),
    with a note saying how it was measured."""
    from bench.harness.spec import parse_workload
    from workloads import SYNTHETIC

    texts = list(SYNTHETIC)
    cpus = usable_cpus()
    if native_built and cpus > 1:
        texts += [f"{w}:engine=native,threads={cpus}" for w in SYNTHETIC]
    tmp = Path(tempfile.mkdtemp(prefix="sensorbench-doctor-",
                                dir=workdir_mod.default_base().parent))
    try:
        (tmp / "wd").mkdir()
        found = measure([parse_workload(t) for t in texts], tmp / "wd", tmp / "scratch")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        container.remove_parent_if_empty()
    return {**found, "note": f"{found['duration_s']:g} s each, load average "
                            f"{found['loadavg']}"}
