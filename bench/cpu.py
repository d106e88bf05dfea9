"""CPU and memory accounting of sensor process trees (psutil) and cgroups.

A sensor's cost is its whole process tree: an external tool may fork helpers. CPU is read
as user+system of the process and its live descendants, plus what reaped children left in
``children_user/system``; the cell's number is the difference of two snapshots.
"""

from __future__ import annotations

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_s(pid: int) -> float:
    """user + system seconds of ``pid`` and its descendants so far (0 if it is gone)."""
    total = 0.0
    for p in _tree(pid):
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


class CpuWindow:
    """CPU a process tree used between ``start()`` and ``stop()``, against wall time."""

    def __init__(self, pid: int, clock=None):
        import time

        self.pid = pid
        self._clock = clock or time.monotonic
        self.cpu_s = float("nan")
        self.wall_s = float("nan")

    def start(self) -> None:
        self._c0 = tree_cpu_s(self.pid)
        self._t0 = self._clock()

    def stop(self) -> None:
        self.cpu_s = max(0.0, tree_cpu_s(self.pid) - self._c0)
        self.wall_s = self._clock() - self._t0

    @property
    def pct_of_core(self) -> float:
        return 100 * self.cpu_s / self.wall_s if self.wall_s > 0 else float("nan")
