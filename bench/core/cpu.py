"""CPU and memory accounting: sensor process trees (psutil), and the whole machine.

A sensor's cost is its whole process tree: an external tool may fork helpers. CPU is read
as user+system of the process and its live descendants, plus what reaped children left in
``children_user/system``; the cell's number is the difference of two snapshots. (Where a
sensor has a cgroup of its own, ``bench.harness.cgroup.usage_us`` is read instead: microseconds of
scheduler runtime rather than clock ticks.)

The whole machine (``MachineCpu``): the total cost of sensing includes what no process
tree shows (kernel threads such as kauditd, IPIs, softirqs). ``/proc/stat`` splits it into
user, system, irq, softirq and steal, but only in clock ticks (10 ms: on a 0.5 s cell of
500 operations one tick is 20 µs per operation) and, on a tick-accounting kernel, sampled
at the scheduler tick. Where cpuidle exposes per-state idle residency (microseconds), busy
time is read from there instead: wall time minus idle time, per CPU. The residency of an
idle period is only added when the CPU leaves it, so each CPU is read from a thread moved
onto that CPU (which wakes it): the read then includes every idle period so far.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import psutil
from bench.core.clock import now_ns


def _tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_s(pid: int, gone: float = 0.0) -> float:
    """user + system seconds of ``pid`` and its descendants so far (``gone`` if it is gone;
    a descendant that goes while being read is left out)."""
    procs = _tree(pid)
    if not procs:
        return gone
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


# /proc/stat's cpu line: user nice system idle iowait irq softirq steal (guest is in user)
_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
try:
    _TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    _TICK_US = 1e4
# How far the difference of two ``tree_cpu_s`` readings can be from the CPU really used:
# user and system time each count whole clock ticks, so each can be a tick off.
TREE_RESOLUTION_S = 2 * _TICK_US / 1e6
# The same, per CPU source a cell records (``sensor_cpu_source``, which may end in
# " (tool)"): a cgroup's ``usage_usec`` counts whole microseconds; a Job Object's times,
# in 100 ns units, advance with the clock interrupt (15.625 ms by default), so a
# difference of two readings is within one interrupt of each.
RESOLUTION_S = {"cgroup": 1e-6, "job object": 2 * 0.015625, "process tree": TREE_RESOLUTION_S}


def resolution_s(source: str) -> float:
    """``RESOLUTION_S`` of a recorded CPU source (a process tree's when unknown)."""
    return next((v for k, v in RESOLUTION_S.items() if source.startswith(k)),
                TREE_RESOLUTION_S)


def _proc_stat_us() -> dict[str, float]:
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return _psutil_times_us()
    return {k: int(v) * _TICK_US for k, v in zip(_STAT_FIELDS, parts[1:])}


def _psutil_times_us() -> dict[str, float]:
    """/proc/stat's split where there is no /proc (Windows: GetSystemTimes and the
    processor performance counters, through psutil): interrupts count as irq, deferred
    procedure calls as softirq. No steal: Windows does not report it."""
    t = psutil.cpu_times()._asdict()
    names = {"user": "user", "nice": "nice", "system": "system", "idle": "idle",
             "irq": "interrupt", "softirq": "dpc"}
    return {k: t[v] * 1e6 for k, v in names.items() if v in t}


def _idle_paths() -> dict[int, list[str]]:
    """cpu -> its cpuidle residency files; {} when any online CPU has none."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return {}
    out = {k: glob.glob(f"/sys/devices/system/cpu/cpu{k}/cpuidle/state*/time") for k in cpus}
    return out if out and all(out.values()) else {}


@dataclass(frozen=True)
class MachineSnapshot:
    stat_us: dict          # /proc/stat fields, µs (tick resolution)
    per_cpu: dict          # cpu -> (monotonic ns when read, idle residency µs)
    wall_ns: int


class MachineCpu:
    """Whole-machine CPU between two snapshots: ``snapshot()`` then ``delta(a, b)``."""

    def __init__(self) -> None:
        self._idle = _idle_paths()
        self.source = "cpuidle" if self._idle else "proc/stat"

    def _read_idle(self) -> dict[int, tuple[int, int]]:
        out: dict[int, tuple[int, int]] = {}
        if not self._idle:
            return out
        try:
            home = os.sched_getaffinity(0)
        except OSError:
            return out
        try:
            for cpu, paths in self._idle.items():
                os.sched_setaffinity(0, {cpu})  # now running there: the CPU is not idle
                t = now_ns()
                total = 0
                for p in paths:
                    with open(p) as f:
                        total += int(f.read())
                out[cpu] = (t, total)
        except OSError:
            return {}
        finally:
            try:
                os.sched_setaffinity(0, home)
            except OSError:
                pass
        return out

    def snapshot(self) -> MachineSnapshot:
        return MachineSnapshot(_proc_stat_us(), self._read_idle(), now_ns())

    @staticmethod
    def delta(a: MachineSnapshot, b: MachineSnapshot) -> dict[str, float]:
        """µs of machine CPU between ``a`` and ``b``: ``busy`` (every CPU's time not idle,
        hypervisor steal included: a vCPU that wanted to run was not idle), and the
        /proc/stat split ``user`` (with nice), ``system``, ``irq`` (with softirq), ``steal``
        (tick resolution). ``busy`` comes from cpuidle residency when both snapshots have
        it, else from /proc/stat."""
        d = {k: b.stat_us.get(k, 0.0) - a.stat_us.get(k, 0.0) for k in _STAT_FIELDS} \
            if a.stat_us and b.stat_us else {}
        out = {"user": d.get("user", float("nan")) + d.get("nice", 0.0),
               "system": d.get("system", float("nan")),
               "irq": d.get("irq", float("nan")) + d.get("softirq", 0.0),
               "steal": d.get("steal", float("nan"))}
        if a.per_cpu and b.per_cpu and a.per_cpu.keys() == b.per_cpu.keys():
            out["busy"] = sum((b.per_cpu[c][0] - a.per_cpu[c][0]) / 1e3
                              - (b.per_cpu[c][1] - a.per_cpu[c][1]) for c in a.per_cpu)
        elif d:
            out["busy"] = out["user"] + out["system"] + out["irq"] + out["steal"]
        else:
            out["busy"] = float("nan")
        return out
