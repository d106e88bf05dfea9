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
  answering costs a Python host more than many sensors cost idle. The stretch is read as
  ``IDLE_WINDOWS`` sub-windows, so the idle rate comes with a standard error
  (``sensor_idle_cpu_se_pct``).
- ``sensor_marginal_us_per_event``: the rest of the sensor's CPU per matched event, with
  a 95 % interval (``sensor_marginal_ci_low_us``, ``..._high_us``; ``marginal``). It is a
  difference of two measured quantities, so its point can fall below zero; the interval
  says whether the data tell it from zero at all.
- ``workload_cpu_us_per_op``: the workload cgroup's CPU per operation (in-context costs
  land here: BPF programs, audit records built in the syscall, fsnotify).
- ``machine_busy_us_per_op``: the whole machine's busy CPU (``bench.core.cpu.MachineCpu``) over
  the workload's run, plus the sensor's own CPU after the run (catching up during the
  drain), minus our adapter's, per operation; with the /proc/stat split beside it. Its
  paired-block difference to the baseline is ``machine_cpu_us_per_op``, the total cost of
  sensing (``bench.results.estimates``, when the results are read).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from bench.analysis.stats import t_quantile
from bench.harness import container
from bench.core.cpu import TREE_RESOLUTION_S, tree_cpu_s
from bench.core.osapi import usable_cpus

NAN = math.nan

# The idle stretch after the drain: IDLE_S seconds read as IDLE_WINDOWS sub-windows. Six
# give the idle rate a standard error with 5 degrees of freedom (t = 2.57); 0.3 s costs
# each sensor cell 0.2 s more than the single 0.1 s reading it replaces.
IDLE_S = 0.3
IDLE_WINDOWS = 6


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
        # how far the difference of two of its readings can be from the CPU really used
        self.resolution_s = (container.RESOLUTION_S if self.source == container.NAME
                             else TREE_RESOLUTION_S)

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
    # the ends of the idle stretch's sub-windows (the first starts at ``end``)
    idle: list[Reading] = field(default_factory=list)
    source: str = ""
    resolution_s: float = 0.0          # SensorMeter.resolution_s
    machine: dict = field(default_factory=dict)   # MachineCpu.delta over the run, µs
    machine_source: str = ""
    workload_us: float = NAN           # workload cgroup CPU over its run, µs
    run_s: float = NAN                 # the workload's run: schedule start to last op done


def _d(a: Reading | None, b: Reading | None, what: str) -> float:
    if a is None or b is None:
        return NAN
    return max(0.0, getattr(b, what) - getattr(a, what))


@dataclass(frozen=True)
class IdleRate:
    """The sensor's idle CPU rate (share of one core) over a stretch of ``n`` sub-windows
    of ``total_s`` seconds, and what its sub-windows say about its noise: ``sigma`` is the
    standard deviation of the idle CPU per √second (a sub-window of d seconds varies by
    sigma·√d), ``se`` the standard error of ``rate``. NaN where they cannot be known."""

    rate: float = NAN
    sigma: float = NAN
    total_s: float = NAN
    n: int = 0

    @property
    def se(self) -> float:
        return self.sigma / math.sqrt(self.total_s) if self.total_s > 0 else NAN


def idle_rate(readings: list[Reading], what: str) -> IdleRate:
    """The idle rate from readings at the ends of consecutive sub-windows: total CPU over
    total time. Each sub-window's CPU departs from ``rate`` × its length; their variance per
    second of window (CPU that comes in wake-ups and polls varies in proportion to the
    time watched) is ``sigma``², with n − 1 degrees of freedom."""
    pairs = [(a, b) for a, b in zip(readings, readings[1:]) if b.t > a.t]
    cpu = [_d(a, b, what) for a, b in pairs]
    if not pairs or any(math.isnan(x) for x in cpu):
        return IdleRate()
    lengths = [b.t - a.t for a, b in pairs]
    total = sum(lengths)
    rate = sum(cpu) / total
    n = len(pairs)
    if n < 2:
        return IdleRate(rate, NAN, total, n)
    var = sum((x - rate * d) ** 2 / d for x, d in zip(cpu, lengths)) / (n - 1)
    return IdleRate(rate, math.sqrt(var), total, n)


def marginal_cpu(cpu: float, wall: float, idle: IdleRate, resolution_s: float,
                 level: float = 0.95) -> tuple[float, float]:
    """The sensor's CPU above its idle cost over ``wall`` seconds (``cpu`` − rate × wall),
    and the half-width of its ``level`` interval. Two parts, added: the idle CPU the
    sensor would have used over the cell, predicted from the idle stretch, is uncertain by
    ``sigma``·√(wall·(1 + wall/T)) (the cell's own idle CPU varies as sigma·√wall, the rate
    it is predicted by as sigma/√T, scaled by wall; t quantile with n − 1 degrees of
    freedom); and every CPU difference is read to ``resolution_s`` only: the cell's CPU
    once, the idle stretch's total once more scaled by wall/T. A bound, not a noise, so
    added whole. NaN half-width without a standard error (fewer than two sub-windows)."""
    if math.isnan(cpu) or math.isnan(wall) or math.isnan(idle.rate):
        return NAN, NAN
    point = cpu - idle.rate * wall
    scale = wall / idle.total_s
    noise = t_quantile(idle.n - 1, level) * idle.sigma * math.sqrt(wall * (1 + scale))
    return point, noise + resolution_s * (1 + scale)


def columns(c: CellCpu, ops: int, matched: int | None) -> dict:
    """The cost columns of one cell (``matched`` None: a baseline cell, no sensor)."""
    def per_op(us: float) -> float:
        return us / ops if ops else NAN

    m = c.machine
    out = {
        "workload_cpu_us_per_op": per_op(c.workload_us),
        "machine_user_us_per_op": per_op(m.get("user", NAN)),
        "machine_system_us_per_op": per_op(m.get("system", NAN)),
        "machine_irq_us_per_op": per_op(m.get("irq", NAN)),
        "machine_steal_us_per_op": per_op(m.get("steal", NAN)),
        # the share of the machine's CPU time the hypervisor took during the run
        "machine_steal_pct": 100 * m.get("steal", NAN) / (c.run_s * 1e6 * usable_cpus())
        if c.run_s and not math.isnan(c.run_s) else NAN,
        "machine_cpu_source": c.machine_source,
    }
    busy = m.get("busy", NAN)
    if matched is None:
        out["machine_busy_us_per_op"] = per_op(busy)
        return out
    has_tool = c.end is not None and not math.isnan(c.end.tool)
    own = "tool" if has_tool else "sensor"
    cpu = _d(c.start, c.end, own)
    wall = c.end.t - c.start.t if c.start and c.end else NAN
    adapter = _d(c.start, c.end, "sensor") - cpu if has_tool else NAN
    # What the sensor did after the run (catching up) is part of the cost of sensing; our
    # adapter's parsing of a tool's output, during the run or after, is not.
    after = _d(c.run_end, c.end, own)
    adapter_run = (_d(c.start, c.run_end, "sensor") - _d(c.start, c.run_end, "tool")
                   if has_tool else 0.0)
    idle = idle_rate([c.end, *c.idle] if c.end else [], own)
    marginal, half = marginal_cpu(cpu, wall, idle, c.resolution_s)
    def per_event(s: float) -> float:
        return s * 1e6 / matched if matched else NAN

    out.update(
        sensor_cpu_s=cpu,
        sensor_cpu_pct=100 * cpu / wall if wall and wall > 0 else NAN,
        cpu_us_per_event=cpu * 1e6 / matched if matched else NAN,
        sensor_cpu_source=c.source + (" (tool)" if has_tool else ""),
        sensor_startup_cpu_s=getattr(c.start, own) if c.start else NAN,
        sensor_idle_cpu_pct=100 * idle.rate,
        sensor_idle_cpu_se_pct=100 * idle.se,
        # the point may come out below zero when the sensor has next to nothing to do per
        # event; its interval then holds zero, and the report says "not resolved"
        sensor_marginal_us_per_event=per_event(marginal),
        sensor_marginal_ci_low_us=per_event(marginal - half),
        sensor_marginal_ci_high_us=per_event(marginal + half),
        adapter_cpu_s=adapter,
        machine_busy_us_per_op=per_op(busy - adapter_run * 1e6 + after * 1e6),
    )
    return out
