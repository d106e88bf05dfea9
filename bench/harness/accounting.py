"""What a cell's CPU cost readings are, and how they become its cost columns.

A cell reads CPU at fixed moments: the workload's schedule starts (``start``), its last
operation is done (``run_end``),
the start of the drain's quiet stretch (``quiet``) and the end of the drain (``end``). From
those readings:

- ``sensor_cpu_s``: the sensor's CPU from workload start to end of drain. Read from the
  sensor's own cgroup (µs of scheduler runtime) when it has one, else from its process tree
  (clock ticks). For a sensor that runs an external tool (``<sensor cgroup>/tool``), the
  sensor's CPU is the *tool's*; what our adapter spent parsing its output is
  ``adapter_cpu_s``, reported apart and never part of the sensor's cost.
- ``sensor_startup_cpu_s``: what the sensor used from its start to ready (a tool compiling
  its script, a consumer loading its programs): a cost of its own, outside the cell window.
- ``sensor_idle_cpu_pct``: the fixed cost, from the idle stretch after the drain (the
  sensor waiting as it would on an idle machine; a polling sensor polling). Not from the
  drain itself: there the harness asks for the event count every few milliseconds, and
  answering costs a Python host more than many sensors cost idle.
- ``sensor_marginal_us_per_event``: the rest of the sensor's CPU per matched event.
- ``workload_cpu_us_per_op``: the workload cgroup's CPU per operation (in-context costs
  land here: BPF programs, audit records built in the syscall, fsnotify).
- ``machine_busy_us_per_op``: the whole machine's busy CPU (``bench.core.cpu.MachineCpu``) over
  the workload's run, plus the sensor's own CPU after the run (catching up during the
  drain), minus our adapter's, per operation; with the /proc/stat split beside it. Its
  paired-block difference to the baseline is ``machine_cpu_us_per_op``, the total cost of
  sensing (``bench.harness.runner.apply_blocks``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from bench.harness import container
from bench.core.cpu import tree_cpu_s
from bench.core.osapi import usable_cpus

NAN = math.nan


@dataclass
class Reading:
    """CPU readings (seconds) of one moment; NaN where there is nothing to read."""

    t: float
    sensor: float = NAN
    tool: float = NAN


class SensorMeter:
    """Reads a sensor's CPU: its cgroup (and ``tool`` sub-cgroup) when it has one, else the
    process tree of its host."""

    def __init__(self, pid: int, cgroup_path: str | None):
        self.pid = pid
        self.path = cgroup_path
        self.tool_path = os.path.join(cgroup_path, "tool") if cgroup_path else None
        self.source = (container.NAME if container.usage_us(cgroup_path) is not None
                       else "process tree")

    def read(self) -> Reading:
        import time

        t = time.monotonic()
        if self.source == container.NAME:
            s, tl = container.usage_us(self.path), container.usage_us(self.tool_path)
            return Reading(t, s / 1e6 if s is not None else NAN,
                           tl / 1e6 if tl is not None else NAN)
        return Reading(t, tree_cpu_s(self.pid))


@dataclass
class CellCpu:
    """Everything a cell's cost columns are computed from."""

    start: Reading | None = None       # sensor ready, workload about to start
    run_end: Reading | None = None     # workload done
    end: Reading | None = None         # drain over
    idle_end: Reading | None = None    # after the idle stretch
    source: str = ""
    machine: dict = field(default_factory=dict)   # MachineCpu.delta over the run, µs
    machine_source: str = ""
    workload_us: float = NAN           # workload cgroup CPU over its run, µs
    run_s: float = NAN                 # the workload's run: schedule start to last op done


def _d(a: Reading | None, b: Reading | None, what: str) -> float:
    if a is None or b is None:
        return NAN
    return max(0.0, getattr(b, what) - getattr(a, what))


def columns(c: CellCpu, ops: int, matched: int | None) -> dict:
    """The cost columns of one cell (``matched`` None: a baseline cell, no sensor)."""
    per_op = (lambda us: us / ops if ops else NAN)
    m = c.machine
    out = {
        "workload_cpu_us_per_op": per_op(c.workload_us),
        "machine_user_us_per_op": per_op(m.get("user", NAN)),
        "machine_system_us_per_op": per_op(m.get("system", NAN)),
        "machine_irq_us_per_op": per_op(m.get("irq", NAN)),
        "machine_steal_us_per_op": per_op(m.get("steal", NAN)),
        # the share of the machine's CPU time the hypervisor took during the run
        "machine_steal_pct": 100 * m.get("steal", NAN) / (c.run_s * 1e6 * usable_cpus())
        if c.run_s and c.run_s == c.run_s else NAN,
        "machine_cpu_source": c.machine_source,
    }
    busy = m.get("busy", NAN)
    if matched is None:
        out["machine_busy_us_per_op"] = per_op(busy)
        return out
    has_tool = c.end is not None and c.end.tool == c.end.tool
    own = "tool" if has_tool else "sensor"
    cpu = _d(c.start, c.end, own)
    wall = c.end.t - c.start.t if c.start and c.end else NAN
    adapter = _d(c.start, c.end, "sensor") - cpu if has_tool else NAN
    # What the sensor did after the run (catching up) is part of the cost of sensing; our
    # adapter's parsing of a tool's output, during the run or after, is not.
    after = _d(c.run_end, c.end, own)
    adapter_run = (_d(c.start, c.run_end, "sensor") - _d(c.start, c.run_end, "tool")
                   if has_tool else 0.0)
    idle_s = c.idle_end.t - c.end.t if c.idle_end and c.end else NAN
    idle_pct = 100 * _d(c.end, c.idle_end, own) / idle_s if idle_s and idle_s > 0 else NAN
    marginal = cpu - idle_pct / 100 * wall if idle_pct == idle_pct else NAN
    out.update(
        sensor_cpu_s=cpu,
        sensor_cpu_pct=100 * cpu / wall if wall and wall > 0 else NAN,
        cpu_us_per_event=cpu * 1e6 / matched if matched else NAN,
        sensor_cpu_source=c.source + (" (tool)" if has_tool else ""),
        sensor_startup_cpu_s=getattr(c.start, own) if c.start else NAN,
        sensor_idle_cpu_pct=idle_pct,
        # may come out below zero when the sensor has nothing to do per event (noise)
        sensor_marginal_us_per_event=marginal * 1e6 / matched
        if matched and marginal == marginal else NAN,
        adapter_cpu_s=adapter,
        machine_busy_us_per_op=per_op(busy - adapter_run * 1e6 + after * 1e6),
    )
    return out
